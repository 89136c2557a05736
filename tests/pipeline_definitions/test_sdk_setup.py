"""Importing the pipeline's builders changes nothing in the importing process: the build applies the SDK's offline
settings and speed patches itself (pipeline_definitions/sdk_setup.py), so CDK's process, the tests and local mode
keep their own environment and an unpatched SDK until a definition is built."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

# Runs in a fresh interpreter: this process may have built a definition already.
IMPORT_THEN_PREPARE = """
import json, os
before = dict(os.environ)
from sagemaker.core import common_utils
from sagemaker.core.config.config_manager import SageMakerConfig
originals = (common_utils._botocore_resolver, SageMakerConfig.validate_sagemaker_config)

def sdk_as_imported():
    return (common_utils._botocore_resolver, SageMakerConfig.validate_sagemaker_config) == originals

import pipeline_definitions.__main__, pipeline_definitions.build, pipeline_definitions.images
import pipeline_definitions.training_pipeline
after_import = {"environ_unchanged": dict(os.environ) == before, "sdk_unpatched": sdk_as_imported()}
from pipeline_definitions.sdk_setup import prepare_sdk
prepare_sdk()
after_prepare = {"role_lookup": os.environ.get("SAGEMAKER_VALIDATE_ROLE"), "sdk_unpatched": sdk_as_imported()}
print(json.dumps([after_import, after_prepare]))
"""


def test_importing_the_builders_leaves_os_environ_and_the_sdk_as_they_were():
    environment = {key: value for key, value in os.environ.items() if key != "SAGEMAKER_VALIDATE_ROLE"}
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_THEN_PREPARE],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    after_import, after_prepare = json.loads(result.stdout)
    assert after_import == {"environ_unchanged": True, "sdk_unpatched": True}
    assert after_prepare == {"role_lookup": "false", "sdk_unpatched": False}  # the build's own call applies them
