"""Training triggers on the local cloud (README, Retraining): a burst of new training files starts the pipeline
once, after the debounce window; the retrain schedule starts it through Scheduler's universal target."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from local_mode.cloud import LocalCloud
from local_mode.demo import synthesize
from tests.local_mode.conftest import TERMINAL, local_cloud, wait_for

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
    for index in range(20):
        part = housing.iloc[index::20].to_csv(index=False)
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
    assert call["target"].endswith(":scheduler:::aws-sdk:sagemaker:startPipelineExecution")
    assert call["payload"] == {"PipelineName": "scoreline-training"}


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
