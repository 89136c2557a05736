"""Print the pipeline definition for the default settings: `python -m pipeline_definitions [--flavour F]`."""

import argparse
import json

from pipeline_definitions.spec import PipelineSpec
from pipeline_definitions.training_pipeline import build_definition
from stacks.settings import (
    PYTORCH_IMAGE_VERSION,
    PYTORCH_PYTHON_VERSION,
    SKLEARN_IMAGE_VERSION,
    TRAINING_INSTANCE_LIMITS,
    XGBOOST_IMAGE_VERSION,
)

DEFAULT_SPEC = PipelineSpec(
    pipeline_name="scoreline-training",
    model_package_group_name="scoreline-models",
    flavour="sklearn",
    target_column="MedHouseVal",
    categorical_columns=(),
    rmse_threshold=0.0,
    processing_instance_type="ml.m5.xlarge",
    processing_instance_count=1,
    training_instance_type="ml.m5.xlarge",
    training_instance_count=1,
    transform_instance_type="ml.m5.xlarge",
    image_versions=(
        ("sklearn", SKLEARN_IMAGE_VERSION),
        ("pytorch", PYTORCH_IMAGE_VERSION),
        ("pytorch_python", PYTORCH_PYTHON_VERSION),
        ("xgboost", XGBOOST_IMAGE_VERSION),
    ),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flavour", choices=sorted(TRAINING_INSTANCE_LIMITS), default="sklearn")
    args = parser.parse_args()
    spec = PipelineSpec(**{**DEFAULT_SPEC.__dict__, "flavour": args.flavour})
    print(json.dumps(json.loads(build_definition(spec)), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
