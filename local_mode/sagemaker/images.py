"""Which local Python stands in for a SageMaker framework image, or for a custom image the user mapped."""

from __future__ import annotations

import os
import re
import sys

# Image repository name -> framework this machine's Python provides.
_FRAMEWORKS = {
    r"/sagemaker-scikit-learn:": "scikit-learn",
    r"/pytorch-(training|inference):": "PyTorch",
    r"/sagemaker-xgboost:": "XGBoost",
}
# Custom images (settings *_image) run locally only when mapped to an interpreter that provides what they would:
# SCORELINE_LOCAL_IMAGES="<image URI>=<python executable>,<image URI>=<python executable>".
LOCAL_IMAGES_VARIABLE = "SCORELINE_LOCAL_IMAGES"
# Images whose script-mode training toolkit is sagemaker-containers 2.8.6.post2 (the XGBoost image's, per its
# requirements.txt): after a script exits non-zero, its trainer writes `ExecuteUserScriptError:\nCommand "..."`
# to /opt/ml/output/failure over whatever the script wrote (sagemaker_containers/_trainer.py, _errors.py).
_FAILURE_FILE_REPLACED = (r"/sagemaker-xgboost:",)


class UnmappedImageError(RuntimeError):
    pass


def python_for(image_uri: str) -> str:
    """The interpreter that runs this image's code locally, or an error saying the image is not mapped."""
    mapped = _mapped_images().get(image_uri)
    if mapped:
        return mapped
    for pattern in _FRAMEWORKS:
        if re.search(pattern, image_uri):
            return sys.executable
    raise UnmappedImageError(
        f"image {image_uri} cannot be mapped to a local framework: local mode runs the scikit-learn, PyTorch and "
        f"XGBoost framework images with this machine's Python, and a custom image only when "
        f"{LOCAL_IMAGES_VARIABLE} maps it (<image URI>=<python executable>)"
    )


def _mapped_images() -> dict[str, str]:
    setting = os.environ.get(LOCAL_IMAGES_VARIABLE, "")  # the user's setting, read only
    pairs = [item.rpartition("=") for item in setting.split(",") if item.strip()]
    return {image.strip(): python.strip() for image, separator, python in pairs if separator}


def toolkit_failure(image_uri: str, command: list[str]) -> str | None:
    """What the image's training toolkit writes as the failure reason of a script that exited non-zero, replacing
    the script's own failure file; None for images whose toolkit keeps the script's file."""
    if not any(re.search(pattern, image_uri) for pattern in _FAILURE_FILE_REPLACED):
        return None
    program, *arguments = command
    invocation = " ".join(["/miniconda3/bin/python3", "-m", program.removesuffix(".py"), *arguments])
    return f'ExecuteUserScriptError:\nCommand "{invocation}"'
