"""Which local interpreter runs an image's code: the framework images map to this machine's Python, a custom image
only when SCORELINE_LOCAL_IMAGES maps it; anything else fails with one sentence."""

from __future__ import annotations

import sys

import pytest

from local_mode.sagemaker.images import LOCAL_IMAGES_VARIABLE, UnmappedImageError, python_for, toolkit_failure

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
CUSTOM = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/train:1.0"


def test_the_xgboost_image_runs_on_this_python():
    assert python_for(XGBOOST) == sys.executable


def test_a_custom_image_fails_in_one_sentence_naming_the_mapping(monkeypatch):
    monkeypatch.delenv(LOCAL_IMAGES_VARIABLE, raising=False)
    with pytest.raises(UnmappedImageError) as error:
        python_for(CUSTOM)
    assert str(error.value) == (
        f"image {CUSTOM} cannot be mapped to a local framework: local mode runs the scikit-learn, PyTorch and "
        f"XGBoost framework images with this machine's Python, and a custom image only when "
        f"{LOCAL_IMAGES_VARIABLE} maps it (<image URI>=<python executable>)"
    )


def test_a_mapped_custom_image_runs_on_its_interpreter(monkeypatch):
    monkeypatch.setenv(LOCAL_IMAGES_VARIABLE, f"{XGBOOST}=/opt/other/python, {CUSTOM}=/opt/team/bin/python")
    assert python_for(CUSTOM) == "/opt/team/bin/python"
    assert python_for(XGBOOST) == "/opt/other/python"


def test_the_xgboost_toolkit_replaces_the_scripts_failure_file():
    """sagemaker-containers' trainer writes str(ExecuteUserScriptError) after a failed script; the others keep the
    script's file."""
    assert toolkit_failure(XGBOOST, ["train.py", "--eta", "-1"]) == (
        'ExecuteUserScriptError:\nCommand "/miniconda3/bin/python3 -m train --eta -1"'
    )
    sklearn = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-py312-cpu-py3"
    assert toolkit_failure(sklearn, ["train.py"]) is None
