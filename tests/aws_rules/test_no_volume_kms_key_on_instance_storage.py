"""Rule: "Certain Nitro-based instances include local storage ... You can't request a VolumeKmsKeyId when using an
instance type with local storage" (SageMaker API reference: ProcessingClusterConfig, ResourceConfig). Definition
side: processing and training jobs carry the data key only on EBS-only default types, and an execution cannot
override a type with one of the other storage kind (it fails in CheckInstanceTypes before any job)."""

from __future__ import annotations

import pytest

from scoreline.instance_types import has_instance_storage
from tests.aws_rules.pipeline_definition import definition_and_variables
from tests.pipeline_definitions.definitions import nested_steps


def _jobs(definition: dict) -> list[tuple[str, dict, dict]]:
    """(step name, the request part holding InstanceType and VolumeKmsKeyId, the parameter) per job step."""
    found = nested_steps(definition)
    return [
        (name, found[name]["Arguments"]["ProcessingResources"]["ClusterConfig"], "ProcessingInstanceType")
        for name in ("Preprocess", "Evaluate")
    ] + [("Train", found["Train"]["Arguments"]["ResourceConfig"], "TrainingInstanceType")]


@pytest.mark.parametrize("app", ["sklearn_app", "pytorch_app", "instance_store_app"])
def test_volume_key_only_on_types_without_instance_storage(request, app):
    definition, _ = definition_and_variables(request.getfixturevalue(app))
    defaults = {parameter["Name"]: parameter.get("DefaultValue") for parameter in definition["Parameters"]}
    for name, resources, parameter in _jobs(definition):
        assert resources["InstanceType"] == {"Get": f"Parameters.{parameter}"}, name
        if has_instance_storage(defaults[parameter]):
            assert "VolumeKmsKeyId" not in resources, f"{name} on {defaults[parameter]}"
        else:
            assert resources["VolumeKmsKeyId"] == "<KmsKeyArn>", f"{name} on {defaults[parameter]}"


def test_instance_store_app_really_uses_instance_store_types(instance_store_app):
    definition, _ = definition_and_variables(instance_store_app)
    defaults = {parameter["Name"]: parameter.get("DefaultValue") for parameter in definition["Parameters"]}
    assert has_instance_storage(defaults["ProcessingInstanceType"])
    assert has_instance_storage(defaults["TrainingInstanceType"])


@pytest.mark.parametrize("app", ["sklearn_app", "instance_store_app"])
def test_overrides_of_the_other_storage_kind_fail_before_any_job(request, app):
    definition, _ = definition_and_variables(request.getfixturevalue(app))
    [check] = definition["Steps"]
    assert check["Name"] == "CheckInstanceTypes"
    assert [step["Name"] for step in check["Arguments"]["IfSteps"]] == ["InstanceTypeRefused"]
    defaults = {parameter["Name"]: parameter.get("DefaultValue") for parameter in definition["Parameters"]}
    [either] = check["Arguments"]["Conditions"]
    for condition in either["Conditions"]:
        parameter = condition["QueryValue"]["Get"].removeprefix("Parameters.")
        assert all(
            has_instance_storage(kind) != has_instance_storage(defaults[parameter]) for kind in condition["Values"]
        )
