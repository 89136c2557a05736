"""Tuning on (README, "Tuning"): a Tune step built by the SDK's HyperparameterTuner replaces Train. Its trials are
scored by the cross-validated objective every training script logs, the flavour's ranges leave out what the user
fixed, the trials' volumes keep the data key, and Evaluate and Register take the best trial's artifact from the
tuning job's own output path. Tuning off leaves the definition without a Tune step."""

from __future__ import annotations

import functools
import json
import re

import pytest

from pipeline_definitions.__main__ import DEFAULT_SPEC
from scoreline.pipeline_spec import PipelineSpec
from scoreline.tuning import OBJECTIVE_METRIC, SEARCH_SPACES
from tests.pipeline_definitions.definitions import nested_steps, steps_by_name
from tests.pipeline_definitions.test_request_shapes import _validation_errors

BEST_TRIAL = {
    "Std:Join": {
        "On": "/",
        "Values": [
            {"Get": "Steps.Tune.TrainingJobDefinition.OutputDataConfig.S3OutputPath"},
            {"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"},
            "output/model.tar.gz",
        ],
    }
}


def _steps(**changes) -> dict:
    return _built(tuple(sorted(changes.items())))


@functools.cache
def _built(changes: tuple) -> dict:
    from pipeline_definitions.training_pipeline import build_definition

    spec = PipelineSpec(
        **{**DEFAULT_SPEC.__dict__, "tuning_max_jobs": 6, "tuning_max_parallel_jobs": 3, **dict(changes)}
    )
    return nested_steps(json.loads(build_definition(spec)))


@pytest.mark.parametrize("flavour", ["sklearn", "pytorch", "xgboost"])
def test_the_tune_step_searches_the_flavours_ranges_by_the_cross_validated_objective(flavour):
    steps = _steps(flavour=flavour)
    assert "Train" not in steps and steps["Tune"]["Type"] == "Tuning"
    arguments = steps["Tune"]["Arguments"]
    config = arguments["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Random"
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 3}
    assert config["HyperParameterTuningJobObjective"] == {"MetricName": OBJECTIVE_METRIC, "Type": "Minimize"}
    searched = sorted(item["Name"] for ranges in config["ParameterRanges"].values() for item in ranges)
    assert searched == sorted(parameter["Name"] for _, parameter in SEARCH_SPACES[flavour])
    definition = arguments["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"]["objective-folds"] == "3"
    # The objective's regex reads what the training scripts print (container_code/common/model_io.py).
    regex = next(
        m["Regex"] for m in definition["AlgorithmSpecification"]["MetricDefinitions"] if m["Name"] == OBJECTIVE_METRIC
    )
    assert re.findall(regex, "objective-loss=0.437215;\n") == ["0.437215"]
    assert steps["Tune"]["CacheConfig"]["Enabled"] is True
    assert (
        _validation_errors({**arguments, "HyperParameterTuningJobName": "job"}, "CreateHyperParameterTuningJob") == ""
    )


def test_evaluate_and_register_take_the_best_trials_artifact():
    steps = _steps()
    evaluate_inputs = {
        i["InputName"]: i["S3Input"]["S3Uri"] for i in steps["Evaluate"]["Arguments"]["ProcessingInputs"]
    }
    assert evaluate_inputs["model"] == BEST_TRIAL
    model = steps["Register"]["Arguments"]["InferenceSpecification"]["Containers"][1]
    assert model["ModelDataUrl"] == BEST_TRIAL


def test_a_hyperparameter_the_user_fixed_is_static_not_searched():
    steps = _steps(hyperparameters=(("learning-rate", "0.05"),))
    config = steps["Tune"]["Arguments"]["HyperParameterTuningJobConfig"]
    searched = [item["Name"] for ranges in config["ParameterRanges"].values() for item in ranges]
    assert "learning-rate" not in searched and "max-leaf-nodes" in searched
    assert steps["Tune"]["Arguments"]["TrainingJobDefinition"]["StaticHyperParameters"]["learning-rate"] == "0.05"


def test_trial_volumes_keep_the_data_key_except_on_instance_storage():
    """The SDK's tuner drops the trainer's VolumeKmsKeyId; the build puts it back, and leaves it out for types with
    NVMe instance storage, which AWS refuses a volume key for."""
    resources = _steps()["Tune"]["Arguments"]["TrainingJobDefinition"]["ResourceConfig"]
    assert resources["VolumeKmsKeyId"].startswith("arn:aws:kms:")
    local_storage = _steps(training_instance_type="ml.m5d.xlarge")["Tune"]["Arguments"]["TrainingJobDefinition"]
    assert "VolumeKmsKeyId" not in local_storage["ResourceConfig"]


def test_tuning_off_trains_once():
    steps = steps_by_name("sklearn")
    assert "Tune" not in steps and steps["Train"]["Type"] == "Training"
    assert "objective-folds" not in steps["Train"]["Arguments"]["HyperParameters"]
