"""The serving stack (setting `realtime`): what it deploys, who may do what, and the API's contract."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk.assertions import Capture, Match, Template

from scoreline.settings import SettingsError, load_settings
from tests.synth_helpers import only, resources

SERVING = "ScorelineServing"


@pytest.fixture(scope="module")
def serving(realtime_app) -> dict:
    return realtime_app[SERVING]


def _statements(template: dict, policy_prefix: str) -> dict[str, dict]:
    """Statements by Sid of the IAM policy whose logical id starts with `policy_prefix`."""
    [policy] = [p for name, p in resources(template, "AWS::IAM::Policy").items() if name.startswith(policy_prefix)]
    return {s.get("Sid", json.dumps(s["Action"])): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def _text(value) -> str:
    return json.dumps(value)


@pytest.mark.parametrize(
    "values, sentence",
    [
        ({"realtime": "maybe"}, "Setting 'realtime' must be true or false (got 'maybe')."),
        (
            {"realtime_instance_type": "m5.large"},
            "Setting 'realtime_instance_type' must be a SageMaker instance type such as ml.m5.large (got 'm5.large').",
        ),
        (
            {"realtime_instance_count": 3},
            "Setting 'realtime_max_instances' must be at least realtime_instance_count (3), itself at least "
            "realtime_min_instances (1) (got 2).",
        ),
        (
            {"realtime_canary_percent": 10},
            "Setting 'realtime_canary_percent' must be 0 (all at once) unless realtime_min_instances is at least 2 "
            "(a canary is at most half the fleet) (got 10).",
        ),
        ({"realtime_throttle_rate": 0}, "Setting 'realtime_throttle_rate' input should be greater than 0 (got 0)."),
    ],
)
def test_bad_realtime_setting_is_one_sentence(values, sentence):
    with pytest.raises(SettingsError) as raised:
        load_settings(values)
    assert str(raised.value) == sentence


def test_realtime_is_off_unless_asked():
    assert load_settings({}).realtime is False
    assert load_settings({"realtime": "true"}).realtime is True


def test_realtime_off_deploys_no_serving_stack(templates):
    assert SERVING not in templates
    assert not any(resources(t, "AWS::ApiGateway::RestApi") for t in templates.values())


def test_realtime_on_adds_only_the_serving_stack(templates, realtime_app):
    assert set(realtime_app) == set(templates) | {SERVING}


def test_both_events_reach_the_serving_function(serving):
    template = Template.from_json(serving)
    template.resource_count_is("AWS::Events::Rule", 2)
    to_the_function = [{"Arn": {"Fn::GetAtt": [Match.string_like_regexp("^ServingFunction"), "Arn"]}}]
    for pattern in (
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Model Package State Change"],
            "detail": {"ModelPackageGroupName": ["scoreline-models"], "ModelApprovalStatus": ["Approved", "Rejected"]},
        },
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Endpoint State Change"],
            "detail": {"EndpointName": ["scoreline-realtime"]},
        },
    ):
        template.has_resource_properties(
            "AWS::Events::Rule", {"EventPattern": Match.exact(pattern), "Targets": to_the_function}
        )


def test_the_function_gets_every_setting(serving):
    environment = only(serving, "AWS::Lambda::Function")["Properties"]["Environment"]["Variables"]
    assert {key: environment[key] for key in environment if isinstance(environment[key], str)} == {
        "MODEL_PACKAGE_GROUP_NAME": "scoreline-models",
        "SERVING_NAME_PREFIX": "scoreline-serving",
        "SERVING_ENDPOINT_NAME": "scoreline-realtime",
        "SERVING_INSTANCE_TYPE": "ml.m5.large",
        "SERVING_INSTANCE_STORAGE": "false",
        "SERVING_INSTANCE_COUNT": "1",
        # ml.m5.large has 2 vCPUs: two single-threaded model-server workers in each container
        "SERVING_CONTAINER_ENVIRONMENT": '[{"OMP_NUM_THREADS": "1", "SAGEMAKER_MODEL_SERVER_WORKERS": "2"}, '
        '{"OMP_NUM_THREADS": "1", "SAGEMAKER_MODEL_SERVER_WORKERS": "2"}]',
        "SERVING_MIN_INSTANCES": "1",
        "SERVING_MAX_INSTANCES": "2",
        "SERVING_INVOCATIONS_PER_INSTANCE": "1000",
        "SERVING_CANARY_PERCENT": "0",
        "SERVING_BAKING_SECONDS": "600",
        "SERVING_LATENCY_ALARM_MS": "1000",
        "SERVING_ERRORS_ALARM_NAME": "scoreline-realtime-new-fleet-errors",
        "SERVING_LATENCY_ALARM_NAME": "scoreline-realtime-new-fleet-latency",
    }
    assert {"EXECUTION_ROLE_ARN", "KMS_KEY_ARN", "ALERT_TOPIC_ARN"} <= set(environment)


def test_failed_invocations_reach_the_alarmed_queue(serving):
    template = Template.from_json(serving)
    template.resource_count_is("AWS::Lambda::EventInvokeConfig", 1)
    on_failure = Capture()
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 2, "DestinationConfig": {"OnFailure": on_failure}}
    )
    assert ":scoreline-scoring-failed-invocations" in _text(on_failure.as_object())


def test_serving_function_may_touch_only_its_own_sagemaker_resources(serving):
    statements = _statements(serving, "ServingFunctionRoleDefaultPolicy")
    own = statements["OwnModelsConfigurationsAndEndpoint"]
    assert {re.sub(r".*:", "", _text(arn).split('"')[-2]) for arn in own["Resource"]} == {
        "model/scoreline-serving-*",
        "endpoint-config/scoreline-serving-*",
        "endpoint/scoreline-realtime",
    }
    assert "sagemaker:DeleteEndpoint" not in own["Action"]
    deletes = statements["DeleteWhatItCreated"]
    assert _text(deletes["Resource"]) == _text(own["Resource"])  # the same three: its own names only
    assert statements["PassExecutionRoleToSageMaker"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    assert statements["GrantEndpointsTheDataKey"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    alarms = _text(statements["NewFleetRollbackAlarms"]["Resource"])
    assert (
        "alarm:scoreline-realtime-new-fleet-errors" in alarms and "alarm:scoreline-realtime-new-fleet-latency" in alarms
    )
    autoscaling = statements["AutoscaleTheEndpoint"]
    assert autoscaling["Condition"]["StringEquals"]["application-autoscaling:service-namespace"] == "sagemaker"
    assert statements["AutoscalingServiceLinkedRole"]["Condition"] == {
        "StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}
    }
    star_actions = {
        action
        for statement in statements.values()
        if statement["Resource"] == "*"
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    }
    assert star_actions == {
        "sagemaker:ListModelPackages",
        "sagemaker:ListEndpointConfigs",
        "sagemaker:ListModels",
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:PutScalingPolicy",
        "application-autoscaling:DeregisterScalableTarget",
    }


def test_api_role_may_only_invoke_the_endpoint(serving):
    statements = _statements(serving, "ApiInvokeEndpointRoleDefaultPolicy")
    assert list(statements) == ["InvokeTheEndpoint"]
    statement = statements["InvokeTheEndpoint"]
    assert statement["Action"] == "sagemaker:InvokeEndpoint"
    assert _text(statement["Resource"]).endswith(':endpoint/scoreline-realtime"]]}')


def test_api_requires_iam_signatures_and_a_content_type(serving):
    method = only(serving, "AWS::ApiGateway::Method")["Properties"]
    assert method["HttpMethod"] == "POST"
    assert method["AuthorizationType"] == "AWS_IAM"
    assert method["RequestParameters"] == {"method.request.header.Content-Type": True}
    validator = only(serving, "AWS::ApiGateway::RequestValidator")["Properties"]
    assert validator["ValidateRequestParameters"] is True
    policy = only(serving, "AWS::IAM::ManagedPolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert [statement["Action"] for statement in policy] == ["execute-api:Invoke"]
    assert "/v1/POST/predictions" in _text(policy[0]["Resource"])


def test_api_calls_invoke_endpoint_directly(serving):
    integration = only(serving, "AWS::ApiGateway::Method")["Properties"]["Integration"]
    assert integration["Type"] == "AWS"
    assert integration["IntegrationHttpMethod"] == "POST"
    assert ":runtime.sagemaker:path/endpoints/scoreline-realtime/invocations" in _text(integration["Uri"])
    assert integration["PassthroughBehavior"] == "NEVER"  # other content types: 415 before SageMaker is called
    assert set(integration["RequestTemplates"]) == {"text/csv", "application/json"}
    assert integration["RequestParameters"]["integration.request.header.Accept"] == "'text/csv'"


def test_model_errors_become_400s_naming_the_row_and_nothing_maps_to_500(serving):
    responses = only(serving, "AWS::ApiGateway::Method")["Properties"]["Integration"]["IntegrationResponses"]
    by_pattern = {response.get("SelectionPattern", "default"): response for response in responses}
    assert {pattern: response["StatusCode"] for pattern, response in by_pattern.items()} == {
        "2\\d{2}": "200",
        "40[0-25-9]|41\\d|42[0-35-8]|4[3-9]\\d": "400",  # ValidationError (over 6 MB), throttling (429 in the template)
        "429": "429",
        "5\\d{2}|403|404": "503",
        "default": "502",  # ModelError (424): 400 when the container refused the request
    }
    model_error = by_pattern["default"]["ResponseTemplates"]["application/json"]
    assert "$input.path('$.OriginalMessage')" in model_error
    assert "row [0-9]+: " in model_error and "responseOverride.status = 400" in model_error
    assert all(response["StatusCode"] != "500" for response in responses)


def test_stage_throttles_traces_and_logs_access_to_an_encrypted_group_when_asked(serving, realtime_access_logs_app):
    assert "AccessLogSetting" not in only(serving, "AWS::ApiGateway::Stage")["Properties"]  # off by default
    serving = realtime_access_logs_app[SERVING]
    stage = only(serving, "AWS::ApiGateway::Stage")["Properties"]
    assert stage["StageName"] == "v1"
    assert stage["TracingEnabled"] is True
    [settings] = stage["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (50, 100)
    groups = resources(serving, "AWS::Logs::LogGroup")
    [(name, log_group)] = [(n, g) for n, g in groups.items() if n.startswith("PredictionsApiAccessLogs")]
    assert name in _text(stage["AccessLogSetting"]["DestinationArn"])
    assert "AccessLogsKey" in _text(log_group["Properties"]["KmsKeyId"])
    key_policy = only(serving, "AWS::KMS::Key")["Properties"]["KeyPolicy"]["Statement"]
    [logs_grant] = [s for s in key_policy if s.get("Sid") == "CloudWatchLogsForTheAccessLogGroup"]
    assert "kms:EncryptionContext:aws:logs:arn" in logs_grant["Condition"]["ArnEquals"]


def test_dashboard_shows_the_endpoints_latency_errors_and_invocations(serving):
    body = _text(only(serving, "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"])
    for metric in ("Invocations", "ModelLatency", "Invocation4XXErrors", "Invocation5XXErrors", "4XXError"):
        assert f'\\"{metric}\\"' in body, metric
    assert "scoreline-realtime" in body


def test_outputs_name_what_callers_use(serving):
    assert {"PredictionsUrl", "InvokePolicyArn", "EndpointName", "RealtimeDashboardUrl"} <= set(serving["Outputs"])
