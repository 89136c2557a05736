"""IAM in the local cloud: each principal's calls are evaluated against its deployed policies with the real resource
ARN, and a refusal is AccessDenied as on AWS. Each test takes one permission away from a deployed role (through
the IAM API, as an edited template would deploy it), sees the refusal, and gives the permission back."""

from __future__ import annotations

import contextlib
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from local_mode import storage
from tests.local_mode.conftest import TERMINAL, wait_for

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-py312-cpu-py3"


def role_arn(fragment: str) -> str:
    return next(r["Arn"] for r in boto3.client("iam").list_roles()["Roles"] if fragment in r["RoleName"])


@contextlib.contextmanager
def without_permission(fragment: str, action: str):
    """The role's inline policies without `action`, for the duration of the block."""
    iam = boto3.client("iam")
    role = role_arn(fragment).rsplit("/", 1)[1]
    saved = {}
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        saved[name] = json.dumps(document)
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in actions if a != action] or ["none:Nothing"]
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    try:
        yield
    finally:
        for name, document in saved.items():
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document)


def queue_url(cloud, name: str) -> str:
    return next(url for arn, url in cloud.deployment.queues.items() if arn.endswith(f":{name}"))


def drain(url: str) -> list[dict]:
    sqs = boto3.client("sqs")
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        if not batch.get("Messages"):
            return messages
        messages += batch["Messages"]
        for message in batch["Messages"]:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


# A job's role reads its inputs and writes its outputs -----------------------------------------------------------
def test_the_job_role_reads_only_the_prefixes_its_policy_names(cloud):
    bucket = cloud.deployment.bucket_for("DataBucket")
    storage.write_object(f"s3://{bucket}/training/input/allowed.csv", b"a\n")
    storage.write_object(f"s3://{bucket}/private/secret.csv", b"b\n")
    s3 = cloud.clients.client("s3", role_arn("jobrole"))
    assert s3.get_object(Bucket=bucket, Key="training/input/allowed.csv")["Body"].read() == b"a\n"
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=bucket, Key="private/secret.csv")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert f"s3:GetObject on resource: arn:aws:s3:::{bucket}/private/secret.csv" in str(refused.value)
    with pytest.raises(ClientError, match="AccessDenied"):  # the job role writes scoring output, never input
        s3.put_object(Bucket=bucket, Key="training/input/overwritten.csv", Body=b"x")


def test_a_processing_job_whose_role_cannot_read_its_input_fails(cloud):
    bucket = cloud.deployment.bucket_for("DataBucket")
    storage.write_object(f"s3://{bucket}/private/rows.csv", b"1,2\n")
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_processing_job(
        ProcessingJobName="reads-private-input",
        RoleArn=role_arn("jobrole"),
        AppSpecification={"ImageUri": IMAGE, "ContainerEntrypoint": ["python3", "-c", "pass"]},
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 1}
        },
        ProcessingInputs=[
            {
                "InputName": "rows",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/private/",
                    "LocalPath": "/opt/ml/processing/input",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
    )

    def finished():
        job = sagemaker.describe_processing_job(ProcessingJobName="reads-private-input")
        return job if job["ProcessingJobStatus"] in TERMINAL else None

    job = wait_for(finished, timeout=60)
    assert job["ProcessingJobStatus"] == "Failed"
    assert "AccessDenied" in job["FailureReason"] and f"arn:aws:s3:::{bucket}/private" in job["FailureReason"]


# The pipeline role invokes the Lambda step and starts jobs ----------------------------------------------------
def _start_and_wait(cloud) -> dict:
    sagemaker = boto3.client("sagemaker")
    arn = sagemaker.start_pipeline_execution(PipelineName=cloud.deployment.pipelines[0])["PipelineExecutionArn"]

    def finished():
        execution = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        return execution if execution["PipelineExecutionStatus"] in TERMINAL else None

    return wait_for(finished, timeout=120)


def test_a_pipeline_role_that_cannot_invoke_the_function_fails_the_lambda_step(cloud):
    with without_permission("pipelinerole", "lambda:InvokeFunction"):
        execution = _start_and_wait(cloud)
    assert execution["PipelineExecutionStatus"] == "Failed"
    assert execution["FailureReason"].startswith(
        "Step TrainingData failed: StepFailedError: AccessDeniedException: User: arn:aws:sts::123456789012:"
        "assumed-role/scorelinetraining-pipelinerole"
    )
    assert (
        "is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:"
        in (execution["FailureReason"])
    )


def test_a_pipeline_role_that_cannot_start_processing_jobs_fails_the_step(cloud):
    with without_permission("pipelinerole", "sagemaker:CreateProcessingJob"):
        execution = _start_and_wait(cloud)
    assert execution["PipelineExecutionStatus"] == "Failed"
    reason = execution["FailureReason"]
    assert reason.startswith("Step Preprocess failed: ClientError: An error occurred (AccessDeniedException)")
    assert "sagemaker:CreateProcessingJob on resource: arn:aws:sagemaker:us-east-1:123456789012:processing-job/" in (
        reason
    )


# The scoring function's own calls are signed as its role ------------------------------------------------------
def test_the_scoring_function_calls_aws_as_its_role(cloud):
    schedule = cloud.deployment.schedules["scoreline-scoring"]
    payload = {"trigger": "schedule", "scheduled_time": "2026-01-05T06:00:00Z"}
    function = cloud.deployment.functions[schedule.target.arn]
    with without_permission("scoringfunctionrole", "sagemaker:ListModelPackages"):
        error = cloud.bus.invoke(function, payload, source="test")
    assert error.startswith("ClientError: An error occurred (AccessDeniedException) when calling the ListModelPackages")
    assert "assumed-role/scorelinescoring-scoringfunctionrole" in error
    assert cloud.bus.invoke(function, payload, source="test") is None  # the same call with the permission back


def test_the_scoring_function_records_the_alerts_it_sends_as_its_role(cloud):
    """Its role writes the record of an alert (s3:PutObject If-None-Match under scoring/alerts/) and deletes it
    when the alert could not be published, so the event's retry alerts and a later delivery of the run does not."""
    schedule = cloud.deployment.schedules["scoreline-scoring"]
    payload = {"trigger": "schedule", "scheduled_time": "2026-01-06T06:00:00Z"}  # a day without input
    function = cloud.deployment.functions[schedule.target.arn]
    before = len(cloud.bus.invocations)
    with without_permission("scoringfunctionrole", "sns:Publish"):
        error = cloud.bus.invoke(function, payload, source="test")
    assert cloud.bus.invoke(function, payload, source="test") is None  # Lambda's retry
    assert cloud.bus.invoke(function, payload, source="test") is None  # a second delivery

    assert "sns:Publish" in error
    calls = cloud.bus.invocations[before:]
    assert [[decision["action"] for decision in call["result"] or []] for call in calls] == [
        [],
        ["alerted"],
        ["already_alerted"],
    ]


# The scheduler's role invokes the function and writes its dead-letter queue -----------------------------------
def test_a_scheduler_role_that_cannot_invoke_the_function_sends_the_event_to_the_dead_letter_queue(cloud):
    dlq = queue_url(cloud, "scoreline-scoring-dlq")
    drain(dlq)
    before = len(cloud.bus.invocations)
    with without_permission("schedulerrole", "lambda:InvokeFunction"):
        cloud.fire_schedule("scoreline-scoring")
    calls = cloud.bus.invocations[before:]
    assert [call.get("function") for call in calls] == [None]  # nothing ran
    assert "lambda:InvokeFunction" in calls[0]["error"]
    (message,) = drain(dlq)
    assert (
        "is not authorized to perform: lambda:InvokeFunction"
        in (message["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"])
    )


def test_a_scheduler_role_that_cannot_write_its_dead_letter_queue_drops_the_event(cloud):
    dlq = queue_url(cloud, "scoreline-scoring-dlq")
    drain(dlq)
    with (
        without_permission("schedulerrole", "lambda:InvokeFunction"),
        without_permission("schedulerrole", "sqs:SendMessage"),
    ):
        cloud.fire_schedule("scoreline-scoring")
    assert drain(dlq) == []


def test_a_scheduler_role_whose_trust_policy_names_another_account_is_not_assumed(cloud):
    iam = boto3.client("iam")
    role = role_arn("schedulerrole").rsplit("/", 1)[1]
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    changed = json.loads(json.dumps(trust).replace("123456789012", "210987654321"))
    before = len(cloud.bus.invocations)
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(changed))
    try:
        cloud.fire_schedule("scoreline-scoring")
    finally:
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))
    (call,) = cloud.bus.invocations[before:]
    assert "sts:AssumeRole" in call["error"] and "trust policy" in call["error"]


