"""The pipeline the SDK generates: steps, wiring, parameters, the quality gate, the two-container package."""

import pytest

from tests.pipeline_definitions.definitions import FLAVOURS, definition, steps_by_name
from tests.pipeline_definitions.refresh_snapshots import SNAPSHOTS, snapshot_text


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_definition_matches_its_snapshot(flavour):
    """A change to the SDK or the builder shows as a diff here; refresh with `make snapshot`."""
    assert snapshot_text(flavour) == (SNAPSHOTS / f"{flavour}.json").read_text()


def test_steps_and_types():
    steps = steps_by_name("sklearn")
    assert {name: step["Type"] for name, step in steps.items()} == {
        "CheckInstanceTypes": "Condition",
        "InstanceTypeRefused": "Fail",
        "TrainingData": "Lambda",
        "Preprocess": "Processing",
        "Train": "Training",
        "Evaluate": "Processing",
        "CheckQuality": "Condition",
        "Register": "RegisterModel",
        "QualityTooLow": "Fail",
    }


def test_parameters_and_defaults():
    parameters = {p["Name"]: (p["Type"], p.get("DefaultValue")) for p in definition("sklearn")["Parameters"]}
    assert parameters == {
        "InputDataUri": ("String", "s3://scoreline-placeholder-bucket/training/input/"),
        "ProcessingInstanceType": ("String", "ml.m5.xlarge"),
        "TrainingInstanceType": ("String", "ml.m5.xlarge"),
        "RmseThreshold": ("Float", 0.0),
        "MinImprovementOverBaseline": ("Float", 0.0),
        "ChampionTolerance": ("Float", 0.0),
        "ModelApprovalStatus": ("String", "PendingManualApproval"),
    }


