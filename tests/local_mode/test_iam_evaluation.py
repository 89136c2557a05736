"""The local cloud's policy evaluation follows IAM's documented logic ("Policy evaluation logic", "IAM JSON policy
elements: Condition operators"), and API requests are evaluated with the real resource ARN."""

from __future__ import annotations

import json

from local_mode.iam.evaluator import Request, evaluate
from local_mode.iam.requests import ApiCall, requests_for

RULE = "arn:aws:events:us-east-1:123456789012:rule/scoreline-pipeline-failed"
TOPIC_POLICY = {
    "Statement": [
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": "arn:aws:sns:us-east-1:123456789012:alerts",
            "Condition": {"ArnLike": {"aws:SourceArn": [RULE]}, "StringEquals": {"aws:SourceAccount": "123456789012"}},
        },
    ]
}
EVENTS = {"Service": "events.amazonaws.com"}


def _publish(**context) -> Request:
    return Request("sns:Publish", "arn:aws:sns:us-east-1:123456789012:alerts", context)


def test_a_service_principal_with_the_source_arn_and_account_the_policy_names_is_allowed():
    request = _publish(**{"aws:SourceArn": RULE, "aws:SourceAccount": "123456789012", "aws:SecureTransport": "true"})
    assert evaluate([TOPIC_POLICY], request, EVENTS) == "Allow"


def test_another_source_or_an_absent_condition_key_is_not_allowed():
    other = _publish(**{"aws:SourceArn": RULE + "-x", "aws:SourceAccount": "123456789012"})
    absent = _publish(**{"aws:SourceArn": RULE})
    assert evaluate([TOPIC_POLICY], other, EVENTS) == "Neutral"
    assert evaluate([TOPIC_POLICY], absent, EVENTS) == "Neutral"
    assert evaluate([TOPIC_POLICY], _publish(**{"aws:SourceArn": RULE}), {"Service": "sns.amazonaws.com"}) == "Neutral"


def test_an_explicit_deny_wins():
    request = _publish(**{"aws:SourceArn": RULE, "aws:SourceAccount": "123456789012", "aws:SecureTransport": "false"})
    assert evaluate([TOPIC_POLICY], request, EVENTS) == "Deny"


def test_actions_ignore_case_resources_do_not_and_notresource_excludes():
    policy = {"Statement": [{"Effect": "Allow", "Action": "s3:get*", "NotResource": "arn:aws:s3:::b/private/*"}]}
    assert evaluate([policy], Request("s3:GetObject", "arn:aws:s3:::b/public/x")) == "Allow"
    assert evaluate([policy], Request("s3:GetObject", "arn:aws:s3:::b/private/x")) == "Neutral"
    scoped = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/Data/?.csv"}]}
    assert evaluate([scoped], Request("s3:GetObject", "arn:aws:s3:::b/Data/1.csv")) == "Allow"
    assert evaluate([scoped], Request("s3:GetObject", "arn:aws:s3:::b/data/1.csv")) == "Neutral"


def test_if_exists_holds_without_the_key_and_unknown_operators_fail_closed():
    exists = {"StringEqualsIfExists": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    unknown = {"NumericLessThan": {"s3:max-keys": "10"}}
    policy = {"Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*", "Condition": exists}]}
    assert evaluate([policy], Request("iam:PassRole", "arn:aws:iam::1:role/r")) == "Allow"
    policy["Statement"][0]["Condition"] = unknown
    assert evaluate([policy], Request("iam:PassRole", "arn:aws:iam::1:role/r", {"s3:max-keys": "5"})) == "Neutral"


def _call(service: str, method: str, path: str, body: dict | None = None, **headers) -> ApiCall:
    query = {}
    if "?" in path:
        path, _, raw = path.partition("?")
        query = dict(part.partition("=")[::2] for part in raw.split("&"))
    payload = json.dumps(body).encode() if body is not None else b""
    return ApiCall(service, method, path, query, headers, payload, "123456789012", "us-east-1")


def test_requests_carry_the_real_resource_arns():
    listing = requests_for(_call("s3", "GET", "/data/?list-type=2&prefix=scoring/input/"))
    assert [(r.action, r.resource, r.context) for r in listing] == [
        ("s3:ListBucket", "arn:aws:s3:::data", {"s3:prefix": "scoring/input/"})
    ]
    job = {"TrainingJobName": "pipelines-Abc-Train", "RoleArn": "arn:aws:iam::123456789012:role/job"}
    training = requests_for(_call("sagemaker", "POST", "/", job, **{"x-amz-target": "SageMaker.CreateTrainingJob"}))
    assert [(r.action, r.resource) for r in training] == [
        ("sagemaker:CreateTrainingJob", "arn:aws:sagemaker:us-east-1:123456789012:training-job/pipelines-abc-train"),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/job"),
    ]
    assert training[1].context == {"iam:PassedToService": "sagemaker.amazonaws.com"}


def test_real_time_serving_calls_carry_their_arns_and_condition_keys():
    config = {"EndpointConfigName": "scoreline-serving-v2-ab"}
    describe = requests_for(
        _call("sagemaker", "POST", "/", config, **{"x-amz-target": "SageMaker.DescribeEndpointConfig"})
    )
    assert [(r.action, r.resource) for r in describe] == [
        (
            "sagemaker:DescribeEndpointConfig",
            "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/scoreline-serving-v2-ab",
        )
    ]
    alarm = {"AlarmName": "scoreline-realtime-errors"}
    put = requests_for(
        _call("monitoring", "POST", "/", alarm, **{"x-amz-target": "GraniteServiceVersion20100801.PutMetricAlarm"})
    )
    assert [(r.action, r.resource) for r in put] == [
        ("cloudwatch:PutMetricAlarm", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:scoreline-realtime-errors")
    ]
    target = {"ServiceNamespace": "sagemaker", "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
    scaling = requests_for(
        _call(
            "application-autoscaling",
            "POST",
            "/",
            target,
            **{"x-amz-target": "AnyScaleFrontendService.RegisterScalableTarget"},
        )
    )
    assert [(r.action, r.resource, r.context) for r in scaling] == [
        (
            "application-autoscaling:RegisterScalableTarget",
            "*",
            {
                "application-autoscaling:service-namespace": "sagemaker",
                "application-autoscaling:scalable-dimension": "sagemaker:variant:DesiredInstanceCount",
            },
        )
    ]
