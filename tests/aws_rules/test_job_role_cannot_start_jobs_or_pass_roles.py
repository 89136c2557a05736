"""Least privilege for code inside jobs: the job role reads and writes data, uses the data key, writes logs and
metrics and pulls images, and nothing on the control plane (no SageMaker API at all, no iam:PassRole, no KMS grants),
so a container cannot start jobs, hand a role to a service or register models."""

import pytest

from tests.aws_rules.template_iam import actions, allowing, role_id, role_statements

CONTROL_PLANE = [
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateTransformJob",
    "sagemaker:CreateModel",
    "sagemaker:CreateModelPackage",
    "sagemaker:UpdateModelPackage",
    "sagemaker:StartPipelineExecution",
    "sagemaker:AddTags",
    "iam:PassRole",
    "kms:CreateGrant",
]


@pytest.mark.parametrize("action", CONTROL_PLANE)
def test_job_role_is_not_allowed(app_templates, action):
    training = app_templates["ScorelineTraining"]
    assert allowing(role_statements(training, role_id(training, "JobRole")), action) == []


def test_job_role_uses_no_sagemaker_or_iam_action(app_templates):
    training = app_templates["ScorelineTraining"]
    for statement in role_statements(training, role_id(training, "JobRole")):
        assert not [a for a in actions(statement) if a.startswith(("sagemaker:", "iam:", "sts:"))], statement


def test_job_role_still_does_its_work(app_templates):
    """The rule must not be met by a role that can do nothing: the jobs' own actions are there."""
    training = app_templates["ScorelineTraining"]
    statements = role_statements(training, role_id(training, "JobRole"))
    for action in ("s3:GetObject", "s3:PutObject", "kms:Decrypt", "kms:GenerateDataKey", "logs:PutLogEvents"):
        assert allowing(statements, action), action
    for action in ("ecr:BatchGetImage", "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"):
        assert allowing(statements, action), action
