"""The retrain debounce function against moto's EventBridge Scheduler: the first new object schedules the pipeline
start, each further one moves the same schedule later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from local_mode.modules import load_module
from tests.functions.conftest import variables_the_function_reads, variables_the_stack_passes

FUNCTION = Path(__file__).resolve().parents[2] / "functions" / "retrain_debounce" / "app.py"
ROLE_ARN = "arn:aws:iam::123456789012:role/scoreline-retrain-schedule"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:scoreline-retrain-dlq"
PIPELINE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/scoreline-training"
NAME = "scoreline-retrain-after-new-data"


@pytest.fixture
def debounce(monkeypatch):
    for name, value in {
        "RETRAIN_SCHEDULE_NAME": NAME,
        "RETRAIN_PIPELINE_ARN": PIPELINE_ARN,
        "RETRAIN_SCHEDULE_ROLE_ARN": ROLE_ARN,
        "RETRAIN_DEAD_LETTER_QUEUE_ARN": QUEUE_ARN,
        "RETRAIN_DEBOUNCE_SECONDS": "900",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield load_module(FUNCTION, "retrain_debounce_app")


def _event(key: str) -> dict:
    return {"source": "aws.s3", "detail-type": "Object Created", "detail": {"object": {"key": key}}}


def _start_time(schedule: dict) -> datetime:
    return datetime.fromisoformat(schedule["ScheduleExpression"][3:-1]).replace(tzinfo=UTC)


def test_the_first_object_schedules_one_pipeline_start_after_the_window(debounce):
    before = datetime.now(UTC).replace(microsecond=0)
    assert debounce.handler(_event("training/input/a.csv"), None)["action"] == "scheduled"
    schedule = boto3.client("scheduler").get_schedule(Name=NAME)
    assert before + timedelta(seconds=900) <= _start_time(schedule) <= before + timedelta(seconds=902)
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["Arn"] == PIPELINE_ARN and "Input" not in target
    assert target["SageMakerPipelineParameters"] == {"PipelineParameterList": []}
    assert target["RoleArn"] == ROLE_ARN and target["DeadLetterConfig"] == {"Arn": QUEUE_ARN}


def test_each_further_object_moves_the_same_schedule_later(debounce, monkeypatch):
    debounce.handler(_event("training/input/a.csv"), None)
    first = _start_time(boto3.client("scheduler").get_schedule(Name=NAME))
    monkeypatch.setenv("RETRAIN_DEBOUNCE_SECONDS", "1800")  # as if the second object came 15 minutes later
    assert debounce.handler(_event("training/input/b.csv"), None)["action"] == "postponed"
    schedules = boto3.client("scheduler").list_schedules()["Schedules"]
    assert [s["Name"] for s in schedules] == [NAME]
    assert _start_time(boto3.client("scheduler").get_schedule(Name=NAME)) >= first + timedelta(seconds=900)


def test_the_function_reads_exactly_the_settings_the_stack_passes():
    assert variables_the_function_reads("retrain_debounce") == set(
        variables_the_stack_passes("retrain_debounce").values()
    )
