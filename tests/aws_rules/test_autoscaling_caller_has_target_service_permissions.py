"""Application Auto Scaling checks the caller's permissions on the target service and CloudWatch as well as its own:
"You also need to make sure that end users have permissions for the target service and CloudWatch", for SageMaker
endpoints sagemaker:DescribeEndpoint, sagemaker:DescribeEndpointConfig, sagemaker:UpdateEndpointWeightsAndCapacities,
cloudwatch:DescribeAlarms, cloudwatch:PutMetricAlarm and cloudwatch:DeleteAlarms (Application Auto Scaling user
guide, "Identity-based policy examples": "Permissions required for API actions on target services and CloudWatch").
Target tracking names its alarms TargetTracking-<resource id>-AlarmHigh/AlarmLow-<id> (the service-linked role's
policy scopes them to alarm:TargetTracking*). The serving function registers the endpoint's variant and puts a
target-tracking policy on it, so its role has all six, on this endpoint and its variant's alarms."""

from fnmatch import fnmatchcase

import pytest

from tests.aws_rules.policies import allows, arn, as_list, render, role_statements
from tests.synth_helpers import only

ENDPOINT = arn("sagemaker", "endpoint/scoreline-realtime")
TARGET_TRACKING_ALARM = arn(
    "cloudwatch", "alarm:TargetTracking-endpoint/scoreline-realtime/variant/AllTraffic-AlarmHigh-0a1b2c3d-4e5f"
)
REQUIRED = [
    ("sagemaker:DescribeEndpoint", ENDPOINT),
    ("sagemaker:DescribeEndpointConfig", arn("sagemaker", "endpoint-config/scoreline-serving-v1-0a1b2c3d")),
    ("sagemaker:UpdateEndpointWeightsAndCapacities", ENDPOINT),
    ("cloudwatch:DescribeAlarms", TARGET_TRACKING_ALARM),
    ("cloudwatch:PutMetricAlarm", TARGET_TRACKING_ALARM),
    ("cloudwatch:DeleteAlarms", TARGET_TRACKING_ALARM),
]


@pytest.mark.parametrize(("action", "resource"), REQUIRED)
def test_the_serving_function_may_act_on_the_scaling_target(realtime_app, action, resource):
    serving = realtime_app["ScorelineServing"]
    role = only(serving, "AWS::Lambda::Function")["Properties"]["Role"]["Fn::GetAtt"][0]
    assert any(
        allows(s, action) and any(fnmatchcase(resource, render(r)) for r in as_list(s["Resource"]))
        for s in role_statements(serving, role)
    ), f"{action} on {resource}"
