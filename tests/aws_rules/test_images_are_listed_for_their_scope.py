"""Rule: use a framework image only for what its version is published for. The pinned SDK's image list
(sagemaker.core.image_uris) has a "training" scope (training and processing jobs) and an "inference" scope (serving
containers); e.g. scikit-learn 1.4-2 is listed for training only. Every image URI in the template's FrameworkImages
mapping, in every region, is listed for each scope in which the pipeline uses it."""

from __future__ import annotations

import re

from sagemaker.core import image_uris

from tests.aws_rules.pipeline_definition import definition_and_variables
from tests.pipeline_definitions.definitions import nested_steps

_URI = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.[^/]+/([^:]+):(.+)$")  # any partition's ECR domain
_FRAMEWORKS = {
    "sagemaker-scikit-learn": "sklearn",
    "pytorch-training": "pytorch",
    "pytorch-inference": "pytorch",
    "sagemaker-xgboost": "xgboost",
}


def _listed(uri: str, scope: str) -> bool:
    account, region, repository, tag = _URI.match(uri).groups()
    config = image_uris.config_for_framework(_FRAMEWORKS[repository])[scope]
    return any(
        (tag == version or tag.startswith(f"{version}-"))  # XGBoost tags are the bare version (3.0-5)
        and entry.get("repository", repository) == repository
        and entry.get("registries", {}).get(region) == account
        for version, entry in config["versions"].items()
    )


def _scopes_by_image(definition: dict) -> dict[str, set[str]]:
    """{mapping key (e.g. SklearnImage): the scopes it is used in}, read from where each step uses an image."""
    uses = {}
    for step in nested_steps(definition).values():
        arguments = step["Arguments"]
        if step["Type"] == "Processing":
            uses.setdefault(arguments["AppSpecification"]["ImageUri"], set()).add("training")
        elif step["Type"] == "Training":
            uses.setdefault(arguments["AlgorithmSpecification"]["TrainingImage"], set()).add("training")
        elif step["Type"] == "RegisterModel":
            for container in arguments["InferenceSpecification"]["Containers"]:
                uses.setdefault(container["Image"], set()).add("inference")
    return uses


def test_every_image_is_listed_for_every_scope_it_is_used_in(app_templates):
    definition, variables = definition_and_variables(app_templates)
    mapping = app_templates["ScorelineTraining"]["Mappings"]["FrameworkImages"]
    uses = _scopes_by_image(definition)
    assert len(uses) >= 2
    for placeholder, scopes in uses.items():
        key = variables[placeholder.strip("<>")]["Fn::FindInMap"][2]
        for region, images in mapping.items():
            for scope in scopes:
                assert _listed(images[key], scope), f"{images[key]} ({region}) is not listed for {scope}"


def test_the_check_tells_scopes_apart():
    """scikit-learn 1.4-2 (Python 3.10) is listed for training only: it would fail here as a serving image."""
    old = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
    assert _listed(old, "training") and not _listed(old, "inference")
