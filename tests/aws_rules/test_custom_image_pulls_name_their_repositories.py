"""Rule: SageMaker pulls a job's or a model's image with the role it runs with (CreateTrainingJob RoleArn: SageMaker
needs permission to "download a Docker image that contains training code"), and a serving image must be in the
model's region (ContainerDefinition.Image: "the Docker image for inference container in Amazon EC2 Container
Registry must be in the same region as the model"). A custom image (settings *_image) replaces exactly the image of
its use, and the job role may pull exactly its repository, by ARN, besides the framework images still in use."""

from __future__ import annotations

import json

import pytest

from tests.aws_rules.pipeline_definition import definition_and_variables
from tests.aws_rules.template_iam import actions, role_id, role_statements
from tests.pipeline_definitions.definitions import nested_steps
from tests.synth_helpers import synth

PULLS = {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"}
TRAIN = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/xgb-train:2.1"
SERVE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/xgb-serve@sha256:" + "0" * 64
ALL_FIVE = {
    "preprocess_image": "210987654321.dkr.ecr.eu-west-1.amazonaws.com/features:1",
    "features_serving_image": "210987654321.dkr.ecr.eu-west-1.amazonaws.com/features:1",
    "training_image": TRAIN,
    "evaluation_image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/evaluate:3",
    "model_serving_image": SERVE,
}


@pytest.fixture(scope="module")
def two_custom(tmp_path_factory) -> dict[str, dict]:
    return synth(
        tmp_path_factory.mktemp("custom-images"),
        model_flavour="xgboost",
        training_image=TRAIN,
        model_serving_image=SERVE,
    )


@pytest.fixture(scope="module")
def all_custom(tmp_path_factory) -> dict[str, dict]:
    return synth(tmp_path_factory.mktemp("all-custom-images"), **ALL_FIVE)


def _pulls(templates: dict) -> dict[str, dict]:
    training = templates["ScorelineTraining"]
    statements = role_statements(training, role_id(training, "JobRole"))
    return {s["Sid"]: s for s in statements if PULLS & set(actions(s))}


def _repository_arn(region_account_repository: str) -> dict:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":ecr:{region_account_repository}"]]}


def test_each_custom_image_replaces_only_its_use(two_custom):
    definition, variables = definition_and_variables(two_custom)
    steps = nested_steps(definition)
    assert steps["Train"]["Arguments"]["AlgorithmSpecification"]["TrainingImage"] == "<TrainingImage>"
    assert variables["TrainingImage"] == TRAIN
    assert variables["InferenceImage"] == SERVE
    for use in ("PreprocessImage", "FeaturesImage", "EvaluationImage"):  # still the framework images
        assert variables[use]["Fn::FindInMap"][0] == "FrameworkImages"
    mapping = two_custom["ScorelineTraining"]["Mappings"]["FrameworkImages"]["eu-west-1"]
    assert set(mapping) == {"PreprocessImage", "FeaturesImage", "EvaluationImage"}


def test_the_job_role_pulls_the_custom_repositories_by_arn_and_the_framework_ones_still_used(two_custom):
    pulls = _pulls(two_custom)
    assert set(pulls) == {"PullFrameworkImages", "PullCustomImages"}
    assert set(actions(pulls["PullCustomImages"])) == PULLS
    assert pulls["PullCustomImages"]["Resource"] == [
        _repository_arn("eu-west-1:123456789012:repository/team/xgb-serve"),
        _repository_arn("eu-west-1:123456789012:repository/team/xgb-train"),
    ]
    framework = json.dumps(pulls["PullFrameworkImages"]["Resource"])
    # The custom training image replaced the XGBoost one for training, but Evaluate still runs on it.
    assert "repository/sagemaker-xgboost" in framework and "repository/sagemaker-scikit-learn" in framework


@pytest.mark.slow  # a third synth; the fast suite checks the mixed case above
def test_with_every_image_custom_no_framework_image_is_pulled(all_custom):
    training = all_custom["ScorelineTraining"]
    assert "FrameworkImages" not in training.get("Mappings", {}) and "ImageAccounts" not in training.get("Mappings", {})
    pulls = _pulls(all_custom)
    assert set(pulls) == {"PullCustomImages"}
    assert pulls["PullCustomImages"]["Resource"] == [
        _repository_arn("eu-west-1:123456789012:repository/team/evaluate"),
        _repository_arn("eu-west-1:123456789012:repository/team/xgb-serve"),
        _repository_arn("eu-west-1:123456789012:repository/team/xgb-train"),
        _repository_arn("eu-west-1:210987654321:repository/features"),
    ]
    _, variables = definition_and_variables(all_custom)
    assert {variables[use] for use in ("PreprocessImage", "FeaturesImage")} == {ALL_FIVE["preprocess_image"]}
