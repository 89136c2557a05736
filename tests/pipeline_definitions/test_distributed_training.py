"""PyTorch on several training instances: the Train step carries the torch_distributed distribution (the PyTorch
image's toolkit then runs torchrun on every instance); XGBoost's needs none (the image runs the script on every
instance, which joins them itself); on one instance the definition is the snapshot's."""

from __future__ import annotations

import json

from pipeline_definitions.__main__ import DEFAULT_SPEC
from scoreline.pipeline_spec import PipelineSpec
from tests.pipeline_definitions.definitions import nested_steps, steps_by_name

DISTRIBUTION = "sagemaker_torch_distributed_enabled"


def _train_step(**changes) -> dict:
    from pipeline_definitions.training_pipeline import build_definition

    definition = json.loads(build_definition(PipelineSpec(**{**DEFAULT_SPEC.__dict__, **changes})))
    return nested_steps(definition)["Train"]["Arguments"]


def test_pytorch_on_two_instances_trains_with_torchrun():
    train = _train_step(flavour="pytorch", training_instance_count=2)
    assert train["ResourceConfig"]["InstanceCount"] == 2
    assert train["HyperParameters"][DISTRIBUTION] == "true"
    # Still the framework image's own entry point running the model code asset.
    assert train["HyperParameters"]["sagemaker_program"] == "train.py"
    assert "ContainerEntrypoint" not in train["AlgorithmSpecification"]


def test_xgboost_on_two_instances_runs_its_own_script_on_each():
    train = _train_step(flavour="xgboost", training_instance_count=2)
    assert train["ResourceConfig"]["InstanceCount"] == 2
    assert DISTRIBUTION not in train["HyperParameters"]
    assert train["HyperParameters"]["sagemaker_program"] == "train.py"
    channels = train["InputDataConfig"]
    assert {channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] for channel in channels} == {
        "FullyReplicated"  # every instance reads every row and takes its share
    }


def test_one_instance_has_no_distribution():
    for flavour in ("sklearn", "pytorch", "xgboost"):
        assert DISTRIBUTION not in steps_by_name(flavour)["Train"]["Arguments"]["HyperParameters"]
