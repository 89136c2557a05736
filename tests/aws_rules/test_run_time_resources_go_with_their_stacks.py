"""What the functions create at run time (the endpoint, its configurations and models, alarms, the scalable target;
scoring's models) is outside CloudFormation, so `cdk destroy` would leave the endpoint billing. Each function is its
stack's custom resource (CloudFormation "Custom resources": a ServiceToken naming a Lambda function, which gets the
Delete request), deleted before the role and policy it runs with, and allowed the deletes it then makes. The same
DeleteEndpoint recovers a Failed endpoint ("DeleteEndpoint is the only operation that can be performed on a failed
endpoint", DescribeEndpoint)."""

from fnmatch import fnmatchcase

import pytest

from tests.aws_rules.policies import allows, arn, as_list, render, role_statements
from tests.synth_helpers import resources

DELETES = {
    "ScorelineServing": {
        "sagemaker:DeleteEndpoint": arn("sagemaker", "endpoint/scoreline-realtime"),
        "sagemaker:DeleteEndpointConfig": arn("sagemaker", "endpoint-config/scoreline-serving-v1-abc"),
        "sagemaker:DeleteModel": arn("sagemaker", "model/scoreline-serving-v1-abc"),
        "cloudwatch:DeleteAlarms": arn("cloudwatch", "alarm:scoreline-realtime-new-fleet-errors"),
        "application-autoscaling:DeregisterScalableTarget": "*",
    },
    "ScorelineScoring": {"sagemaker:DeleteModel": arn("sagemaker", "model/scoreline-scoring-v1-abc")},
}


@pytest.mark.parametrize("stack", sorted(DELETES))
def test_the_function_is_a_custom_resource_that_may_delete_what_it_made(realtime_app, stack):
    template = realtime_app[stack]
    [custom] = resources(template, "AWS::CloudFormation::CustomResource").values()
    function_id = custom["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
    role_id = template["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    policy_ids = [
        name
        for name, policy in resources(template, "AWS::IAM::Policy").items()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
    ]
    assert {role_id, *policy_ids} <= set(custom["DependsOn"])  # deleted while its function may still act
    granted = role_statements(template, role_id)
    for action, resource in DELETES[stack].items():
        assert any(
            allows(s, action) and any(fnmatchcase(resource, render(r)) for r in as_list(s["Resource"])) for s in granted
        ), action