def test_steps_are_wired_by_their_outputs():
    steps = steps_by_name("sklearn")
    train_inputs = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in steps["Train"]["Arguments"]["InputDataConfig"]]
    assert train_inputs == [
        {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"},
        {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['validation'].S3Output.S3Uri"},
        {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['schema'].S3Output.S3Uri"},
    ]
    evaluate_inputs = {
        i["InputName"]: i["S3Input"]["S3Uri"] for i in steps["Evaluate"]["Arguments"]["ProcessingInputs"]
    }
    assert evaluate_inputs["model"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert evaluate_inputs["test"] == {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"}
    # Evaluate loads both containers' handlers from the artifacts themselves: no code-asset inputs.
    assert set(evaluate_inputs) == {"code", "test", "train", "validation", "features_model", "model"}
    assert evaluate_inputs["train"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }


def test_preprocess_reads_the_content_named_manifest_of_the_training_data():
    """Step caching keys Preprocess on its ProcessingInputs: the manifest's URI, named by the data's digest, makes
    the same data a cache hit and new data a miss; the Lambda step that writes it is not cached."""
    steps = steps_by_name("sklearn")
    data = steps["TrainingData"]
    assert "CacheConfig" not in data
    assert data["FunctionArn"].endswith(":function:scoreline-placeholder-function")
    assert data["Arguments"]["InputDataUri"] == {"Get": "Parameters.InputDataUri"}
    assert data["Arguments"]["ManifestPrefix"] == "s3://scoreline-placeholder-bucket/training/manifests/"
    inputs = {i["InputName"]: i["S3Input"] for i in steps["Preprocess"]["Arguments"]["ProcessingInputs"]}
    assert inputs["data"]["S3DataType"] == "ManifestFile"
    assert inputs["data"]["S3Uri"] == {"Get": "Steps.TrainingData.OutputParameters['ManifestUri']"}
    for name in ("Preprocess", "Train", "Evaluate"):
        assert steps[name]["CacheConfig"]["Enabled"] is True
    # Evaluate's arguments name the champion: a newly approved version makes it measure again.
    container_arguments = steps["Evaluate"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    champion = container_arguments[container_arguments.index("--champion-model-uri") + 1]
    assert champion == {"Get": "Steps.TrainingData.OutputParameters['ChampionModelUri']"}


def test_preprocess_packs_the_features_code_into_its_model_artifact():
    arguments = steps_by_name("sklearn")["Preprocess"]["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in arguments["ProcessingInputs"]}
    assert inputs["serving_code"]["S3Uri"].endswith("placeholder-features-code.tar.gz")
    container_arguments = arguments["AppSpecification"]["ContainerArguments"]
    serving_code_dir = container_arguments[container_arguments.index("--serving-code-dir") + 1]
    assert serving_code_dir == inputs["serving_code"]["LocalPath"]


@pytest.mark.parametrize("step_name", ["Preprocess", "Evaluate"])
def test_processing_scripts_report_failures_where_sagemaker_reads_them(step_name):
    container_arguments = steps_by_name("sklearn")[step_name]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert container_arguments[container_arguments.index("--message-file") + 1] == "/opt/ml/output/message"


def test_quality_gate_compares_evaluate_scores_with_baseline_champion_and_threshold():
    """The metric is known only at run time (the problem type may be inferred), so the conditions compare the
    higher-is-better scores Evaluate writes under gate.*, and the RMSE threshold reads gate.regression_rmse."""
    steps = steps_by_name("sklearn")
    condition = steps["CheckQuality"]["Arguments"]
    relative, absolute = condition["Conditions"][:3], condition["Conditions"][3]
    report = {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"}
    # Signal: strictly better than the trivial baseline's allowance; baseline and champion: at least theirs.
    assert [rule["Type"] for rule in relative] == ["GreaterThan", "GreaterThanOrEqualTo", "GreaterThanOrEqualTo"]
    for rule in relative:
        assert rule["LeftValue"]["Std:JsonGet"] == {"Path": "gate.candidate_score", "PropertyFile": report}
    assert [rule["RightValue"]["Std:JsonGet"]["Path"] for rule in relative] == [
        "gate.signal_required_score",
        "gate.baseline_required_score",
        "gate.champion_required_score",
    ]
    # The absolute threshold is optional: off (0) or the candidate's RMSE at most that.
    assert absolute["Type"] == "Or"
    off, within = absolute["Conditions"]
    assert (off["Type"], off["LeftValue"], off["RightValue"]) == ("Equals", {"Get": "Parameters.RmseThreshold"}, 0.0)
    assert within["Type"] == "LessThanOrEqualTo"
    assert within["LeftValue"]["Std:JsonGet"] == {"Path": "gate.regression_rmse", "PropertyFile": report}
    assert within["RightValue"] == {"Get": "Parameters.RmseThreshold"}
    assert [s["Name"] for s in condition["IfSteps"]] == ["Register"]
    assert [s["Name"] for s in condition["ElseSteps"]] == ["QualityTooLow"]
    message = steps["QualityTooLow"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    paths = [value["Std:JsonGet"]["Path"] for value in message if isinstance(value, dict) and "Std:JsonGet" in value]
    # First the verdict (which check refused, the paired difference and its interval); then the candidate's, the best
    # baseline's and the champion's values, each after the metric's name, and the limits; last, the advice (the
    # better baseline by name, the setting value that would have let the candidate pass).
    assert paths == [
        "gate.verdict",
        "gate.measured",
        "gate.metric_label",
        "gate.candidate",
        "gate.metric_label",
        "gate.baseline",
        "gate.baseline_limit",
        "gate.metric_label",
        "gate.champion",
        "gate.champion_limit",
        "gate.advice",
    ]
    assert {"Get": "Parameters.RmseThreshold"} in message


def test_problem_type_reaches_preprocess_and_the_schema_reaches_train():
    steps = steps_by_name("sklearn")
    arguments = steps["Preprocess"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--problem-type") + 1] == "auto"
    outputs = [o["OutputName"] for o in steps["Preprocess"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]]
    assert "schema" in outputs
    channels = {c["ChannelName"]: c for c in steps["Train"]["Arguments"]["InputDataConfig"]}
    assert channels["schema"]["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['schema'].S3Output.S3Uri"
    }
    metrics = {
        m["Name"]: m["Regex"] for m in steps["Train"]["Arguments"]["AlgorithmSpecification"]["MetricDefinitions"]
    }
    assert metrics["validation:logloss"] == r"validation-logloss=([0-9\.]+)"
    evaluate = steps["Evaluate"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert evaluate[evaluate.index("--gate-metric") + 1] == "auto"
    assert evaluate[evaluate.index("--confidence") + 1] == "0.95"


def test_small_data_reaches_train_and_evaluate_sees_the_rows_train_cross_validated():
    """Train cross-validates below cross_validation_below_rows (a hyperparameter); Evaluate then cross-validates
    the baselines on the same rows, the training and validation splits."""
    steps = steps_by_name("sklearn")
    hyperparameters = steps["Train"]["Arguments"]["HyperParameters"]
    assert hyperparameters["cross-validation-below-rows"] == "2000"
    inputs = {i["InputName"]: i["S3Input"] for i in steps["Evaluate"]["Arguments"]["ProcessingInputs"]}
    outputs = "Steps.Preprocess.ProcessingOutputConfig.Outputs['{}'].S3Output.S3Uri"
    for split in ("train", "validation"):
        assert inputs[split]["S3Uri"] == {"Get": outputs.format(split)}
        assert inputs[split]["LocalPath"] == f"/opt/ml/processing/input/{split}"


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_register_has_features_then_model_container(flavour):
    arguments = steps_by_name(flavour)["Register"]["Arguments"]
    features, model = arguments["InferenceSpecification"]["Containers"]
    assert "features-image" in features["Image"]
    assert features["ModelDataUrl"]["Std:Join"]["Values"][1] == "model.tar.gz"
    assert model["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert "inference-image" in model["Image"]
    # Both containers read their handlers from their own model artifact (network isolation: no S3 download).
    for container in (features, model):
        assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
        assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert arguments["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert arguments["ModelPackageGroupName"] == "scoreline-models"
    assert arguments["ModelMetrics"]["ModelQuality"]["Statistics"]["ContentType"] == "application/json"


def test_jobs_are_cached_encrypted_and_bounded():
    steps = steps_by_name("sklearn")
    key = "arn:aws:kms:xx-placeholder-1:111122223333:key/00000000-0000-0000-0000-000000000000"
    for name in ("Preprocess", "Train", "Evaluate"):
        assert steps[name]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
        assert steps[name]["Arguments"]["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    for name in ("Preprocess", "Evaluate"):
        arguments = steps[name]["Arguments"]
        assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
        assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == key
    train = steps["Train"]["Arguments"]
    assert train["ResourceConfig"]["VolumeKmsKeyId"] == key
    assert train["OutputDataConfig"]["KmsKeyId"] == key


def test_training_runs_the_flavour_script_through_the_framework_entry_point():
    hyperparameters = steps_by_name("pytorch")["Train"]["Arguments"]["HyperParameters"]
    assert hyperparameters["sagemaker_program"] == "train.py"
    assert hyperparameters["sagemaker_submit_directory"].endswith("model-code.tar.gz")
    metric = steps_by_name("pytorch")["Train"]["Arguments"]["AlgorithmSpecification"]["MetricDefinitions"][0]
    assert metric["Regex"] == r"validation-rmse=([0-9\.]+)"
