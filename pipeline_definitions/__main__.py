"""Print the pipeline definition for the default settings: `python -m pipeline_definitions [--flavour F]`."""

import argparse
import json

from pipeline_definitions.sdk_setup import prepare_sdk
from scoreline.pipeline_spec import PipelineSpec, pipeline_spec
from scoreline.settings import TRAINING_INSTANCE_LIMITS, Settings

DEFAULT_SPEC = pipeline_spec(Settings())  # the defaults (cdk.json holds the same values, a test checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flavour", choices=sorted(TRAINING_INSTANCE_LIMITS), default="sklearn")
    args = parser.parse_args()
    spec = PipelineSpec(**{**DEFAULT_SPEC.__dict__, "flavour": args.flavour})
    prepare_sdk()  # before the SDK is imported: it creates AWS clients at import time
    from pipeline_definitions.training_pipeline import build_definition

    print(json.dumps(json.loads(build_definition(spec)), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
