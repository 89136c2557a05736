"""The SageMaker Python SDK as the offline build uses it: AWS settings that keep it from probing for credentials or
looking up roles, and two speed patches. Applied by `prepare_sdk`, which the build calls before it imports the SDK
(`build.build_artifacts`, `training_pipeline.build_definition`), never at import: importing the builders changes
neither os.environ nor the SDK."""

from __future__ import annotations

import functools
import json
import os

_prepared = False


def prepare_sdk() -> None:
    """Set the build's AWS settings and patch the SDK, once per process."""
    global _prepared
    if _prepared:
        return
    # The SDK creates AWS clients at import time and probes the instance-metadata endpoint without these.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    # The job role is a placeholder until deploy time: the SDK must not look it up in IAM.
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    _validate_each_config_once()
    _resolve_endpoints_once()
    _prepared = True


def _validate_each_config_once() -> None:
    """The SDK re-validates the same config against its JSON schema on every lookup (about 50 times per build,
    0.2 s each, recompiling the schema). Validating each distinct config once keeps the check, not the cost."""
    from sagemaker.core.config.config_manager import SageMakerConfig

    validate = SageMakerConfig.validate_sagemaker_config
    validated = set()

    def validate_once(sagemaker_config=None):
        key = json.dumps(sagemaker_config, sort_keys=True, default=str)
        if key not in validated:
            validate(sagemaker_config)
            validated.add(key)

    SageMakerConfig.validate_sagemaker_config = staticmethod(validate_once)


def _resolve_endpoints_once() -> None:
    """The SDK parses botocore's endpoint list anew for every image lookup (40 ms each, ~100 lookups per build);
    the list does not change within a process, so one resolver serves every region."""
    from sagemaker.core import common_utils

    common_utils._botocore_resolver = functools.cache(common_utils._botocore_resolver)
