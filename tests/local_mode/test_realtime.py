"""The real-time path in the local cloud, end to end: the app synthesized with realtime=true and deployed, a
version approved -> the serving function creates the endpoint -> the local endpoint serves both containers -> the
API answers on 127.0.0.1; a second approval updates it with its deployment config; rejecting it rolls back. A
version whose endpoint fails to create is alerted and the endpoint deleted, so the next approval serves; deleting
the serving stack (real-time turned off) leaves no endpoint, configuration, model, alarm or scalable target."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from demo.synth import synthesize
from local_mode.apigateway.predictions import PredictionsApi
from tests.local_mode.conftest import alert_subscriber, local_cloud, wait_for
from tests.local_mode.test_endpoints import IMAGE, artifacts, fitted_transformer, post
from tests.local_mode.test_iam_enforcement import drain, queue_url

ENDPOINT = "scoreline-realtime"
ACCOUNT = "123456789012"
GROUP = "scoreline-models"


@pytest.fixture(scope="module")
def realtime(tmp_path_factory):
    """One realtime cloud for the module (synth and deploy: 5 s on 2 cores); the tests run in order, the last
    deletes the stacks."""
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


def version_prefix(package_arn: str) -> str:
    return f"scoreline-serving-v{package_arn.rsplit('/', 1)[1]}-"


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


@pytest.fixture(scope="module")
def alerts(realtime):
    return alert_subscriber("realtime-alert-subscriber")


def endpoint_gone():
    try:
        boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    except ClientError:
        return True
    return None


def test_a_failed_endpoint_is_alerted_and_deleted_and_the_next_approval_serves(realtime, alerts, tmp_path):
    broken = register(realtime, 0, tmp_path / "broken")
    boto3.client("s3").delete_object(Bucket=realtime["bucket"], Key="pipeline/models/v0/model/model.tar.gz")
    set_status(broken, "Approved")
    # Created, Failed (its model cannot load), alerted, then deleted by the function.
    received = []

    def endpoint_alerts():
        received.extend(json.loads(message["Body"]) for message in drain(alerts))
        return [m["Message"] for m in received if m["Subject"] == "Scoreline: real-time endpoint not updated"]

    (alert,) = wait_for(endpoint_alerts, timeout=60)
    wait_for(endpoint_gone, timeout=10)
    assert "endpoint is Failed" in alert and "the endpoint is deleted and the next approval creates it again" in alert
    # A Failed endpoint takes DeleteEndpoint only, as on AWS.
    sagemaker = boto3.client("sagemaker")
    config = next(
        c["EndpointConfigName"]
        for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]
        if c["EndpointConfigName"].startswith(version_prefix(broken))
    )
    sagemaker.create_endpoint(EndpointName="scratch", EndpointConfigName=config)
    wait_for(lambda: sagemaker.describe_endpoint(EndpointName="scratch")["EndpointStatus"] == "Failed" or None)
    arn = sagemaker.describe_endpoint(EndpointName="scratch")["EndpointArn"]
    for refused in (
        lambda: sagemaker.update_endpoint(EndpointName="scratch", EndpointConfigName=config),
        lambda: sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}]),
    ):
        with pytest.raises(ClientError, match="DeleteEndpoint is the only operation"):
            refused()
    sagemaker.delete_endpoint(EndpointName="scratch")

    good = register(realtime, 1, tmp_path / "v1")
    set_status(good, "Approved")
    wait_for(serving(version_prefix(good)), timeout=60)


def test_approval_serves_rejection_rolls_back(realtime, tmp_path):
    packages = boto3.client("sagemaker").list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    first = max(  # the version the test above left serving: the newest approved
        (p for p in packages if p["ModelApprovalStatus"] == "Approved"), key=lambda p: p["ModelPackageVersion"]
    )["ModelPackageArn"]
    wait_for(serving(version_prefix(first)), timeout=60)

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
    endpoint = wait_for(serving(version_prefix(second)), timeout=60)
    guardrails = endpoint["LastDeploymentConfig"]
    assert guardrails["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert [alarm["AlarmName"] for alarm in guardrails["AutoRollbackConfiguration"]["Alarms"]] == [
        "scoreline-realtime-new-fleet-errors",
        "scoreline-realtime-new-fleet-latency",
    ]

    set_status(second, "Rejected")
    wait_for(serving(version_prefix(first)), timeout=60)
    assert post(realtime["api"].url, b"3,10,a\n")[0] == 200
    autoscaling = boto3.client("application-autoscaling")
    [target] = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert target["ResourceId"] == f"endpoint/{ENDPOINT}/variant/AllTraffic"


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


def test_deleting_the_stacks_leaves_nothing_the_functions_created(realtime):
    sagemaker, cloudformation = boto3.client("sagemaker"), boto3.client("cloudformation")
    assert sagemaker.list_endpoints()["Endpoints"]  # the tests above left the endpoint serving
    # A stack whose export another stack imports cannot go first (CloudFormation Fn::ImportValue).
    cloudformation.delete_stack(StackName="ScorelineStorage")
    [storage] = cloudformation.describe_stacks(StackName="ScorelineStorage")["Stacks"]
    assert storage["StackStatus"] == "DELETE_FAILED"
    assert "cannot be deleted as it is in use by" in storage["StackStatusReason"]

    for stack in ("ScorelineServing", "ScorelineScoring"):  # real-time off, then what `cdk destroy --all` does next
        cloudformation.delete_stack(StackName=stack)
        with pytest.raises(ClientError, match="does not exist"):
            cloudformation.describe_stacks(StackName=stack)
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []
    assert boto3.client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    autoscaling = boto3.client("application-autoscaling")
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