# Application Auto Scaling acts on the target service and CloudWatch with the caller's permissions ----------------
ENDPOINT_ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/scoreline-realtime"
TARGET_TRACKING_ALARMS = (
    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:TargetTracking-endpoint/scoreline-realtime/variant/AllTraffic-"
)


def test_scaling_a_sagemaker_variant_needs_the_target_service_and_alarm_permissions(cloud):
    """Application Auto Scaling, "Permissions required for API actions on target services and CloudWatch": the
    caller needs sagemaker:UpdateEndpointWeightsAndCapacities (and Describe*) on the endpoint to register its variant,
    and cloudwatch:PutMetricAlarm/DescribeAlarms/DeleteAlarms on the TargetTracking-* alarms for a target-tracking
    policy; application-autoscaling:* and DescribeEndpoint alone are refused."""
    iam = boto3.client("iam")
    name = "scales-an-endpoint"
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    document = {"Version": "2012-10-17", "Statement": [trust]}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"]

    def allow(policy: str, actions: list[str], resource: str) -> None:
        statement = {"Effect": "Allow", "Action": actions, "Resource": resource}
        document = {"Version": "2012-10-17", "Statement": [statement]}
        iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(document))

    allow("autoscaling", ["application-autoscaling:*"], "*")
    allow("describe", ["sagemaker:DescribeEndpoint"], ENDPOINT_ARN)
    autoscaling = cloud.clients.client("application-autoscaling", role)
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/scoreline-realtime/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    policy = {
        **target,
        "PolicyName": "scoreline-realtime-invocations",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 100.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        },
    }
    with pytest.raises(ClientError) as refused:
        autoscaling.register_scalable_target(**target, MinCapacity=2, MaxCapacity=4)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"sagemaker:UpdateEndpointWeightsAndCapacities on resource: {ENDPOINT_ARN}" in str(refused.value)

    allow("endpoint", ["sagemaker:UpdateEndpointWeightsAndCapacities"], ENDPOINT_ARN)
    autoscaling.register_scalable_target(**target, MinCapacity=2, MaxCapacity=4)
    with pytest.raises(ClientError) as refused:
        autoscaling.put_scaling_policy(**policy)
    assert f"cloudwatch:PutMetricAlarm on resource: {TARGET_TRACKING_ALARMS}AlarmHigh-" in str(refused.value)

    allow(
        "alarms",
        ["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
        f"{TARGET_TRACKING_ALARMS}*",
    )
    autoscaling.put_scaling_policy(**policy)
