"""Which local Python stands in for a SageMaker framework image."""

from __future__ import annotations

import re
import sys

# Image repository name -> framework this machine's Python provides.
_FRAMEWORKS = {
    r"/sagemaker-scikit-learn:": "scikit-learn",
    r"/pytorch-(training|inference):": "PyTorch",
}


class UnmappedImageError(RuntimeError):
    pass


def python_for(image_uri: str) -> str:
    """The interpreter that runs this image's code locally, or an error saying the image is not mapped."""
    for pattern in _FRAMEWORKS:
        if re.search(pattern, image_uri):
            return sys.executable
    raise UnmappedImageError(
        f"image {image_uri} cannot be mapped to a local framework: local mode runs scikit-learn and PyTorch "
        "framework images with this machine's Python"
    )
