"""Training triggers on the local cloud (README, Retraining): a burst of new training files starts the pipeline
once, after the debounce window; the retrain schedule starts it through Scheduler's templated SageMaker target."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import boto3
import pytest

from demo.synth import synthesize
from local_mode.cloud import LocalCloud
from tests.local_mode.conftest import TERMINAL, local_cloud, wait_for
from tests.local_mode.test_iam_enforcement import drain, queue_url, without_permission

DEBOUNCE_SECONDS = 5  # far above the gap between two uploads' events, even on a busy machine
RETRAINING = {
    "retrain_on_new_data": True,
    "retrain_debounce_minutes": DEBOUNCE_SECONDS / 60,
    "retrain_schedule_expression": "cron(0 3 ? * MON *)",  # fired on demand below, never by the clock here
}


@pytest.fixture(scope="module")
def retraining_cloud(tmp_path_factory):
    """The app with both training triggers on, deployed, its schedules running."""
    out_dir = tmp_path_factory.mktemp("retraining") / "cdk.out"
    synthesize(out_dir, RETRAINING)
    with local_cloud(out_dir.parent / "cloud") as cloud:
        cloud.deploy(out_dir)
        cloud.start_schedules()
        yield cloud
        _wait_until_executions_finish(cloud)


def _executions(cloud: LocalCloud) -> list[dict]:
    return boto3.client("sagemaker").list_pipeline_executions(PipelineName=cloud.deployment.pipelines[0])[
        "PipelineExecutionSummaries"
    ]


def _wait_until_executions_finish(cloud: LocalCloud) -> None:
    wait_for(lambda: all(e["PipelineExecutionStatus"] in TERMINAL for e in _executions(cloud)), timeout=300)


def _debounce_invocations(cloud: LocalCloud) -> list[dict]:
    return [call for call in cloud.bus.invocations if "debounce" in call.get("function", "").lower()]


def test_twenty_new_training_files_start_one_execution_after_the_debounce_window(retraining_cloud, housing):
    bucket = retraining_cloud.deployment.bucket_for("DataBucket")
    s3 = boto3.client("s3")
    for index in range(20):  # 4,000 rows: the executions these triggers start train on them, and must end
        part = housing.iloc[index:4000:20].to_csv(index=False)
        s3.put_object(Bucket=bucket, Key=f"training/input/part-{index:02d}.csv", Body=part)
    s3.put_object(Bucket=bucket, Key="scoring/input/2026-11-25/rows.csv", Body=b"1,2,3\n")  # not training data
    uploaded = time.monotonic()

    started = wait_for(lambda: _executions(retraining_cloud), timeout=60)
    assert time.monotonic() - uploaded >= DEBOUNCE_SECONDS - 1  # not before the uploads went quiet
    time.sleep(DEBOUNCE_SECONDS + 1)  # nothing else is pending
    assert len(_executions(retraining_cloud)) == len(started) == 1
    calls = _debounce_invocations(retraining_cloud)
    assert len(calls) == 20 and all(call["error"] is None for call in calls)
    assert {call["result"]["action"] for call in calls} == {"scheduled", "postponed"}
    # ActionAfterCompletion=DELETE: the one-time schedule is gone once it started the pipeline.
    names = [s["Name"] for s in boto3.client("scheduler").list_schedules()["Schedules"]]
    assert "scoreline-retrain-after-new-data" not in names
    _wait_until_executions_finish(retraining_cloud)


def test_the_retrain_schedule_starts_one_execution(retraining_cloud):
    before = len(_executions(retraining_cloud))
    retraining_cloud.fire_schedule("scoreline-retrain")
    assert len(_executions(retraining_cloud)) == before + 1
    [call] = [call for call in retraining_cloud.bus.invocations if call["source"] == "schedule scoreline-retrain"]
    assert call["target"] == "arn:aws:sagemaker:us-east-1:123456789012:pipeline/scoreline-training"
    assert call["payload"] == {"PipelineName": "scoreline-training", "PipelineParameters": []}


def test_the_retrain_dead_letter_alarm_reaches_the_alert_topic(retraining_cloud):
    """The alarm on scoreline-retrain-dlq publishes as cloudwatch.amazonaws.com: the alert topic's policy and its key's
    policy must name it, as for the scoring alarms."""
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName="retrain-alert-subscriber")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":scoreline-alerts"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    retraining_cloud.alarm("scoreline-undelivered-retrain-triggers")
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert json.loads(json.loads(message["Body"])["Message"])["AlarmName"] == "scoreline-undelivered-retrain-triggers"


def _schedule_pipeline_start(cloud: LocalCloud, name: str, parameters: list[dict]) -> None:
    """A one-time schedule due now, created as a user would, whose templated target is the pipeline (its ARN) with
    `parameters` as SageMakerPipelineParameters, run with the retrain schedule's role and dead-letter queue."""
    retrain = cloud.deployment.schedules["scoreline-retrain"].target
    pipeline = f"arn:aws:sagemaker:{cloud.deployment.region}:{cloud.deployment.account}:pipeline/scoreline-training"
    boto3.client("scheduler").create_schedule(
        Name=name,
        ScheduleExpression=f"at({datetime.now(UTC):%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={
            "Arn": pipeline,
            "RoleArn": retrain.role_arn,
            "SageMakerPipelineParameters": {"PipelineParameterList": parameters},
            "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60},
            "DeadLetterConfig": {"Arn": retrain.dead_letter_arn},
        },
    )


def test_a_pipeline_schedule_starts_an_execution_with_its_pipeline_parameters(retraining_cloud):
    """An NVMe training type instead of the EBS-only default: the execution stops at its first step, CheckInstanceTypes,
    whose message shows the value the schedule passed."""
    sagemaker = boto3.client("sagemaker")
    before = {e["PipelineExecutionArn"] for e in _executions(retraining_cloud)}
    parameters = [{"Name": "TrainingInstanceType", "Value": "ml.g5.xlarge"}]
    _schedule_pipeline_start(retraining_cloud, "retrain-on-instance-storage", parameters)
    [started] = wait_for(lambda: [e for e in _executions(retraining_cloud) if e["PipelineExecutionArn"] not in before])

    def finished():
        execution = sagemaker.describe_pipeline_execution(PipelineExecutionArn=started["PipelineExecutionArn"])
        return execution if execution["PipelineExecutionStatus"] in TERMINAL else None

    execution = wait_for(finished, timeout=60)
    assert execution["PipelineExecutionStatus"] == "Failed"
    assert "TrainingInstanceType ml.g5.xlarge" in execution["FailureReason"]
    source = "schedule retrain-on-instance-storage"
    [call] = wait_for(lambda: [c for c in retraining_cloud.bus.invocations if c["source"] == source])
    assert call["payload"] == {"PipelineName": "scoreline-training", "PipelineParameters": parameters}


def test_a_schedule_role_that_may_not_start_the_pipeline_sends_the_trigger_to_the_dead_letter_queue(retraining_cloud):
    dlq = queue_url(retraining_cloud, "scoreline-retrain-dlq")
    drain(dlq)
    before = len(_executions(retraining_cloud))
    role = retraining_cloud.deployment.schedules["scoreline-retrain"].target.role_arn.rsplit("/", 1)[1]
    with without_permission(role, "sagemaker:StartPipelineExecution"):
        _schedule_pipeline_start(retraining_cloud, "retrain-refused", [])
        (message,) = wait_for(lambda: drain(dlq), timeout=30)
    error = message["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"]
    assert "is not authorized to perform: sagemaker:StartPipelineExecution" in error
    assert len(_executions(retraining_cloud)) == before
