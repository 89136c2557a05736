"""SageMaker's "Cross-service confused deputy prevention": a role trusted by sagemaker.amazonaws.com limits it with
aws:SourceAccount and aws:SourceArn. The documented forms: pipeline executions of one pipeline,
arn:<partition>:sagemaker:<region>:<account>:pipeline/<name>/*; models (and so Batch Transform with them),
arn:<partition>:sagemaker:<region>:<account>:* exactly, which also covers processing, training and transform jobs.
The same holds for service principals in the key and bucket policies of the storage and training stacks."""

from tests.aws_rules.template_iam import flat, role_id, trust_statements
from tests.synth_helpers import resources

THIS_ACCOUNT_SAGEMAKER = [
    "arn:",
    {"Ref": "AWS::Partition"},
    ":sagemaker:",
    {"Ref": "AWS::Region"},
    ":",
    {"Ref": "AWS::AccountId"},
]


def _sagemaker_trust(template: dict, role: str) -> dict:
    (statement,) = trust_statements(template, role)
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    return statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]


def test_every_role_sagemaker_assumes_names_source_account_and_arn(app_templates):
    trusted = 0
    for template in app_templates.values():
        for name, role in resources(template, "AWS::IAM::Role").items():
            statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            if "sagemaker.amazonaws.com" in flat([s["Principal"] for s in statements]):
                source_arn = _sagemaker_trust(template, name)
                assert source_arn[:6] == THIS_ACCOUNT_SAGEMAKER, name
                trusted += 1
    assert trusted == 2


def test_pipeline_role_is_assumed_for_this_pipelines_executions_only(app_templates):
    training = app_templates["ScorelineTraining"]
    pipeline_name = next(r for r in resources(training, "AWS::SageMaker::Pipeline").values())["Properties"][
        "PipelineName"
    ]
    assert _sagemaker_trust(training, role_id(training, "PipelineRole"))[6:] == [f":pipeline/{pipeline_name}/*"]


def test_job_role_uses_the_form_documented_for_models_and_jobs(app_templates):
    training = app_templates["ScorelineTraining"]
    assert _sagemaker_trust(training, role_id(training, "JobRole"))[6:] == [":*"]


def test_service_principals_in_resource_policies_name_their_source(app_templates):
    """Key and bucket policies of the storage and training stacks (the scoring stack's are checked by its rules)."""
    for stack in ("ScorelineStorage", "ScorelineTraining"):
        template = app_templates[stack]
        documents = [r["Properties"]["KeyPolicy"] for r in resources(template, "AWS::KMS::Key").values()]
        documents += [r["Properties"]["PolicyDocument"] for r in resources(template, "AWS::S3::BucketPolicy").values()]
        for document in documents:
            for statement in document["Statement"]:
                if "Service" in statement.get("Principal", {}) and statement["Effect"] == "Allow":
                    conditions = flat(statement.get("Condition", {}))
                    assert "aws:SourceAccount" in conditions and "aws:SourceArn" in conditions, statement
