"""Jobs on instance types with NVMe instance storage get no VolumeKmsKeyId (AWS refuses it), and an execution may
not override an instance type with one of the other storage kind (the key is fixed when the definition is built)."""

from __future__ import annotations

import functools
import json

import pytest

from pipeline_definitions.__main__ import DEFAULT_SPEC
from scoreline.instance_types import has_instance_storage
from scoreline.pipeline_spec import PipelineSpec
from tests.pipeline_definitions.definitions import nested_steps, steps_by_name

INSTANCE_STORE_TYPES = {"processing_instance_type": "ml.m5d.xlarge", "training_instance_type": "ml.g5.xlarge"}


@functools.cache
def instance_store_steps() -> dict[str, dict]:
    from pipeline_definitions.training_pipeline import build_definition

    definition = json.loads(build_definition(PipelineSpec(**{**DEFAULT_SPEC.__dict__, **INSTANCE_STORE_TYPES})))
    return nested_steps(definition)


def _volume_keys(steps: dict[str, dict]) -> dict[str, str | None]:
    return {
        "Preprocess": steps["Preprocess"]["Arguments"]["ProcessingResources"]["ClusterConfig"].get("VolumeKmsKeyId"),
        "Evaluate": steps["Evaluate"]["Arguments"]["ProcessingResources"]["ClusterConfig"].get("VolumeKmsKeyId"),
        "Train": steps["Train"]["Arguments"]["ResourceConfig"].get("VolumeKmsKeyId"),
    }


def test_instance_store_types_get_no_volume_key_but_outputs_stay_encrypted():
    steps = instance_store_steps()
    assert _volume_keys(steps) == {"Preprocess": None, "Evaluate": None, "Train": None}
    for name in ("Preprocess", "Evaluate"):
        assert steps[name]["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"].startswith("arn:aws:kms:")
    assert steps["Train"]["Arguments"]["OutputDataConfig"]["KmsKeyId"].startswith("arn:aws:kms:")


def test_ebs_types_keep_the_volume_key():
    assert all(key and key.startswith("arn:aws:kms:") for key in _volume_keys(steps_by_name("sklearn")).values())


def _refused_types(steps: dict[str, dict]) -> dict[str, list[str]]:
    [either] = steps["CheckInstanceTypes"]["Arguments"]["Conditions"]
    assert either["Type"] == "Or"
    return {condition["QueryValue"]["Get"]: condition["Values"] for condition in either["Conditions"]}


@pytest.mark.parametrize(
    "steps", [lambda: steps_by_name("pytorch"), instance_store_steps], ids=["ebs", "instance-store"]
)
def test_overrides_of_the_other_storage_kind_are_refused_before_any_job(steps):
    steps = steps()
    check = steps["CheckInstanceTypes"]["Arguments"]
    assert [step["Name"] for step in check["IfSteps"]] == ["InstanceTypeRefused"]
    assert [step["Name"] for step in check["ElseSteps"]] == [
        "TrainingData",
        "Preprocess",
        "Train",
        "Evaluate",
        "CheckQuality",
    ]
    defaults = {
        "Parameters.ProcessingInstanceType": steps["Preprocess"]["Arguments"]["ProcessingResources"]["ClusterConfig"],
        "Parameters.TrainingInstanceType": steps["Train"]["Arguments"]["ResourceConfig"],
    }
    for parameter, refused in _refused_types(steps).items():
        default_has_storage = defaults[parameter].get("VolumeKmsKeyId") is None
        assert refused and all(has_instance_storage(kind) != default_has_storage for kind in refused)
    assert "ml.g5.xlarge" in _refused_types(steps_by_name("pytorch"))["Parameters.TrainingInstanceType"]


def test_refusal_names_the_parameters_and_what_to_do():
    message = steps_by_name("sklearn")["InstanceTypeRefused"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert {"Get": "Parameters.ProcessingInstanceType"} in message
    assert {"Get": "Parameters.TrainingInstanceType"} in message
    text = " ".join(part for part in message if isinstance(part, str))
    assert "without NVMe instance storage, like its default ml.m5.xlarge" in text
    assert "redeploy" in text
