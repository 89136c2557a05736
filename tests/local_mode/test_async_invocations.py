"""Rules and schedules invoke functions asynchronously: a function error gets Lambda's retries from the deployed
event invoke config, then an invocation record in the on-failure destination, not the target's dead-letter queue."""

from __future__ import annotations

import json

import boto3
import pytest

MALFORMED = {"trigger": "schedule", "scheduled_time": "not a time"}


def _queue_url(cloud, name: str) -> str:
    return next(url for arn, url in cloud.deployment.queues.items() if arn.endswith(f":{name}"))


def _messages(queue_url: str) -> list[dict]:
    received = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(message["Body"]) for message in received.get("Messages", [])]


@pytest.fixture
def scoring(cloud):
    schedule = cloud.deployment.schedules["scoreline-scoring"]
    return schedule.target, cloud.deployment.functions[schedule.target.arn]


def test_the_deployed_event_invoke_config_is_read(cloud, scoring):
    _, function = scoring
    assert function.async_retries == 2
    assert function.max_event_age_seconds == 7200
    assert function.on_failure_arn.endswith(":scoreline-scoring-failed-invocations")


def test_a_function_error_is_retried_twice_then_recorded_in_the_on_failure_queue(cloud, scoring):
    target, function = scoring
    before = len(cloud.bus.invocations)
    cloud.bus.deliver(target, MALFORMED, source="test")
    calls = [call for call in cloud.bus.invocations[before:] if call.get("payload") == MALFORMED]
    assert len(calls) == 3 and all(call["error"].startswith("MalformedEvent: ") for call in calls)
    (record,) = _messages(_queue_url(cloud, "scoreline-scoring-failed-invocations"))
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == f"{function.arn}:$LATEST"
    assert record["requestPayload"] == MALFORMED
    assert record["responsePayload"]["errorType"] == "MalformedEvent"
    assert "scheduled_time" in record["responsePayload"]["errorMessage"]
    assert _messages(_queue_url(cloud, "scoreline-scoring-dlq")) == []  # the delivery itself succeeded


def test_an_event_older_than_the_maximum_age_is_given_up_before_its_retry(cloud, scoring, monkeypatch):
    target, function = scoring
    monkeypatch.setattr(function, "max_event_age_seconds", 30)  # under the first retry's 60 s wait
    before = len(cloud.bus.invocations)
    cloud.bus.deliver(target, MALFORMED, source="test")
    assert len([call for call in cloud.bus.invocations[before:] if call.get("payload") == MALFORMED]) == 1
    (record,) = _messages(_queue_url(cloud, "scoreline-scoring-failed-invocations"))
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
