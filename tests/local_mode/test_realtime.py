"""The real-time path in the local cloud, end to end: the app synthesized with realtime=true and deployed, a
version approved -> the serving function creates the endpoint -> the local endpoint serves both containers -> the
API answers on 127.0.0.1; a second approval updates it with its deployment config; rejecting it rolls back."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from local_mode.apigateway.predictions import PredictionsApi
from local_mode.demo import synthesize
from tests.local_mode.conftest import local_cloud, wait_for
from tests.local_mode.test_endpoints import IMAGE, artifacts, fitted_transformer, post
from tests.local_mode.test_iam_enforcement import drain, queue_url

ENDPOINT = "scoreline-realtime"
ACCOUNT = "123456789012"
GROUP = "scoreline-models"


@pytest.fixture(scope="module")
def realtime(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("realtime-cloud") / "cdk.out"
    synthesize(out_dir, {"realtime": "true"})
    with local_cloud(out_dir.parent / "cloud") as cloud:
        deployment = cloud.deploy(out_dir)
        assert cloud.real_time_endpoint_name() == ENDPOINT
        api = PredictionsApi.for_cloud(cloud, out_dir).start()
        try:
            yield {"cloud": cloud, "api": api, "bucket": deployment.bucket_for("DataBucket")}
        finally:
            api.stop()


def register(realtime, version: int, tmp_path) -> str:
    # Under the pipeline's prefix, where registered versions' artifacts live: the model's role reads them there.
    uris = artifacts(tmp_path, fitted_transformer(), f"s3://{realtime['bucket']}/pipeline/models/v{version}")
    environment = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    return boto3.client("sagemaker").create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": uri, "Environment": environment} for uri in uris],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


def serving(config_prefix: str):
    def check():
        try:
            endpoint = boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
        except ClientError:  # not created yet
            return None
        ready = endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"].startswith(config_prefix)
        return endpoint if ready else None

    return check


def set_status(arn: str, status: str) -> None:
    boto3.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)


@pytest.mark.slow  # 31 s (synth and deploy); tests/local_mode/test_endpoints.py covers the endpoint fast
def test_approval_serves_rejection_rolls_back(realtime, tmp_path):
    first = register(realtime, 1, tmp_path / "v1")
    set_status(first, "Approved")
    wait_for(serving("scoreline-serving-v1-"), timeout=60)

    status, content_type, body = post(realtime["api"].url, b"3,10,a\n6,40,b\n")
    assert (status, content_type) == (200, "text/csv") and len(body.splitlines()) == 2
    bad = post(realtime["api"].url, b"3,10,a\n6,x,b\n")
    assert (bad[0], json.loads(bad[2])) == (400, {"message": "row 2: column 'age' has a non-numeric value 'x'"})
    # A caller's role needs the deployed InvokePredictionsPolicy (execute-api:Invoke on this API's method ARN).
    iam = boto3.client("iam")
    role_arn = iam.create_role(RoleName="app-caller", AssumeRolePolicyDocument='{"Statement": []}')["Role"]["Arn"]
    caller = realtime["cloud"].authorizer.roles.register(role_arn)
    assert post(realtime["api"].url, b"3,10,a\n", credentials=caller)[0] == 403
    iam.attach_role_policy(
        RoleName="app-caller", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/scoreline-invoke-predictions"
    )
    assert post(realtime["api"].url, b"3,10,a\n", credentials=caller)[0] == 200

    second = register(realtime, 2, tmp_path / "v2")
    set_status(second, "Approved")
    endpoint = wait_for(serving("scoreline-serving-v2-"), timeout=60)
    guardrails = endpoint["LastDeploymentConfig"]
    assert guardrails["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert [alarm["AlarmName"] for alarm in guardrails["AutoRollbackConfiguration"]["Alarms"]] == [
        "scoreline-realtime-new-fleet-errors",
        "scoreline-realtime-new-fleet-latency",
    ]

    set_status(second, "Rejected")
    wait_for(serving("scoreline-serving-v1-"), timeout=60)
    assert post(realtime["api"].url, b"3,10,a\n")[0] == 200
    autoscaling = boto3.client("application-autoscaling")
    [target] = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert target["ResourceId"] == f"endpoint/{ENDPOINT}/variant/AllTraffic"


@pytest.mark.slow  # the realtime cloud's synth and deploy (shared with the test above)
def test_a_serving_rule_event_the_function_cannot_take_waits_in_the_scoring_dead_letter_queue(realtime, monkeypatch):
    """EventBridge writes an undeliverable event to the target's dead-letter queue as events.amazonaws.com: the
    scoring stack's queue policy names the serving rules, and its key lets EventBridge encrypt for that queue."""
    cloud = realtime["cloud"]
    for name in ("scoreline-realtime-model-approved-or-rejected", "scoreline-realtime-endpoint-state"):
        rule = next(r for r in cloud.deployment.rules if r.name == name)
        (target,) = rule.targets
        monkeypatch.setattr(cloud.deployment.functions[target.arn], "permissions", [])
        dlq = queue_url(cloud, "scoreline-scoring-dlq")
        drain(dlq)
        cloud.bus.deliver_from_rule(rule, target, {"detail": {}})
        (message,) = drain(dlq)
        attributes = {key: value["StringValue"] for key, value in message["MessageAttributes"].items()}
        assert (attributes["ERROR_CODE"], attributes["RULE_ARN"]) == ("NO_PERMISSIONS", rule.arn)
