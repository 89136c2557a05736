"""Deployment guardrails roll back on the CloudWatch alarms named in AutoRollbackConfiguration, and "your IAM
execution role [must have] permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms
you specify" (SageMaker developer guide, Auto-Rollback Configuration and Monitoring). The serving function calls
UpdateEndpoint and points those alarms at each new fleet, so it may describe and put exactly those alarms, besides
the target-tracking alarms of its variant that autoscaling needs
(test_autoscaling_caller_has_target_service_permissions.py)."""

from tests.aws_rules.policies import allows, arn, as_list, render, role_statements
from tests.synth_helpers import only


def test_the_serving_function_may_describe_and_put_exactly_its_rollback_alarms(realtime_app):
    serving = realtime_app["ScorelineServing"]
    function = only(serving, "AWS::Lambda::Function")["Properties"]
    variables = function["Environment"]["Variables"]
    alarms = {
        arn("cloudwatch", f"alarm:{variables[name]}")
        for name in ("SERVING_ERRORS_ALARM_NAME", "SERVING_LATENCY_ALARM_NAME")
    }
    alarms.add(arn("cloudwatch", "alarm:TargetTracking-endpoint/scoreline-realtime/variant/AllTraffic-*"))
    granted = role_statements(serving, function["Role"]["Fn::GetAtt"][0])

    for action in ("cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"):
        statements = [s for s in granted if allows(s, action)]
        assert statements, action
        assert {render(resource) for s in statements for resource in as_list(s["Resource"])} == alarms, action
