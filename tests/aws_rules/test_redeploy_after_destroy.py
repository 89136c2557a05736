"""CloudFormation keeps a resource with DeletionPolicy Retain when its stack is deleted; a resource with a fixed
physical name then blocks the next creation of the stack ("already exists"). The data key, its alias and the
buckets have generated or deleted names; only the retained model package group keeps its fixed name, and the
`use_existing_model_package_group` setting makes the next deploy use it instead of creating it."""

import pytest

from tests.aws_rules.template_iam import definition
from tests.pipeline_definitions.definitions import nested_steps
from tests.synth_helpers import resources, synth


def _retained_fixed_names(templates: dict[str, dict]) -> list[tuple[str, str, str]]:
    """(stack, resource type, name) of every retained resource whose physical name is a literal in the template."""
    found = []
    for stack, template in templates.items():
        for resource in template["Resources"].values():
            if resource.get("DeletionPolicy") not in ("Retain", "RetainExceptOnCreate"):
                continue
            for key, value in resource.get("Properties", {}).items():
                if key.endswith("Name") and isinstance(value, str):
                    found.append((stack, resource["Type"], value))
    return found


@pytest.fixture(scope="module")
def redeploy_app(tmp_path_factory) -> dict[str, dict]:
    """The app as `cdk deploy -c use_existing_model_package_group=true` synthesizes it (the CLI passes a string)."""
    return synth(tmp_path_factory.mktemp("redeploy-app"), use_existing_model_package_group="true")


def test_only_the_model_package_group_outlives_destroy_with_its_name(app_templates):
    assert _retained_fixed_names(app_templates) == [
        ("ScorelineStorage", "AWS::SageMaker::ModelPackageGroup", "scoreline-models")
    ]


def test_a_redeploy_creates_no_retained_resource_with_a_fixed_name(redeploy_app):
    assert _retained_fixed_names(redeploy_app) == []
    assert resources(redeploy_app["ScorelineStorage"], "AWS::SageMaker::ModelPackageGroup") == {}


def test_a_redeploy_registers_and_scores_with_the_existing_group(redeploy_app):
    body, _ = definition(redeploy_app["ScorelineTraining"])
    (register,) = [step for step in nested_steps(body).values() if step["Type"] == "RegisterModel"]
    assert register["Arguments"]["ModelPackageGroupName"] == "scoreline-models"
    assert redeploy_app["ScorelineStorage"]["Outputs"]["ModelPackageGroupName"]["Value"] == "scoreline-models"
    scoring = redeploy_app["ScorelineScoring"]
    function = next(iter(resources(scoring, "AWS::Lambda::Function").values()))
    assert function["Properties"]["Environment"]["Variables"]["MODEL_PACKAGE_GROUP_NAME"] == "scoreline-models"
