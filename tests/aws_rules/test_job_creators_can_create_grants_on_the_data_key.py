"""KMS for job volumes and outputs. CreateProcessingJob and CreateTrainingJob with a VolumeKmsKeyId need
kms:CreateGrant from the caller ("Amazon SageMaker API Permissions: Actions, Permissions, and Resources Reference"),
here the pipeline role, limited to grants for AWS resources (kms:GrantIsForAWSResource), with kms:DescribeKey. The
role inside the job encrypts outputs and reads inputs with the key (OutputDataConfig.KmsKeyId: "the SageMaker
execution role must include permissions to call kms:Encrypt"), and may not create grants itself."""

from tests.aws_rules.template_iam import allowing, definition, role_id, role_statements
from tests.pipeline_definitions.definitions import nested_steps


def _data_key(training: dict):
    _, variables = definition(training)
    return variables["KmsKeyArn"]


def _on_data_key(statements: list[dict], action: str, training: dict) -> list[dict]:
    return [s for s in allowing(statements, action) if s["Resource"] == _data_key(training)]


def test_the_pipeline_encrypts_job_volumes_and_outputs_with_the_data_key(app_templates):
    body, _ = definition(app_templates["ScorelineTraining"])
    arguments = [
        step["Arguments"] for step in nested_steps(body).values() if step["Type"] in ("Processing", "Training")
    ]
    keys = [a.get("ProcessingOutputConfig", a.get("OutputDataConfig"))["KmsKeyId"] for a in arguments]
    assert keys and set(keys) == {"${KmsKeyArn}"}


def test_pipeline_role_creates_grants_for_aws_resources_only(app_templates):
    training = app_templates["ScorelineTraining"]
    statements = role_statements(training, role_id(training, "PipelineRole"))
    (grant,) = _on_data_key(statements, "kms:CreateGrant", training)
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert _on_data_key(statements, "kms:DescribeKey", training)
    assert not _on_data_key(statements, "kms:Encrypt", training)


def test_job_role_uses_the_data_key_but_creates_no_grant(app_templates):
    training = app_templates["ScorelineTraining"]
    statements = role_statements(training, role_id(training, "JobRole"))
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:DescribeKey"):
        assert _on_data_key(statements, action, training), action
    assert allowing(statements, "kms:CreateGrant") == []
