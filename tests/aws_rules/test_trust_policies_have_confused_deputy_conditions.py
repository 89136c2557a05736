"""Confused-deputy prevention (IAM user guide: "The confused deputy problem"): wherever the scoring stack lets an AWS
service act on its resources, the grant names the resource or account the service acts for: aws:SourceArn /
aws:SourceAccount, or, for KMS grants to EventBridge (whose KMS requests carry neither), the encryption context of
the one topic or queue. The Lambda execution role's trust follows Lambda's documented form (no source keys)."""

from tests.aws_rules.policies import condition_values, limited_to_this_account, service_principals, statements
from tests.synth_helpers import resources

LAMBDA = "lambda.amazonaws.com"


def _conditioned_on_source(statement: dict) -> bool:
    return bool(condition_values(statement, "aws:SourceArn")) and limited_to_this_account(statement)


def test_service_roles_may_be_assumed_for_this_accounts_resources_only(app_templates):
    roles = resources(app_templates["ScorelineScoring"], "AWS::IAM::Role")
    trusting = [
        (name, s)
        for name, role in roles.items()
        for s in statements(role["Properties"]["AssumeRolePolicyDocument"])
        if set(service_principals(s)) - {LAMBDA}
    ]
    assert trusting, "expected the scheduler role"
    for name, statement in trusting:
        assert _conditioned_on_source(statement), name


def test_the_scheduler_role_names_its_schedule_group(app_templates):
    [role] = [
        r
        for r in resources(app_templates["ScorelineScoring"], "AWS::IAM::Role").values()
        if "scheduler.amazonaws.com" in service_principals(statements(r["Properties"]["AssumeRolePolicyDocument"])[0])
    ]
    [statement] = statements(role["Properties"]["AssumeRolePolicyDocument"])
    assert condition_values(statement, "aws:SourceArn") == {
        "ArnEquals": ["arn:aws:scheduler:us-east-1:123456789012:schedule-group/default"]
    }


def test_key_grants_to_services_are_conditioned(app_templates):
    for name, key in resources(app_templates["ScorelineScoring"], "AWS::KMS::Key").items():
        for statement in statements(key["Properties"]["KeyPolicy"]):
            if not service_principals(statement):
                continue
            by_context = any(
                key_name.lower().startswith("kms:encryptioncontext:")
                for tests in statement.get("Condition", {}).values()
                for key_name in tests
            )
            assert _conditioned_on_source(statement) or by_context, f"{name}: {statement.get('Sid')}"


def test_topic_and_queue_grants_to_services_name_their_source(app_templates):
    scoring = app_templates["ScorelineScoring"]
    for kind in ("AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"):
        for name, policy in resources(scoring, kind).items():
            for statement in statements(policy["Properties"]["PolicyDocument"]):
                if statement["Effect"] == "Allow" and service_principals(statement):
                    assert condition_values(statement, "aws:SourceArn"), f"{name}: {statement.get('Sid')}"
                    if kind == "AWS::SNS::TopicPolicy":
                        assert limited_to_this_account(statement), name


def test_lambda_invoke_permissions_keep_their_source_arn(app_templates):
    permissions = resources(app_templates["ScorelineScoring"], "AWS::Lambda::Permission")
    assert permissions
    for name, permission in permissions.items():
        assert "SourceArn" in permission["Properties"], name
