"""The training stack: least-privilege pipeline and job roles, code assets, and the SDK-built pipeline."""

import json

from tests.synth_helpers import only, resources


def _definition(training: dict) -> tuple[str, dict]:
    pipeline = only(training, "AWS::SageMaker::Pipeline")
    body, variables = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    return body, variables


def _role_statements(training: dict, role_prefix: str) -> list[dict]:
    statements = []
    for policy in resources(training, "AWS::IAM::Policy").values():
        if policy["Properties"]["Roles"][0]["Ref"].startswith(role_prefix):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_pipeline_definition_body_has_no_placeholder_left(templates):
    from pipeline_definitions.placeholders import PLACEHOLDERS

    body, variables = _definition(templates["ScorelineTraining"])
    for literal in PLACEHOLDERS.substitution_names():
        assert literal not in body
    assert "placeholder" not in body
    assert set(variables) == set(PLACEHOLDERS.substitution_names().values())
    json.loads(body.replace("${!", "${"))  # still a JSON document once CloudFormation substitutes


def test_images_come_from_a_region_mapping(templates):
    training = templates["ScorelineTraining"]
    _, variables = _definition(training)
    for use in ("PreprocessImage", "FeaturesImage", "TrainingImage", "EvaluationImage", "InferenceImage"):
        assert variables[use] == {"Fn::FindInMap": ["FrameworkImages", {"Ref": "AWS::Region"}, use]}
    us_east_1 = training["Mappings"]["FrameworkImages"]["us-east-1"]
    assert set(us_east_1.values()) == {
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-py312-cpu-py3"
    }


def test_pytorch_flavour_uses_pytorch_images_for_training_and_serving(tmp_path):
    from tests.synth_helpers import synth

    training = synth(tmp_path, model_flavour="pytorch")["ScorelineTraining"]
    images = training["Mappings"]["FrameworkImages"]["us-east-1"]
    assert images["TrainingImage"].endswith("/pytorch-training:2.6.0-cpu-py312")
    assert images["EvaluationImage"] == images["TrainingImage"]  # Evaluate loads the model with its library
    assert images["InferenceImage"].endswith("/pytorch-inference:2.6.0-cpu-py312")
    for use in ("PreprocessImage", "FeaturesImage"):
        assert images[use].endswith("/sagemaker-scikit-learn:1.4-2-py312-cpu-py3")


def test_pipeline_and_job_roles_are_assumed_by_sagemaker_only(templates):
    roles = resources(templates["ScorelineTraining"], "AWS::IAM::Role")
    sagemaker_roles = [role for name, role in roles.items() if name.startswith(("PipelineRole", "JobRole"))]
    principals = [
        s["Principal"] for r in sagemaker_roles for s in r["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    ]
    assert principals == [{"Service": "sagemaker.amazonaws.com"}] * 2


def test_pipeline_role_reaches_only_its_jobs_and_model_package_group(templates):
    statements = _role_statements(templates["ScorelineTraining"], "PipelineRole")
    sagemaker = [s for s in statements if any(a.startswith("sagemaker:") for a in _actions(s))]
    resources_text = json.dumps([s["Resource"] for s in sagemaker])
    assert "processing-job/pipelines-*" in resources_text
    assert "model-package/scoreline-models/*" in resources_text
    assert ":model-package-group/scoreline-models" in resources_text
    assert '"*"' not in resources_text


def test_job_role_s3_access_is_limited_to_its_prefixes(templates):
    statements = _role_statements(templates["ScorelineTraining"], "JobRole")
    s3_resources = json.dumps([s["Resource"] for s in statements if any(a.startswith("s3:") for a in _actions(s))])
    for prefix in ("/training/input/*", "/pipeline/*", "/scoring/input/*", "/scoring/output/*"):
        assert prefix in s3_resources


def test_code_assets_are_published_as_files(templates, tmp_path):
    body, variables = _definition(templates["ScorelineTraining"])
    for name in ("PreprocessScriptKey", "EvaluateScriptKey", "FeaturesCodeKey", "ModelCodeKey"):
        assert variables[name].endswith((".py", ".gz")), name
    assert "/opt/ml/processing/input/code/${PreprocessScriptKey}" in body


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]
