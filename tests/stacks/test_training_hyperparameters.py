"""The training_hyperparameters setting: name=value pairs that reach the Train step as SageMaker hyperparameters."""

import json

import pytest

from pipeline_definitions.build import pipeline_artifacts
from scoreline.settings import SettingsError, load_settings
from stacks.training_stack import pipeline_spec
from tests.pipeline_definitions.definitions import nested_steps as all_steps


def test_command_line_pairs_and_cdk_json_objects_give_the_same_setting():
    from_command_line = load_settings({"training_hyperparameters": "epochs=20, patience=5"})
    from_cdk_json = load_settings({"training_hyperparameters": {"epochs": 20, "patience": "5"}})
    assert from_command_line.training_hyperparameters == {"epochs": "20", "patience": "5"}
    assert from_cdk_json == from_command_line


@pytest.mark.parametrize(
    ("value", "sentence"),
    [
        ("epochs", "must be name=value pairs separated by commas, such as epochs=20,patience=5"),
        ("sagemaker_program=evil.py", "may not set sagemaker_program: the sagemaker_ prefix is SageMaker's own"),
        ({"2fast": 1}, "must have names of letters, digits, _ or -, starting with a letter"),
    ],
)
def test_bad_hyperparameters_are_one_sentence(value, sentence):
    with pytest.raises(SettingsError) as error:
        load_settings({"training_hyperparameters": value})
    assert str(error.value).startswith(f"Setting 'training_hyperparameters' {sentence} (got ")


def test_hyperparameters_reach_the_train_step_beside_the_sagemaker_ones():
    spec = pipeline_spec(load_settings({"training_hyperparameters": "max-iter=300,learning-rate=0.05"}))
    steps = all_steps(json.loads(pipeline_artifacts(spec)["definition"]))
    hyperparameters = steps["Train"]["Arguments"]["HyperParameters"]
    assert hyperparameters["max-iter"] == "300"
    assert hyperparameters["learning-rate"] == "0.05"
    assert hyperparameters["sagemaker_program"] == "train.py"
