"""Framework image URIs for every region the SDK's bundled image list knows (read offline from the SDK).

Each image is looked up with the scope it is used for (processing and training jobs: "training"; serving
containers: "inference"), so a version the SDK lists for one scope only fails here, at synth, not on AWS.
"""

from __future__ import annotations

from sagemaker.core import image_uris

from scoreline.instance_types import is_gpu

SKLEARN_PY_VERSION = "py3"


class ImageScopeError(RuntimeError):
    """An image version that cannot serve every use the pipeline makes of it."""


def _sklearn(region: str, version: str, scope: str) -> str:
    return image_uris.retrieve(
        "sklearn",
        region,
        version=version,
        py_version=SKLEARN_PY_VERSION,
        instance_type="ml.m5.xlarge",
        image_scope=scope,
    )


def _sklearn_image(region: str, version: str) -> str:
    """One scikit-learn image serves Preprocess (a processing job) and the features container (serving): the
    version must give the same URI for both scopes."""
    training, inference = _sklearn(region, version, "training"), _sklearn(region, version, "inference")
    if training != inference:
        raise ImageScopeError(
            f"scikit-learn image {version} differs between training ({training}) and inference ({inference}) in "
            f"{region}; choose a version whose image serves both (SKLEARN_IMAGE_VERSION in scoreline/settings.py)."
        )
    return training


def _images(region: str, flavour: str, versions: dict, training_type: str, transform_type: str) -> dict:
    """The image of each use: Preprocess and the features container run on scikit-learn; Train and Evaluate on the
    flavour's training image (Evaluate loads the trained model with the flavour's library); the model container on
    the flavour's inference image."""
    sklearn = _sklearn_image(region, versions["sklearn"])
    training, inference = _flavour_images(region, flavour, versions, training_type, transform_type, sklearn)
    return {
        "preprocess_image": sklearn,
        "features_image": sklearn,
        "training_image": training,
        "evaluation_image": training,
        "inference_image": inference,
    }


def _flavour_images(region, flavour, versions, training_type, transform_type, sklearn) -> tuple[str, str]:
    """(training image, inference image) of the model flavour."""
    if flavour == "sklearn":
        return sklearn, sklearn
    if flavour == "xgboost":
        # One image per version for CPU and GPU types, looked up per scope like the others.
        return tuple(
            image_uris.retrieve("xgboost", region, version=versions["xgboost"], py_version="py3", image_scope=scope)
            for scope in ("training", "inference")
        )

    def pytorch(scope: str, instance_type: str) -> str:
        return image_uris.retrieve(
            "pytorch",
            region,
            version=versions["pytorch"],
            py_version=versions["pytorch_python"],
            instance_type="ml.g5.xlarge" if is_gpu(instance_type) else "ml.m5.xlarge",
            image_scope=scope,
        )

    return pytorch("training", training_type), pytorch("inference", transform_type)


def images_by_region(flavour: str, versions: dict, training_type: str, transform_type: str) -> dict:
    """{region: {"<use>_image": URI}} (see `_images`) for regions that publish every image."""
    regions = image_uris.config_for_framework("sklearn")["training"]["versions"][versions["sklearn"]]["registries"]
    table = {}
    for region in sorted(regions):
        try:
            table[region] = _images(region, flavour, versions, training_type, transform_type)
        except ValueError:
            continue  # this framework version is not published in that region
    return table
