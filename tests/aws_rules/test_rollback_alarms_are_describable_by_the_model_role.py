"""SageMaker's deployment guardrails read the rollback alarms during a blue/green update: "Ensure that your IAM
execution role has permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms you
specify" (SageMaker developer guide, Auto-Rollback Configuration and Monitoring). The endpoint's models run with the
job role, so with real-time predictions on it may describe exactly the two rollback alarms; without, no alarm."""

from tests.aws_rules.policies import allows, arn, as_list, render, role_statements
from tests.aws_rules.template_iam import role_id
from tests.synth_helpers import only


def _describe_alarms(app: dict) -> list[dict]:
    training = app["ScorelineTraining"]
    return [
        s for s in role_statements(training, role_id(training, "JobRole")) if allows(s, "cloudwatch:DescribeAlarms")
    ]


def test_the_model_role_may_describe_exactly_the_rollback_alarms(realtime_app):
    variables = only(realtime_app["ScorelineServing"], "AWS::Lambda::Function")["Properties"]["Environment"]
    alarms = {
        arn("cloudwatch", f"alarm:{variables['Variables'][name]}")
        for name in ("SERVING_ERRORS_ALARM_NAME", "SERVING_LATENCY_ALARM_NAME")
    }
    statements = _describe_alarms(realtime_app)
    assert statements, "the job role cannot describe the rollback alarms"
    assert {render(resource) for s in statements for resource in as_list(s["Resource"])} == alarms


def test_without_real_time_predictions_the_model_role_describes_no_alarm(sklearn_app):
    assert _describe_alarms(sklearn_app) == []
