"""Deliveries in the local cloud need what AWS needs: the target's resource policy (Lambda permission, topic or
queue policy) must allow the delivering service for this rule or alarm (aws:SourceArn, aws:SourceAccount), and an
encrypted target's key policy must let that service use the key; otherwise the message is not delivered: a rule
sends it to the target's dead-letter queue (ERROR_CODE NO_PERMISSIONS), an alarm's action fails."""

from __future__ import annotations

import contextlib
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from local_mode.model import Alarm
from tests.local_mode.conftest import alert_subscriber
from tests.local_mode.test_iam_enforcement import drain, queue_url, role_arn, without_permission


@pytest.fixture(scope="module")
def alerts(cloud):
    """The alert topic's ARN and a queue subscribed to it."""
    topic = next(
        t["TopicArn"]
        for t in boto3.client("sns").list_topics()["Topics"]
        if t["TopicArn"].endswith(":scoreline-alerts")
    )
    return topic, alert_subscriber("alert-subscriber")


def rule(cloud, name: str):
    return next(r for r in cloud.deployment.rules if r.name == name)


@contextlib.contextmanager
def key_policy_without(topic_arn: str, sid: str):
    sns, kms = boto3.client("sns"), boto3.client("kms")
    key = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]["KmsMasterKeyId"]
    saved = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    policy = json.loads(saved)
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != sid]
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    try:
        yield
    finally:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=saved)


@contextlib.contextmanager
def topic_policy_without(topic_arn: str, sid: str):
    sns = boto3.client("sns")
    saved = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]["Policy"]
    policy = json.loads(saved)
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != sid]
    sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(policy))
    try:
        yield
    finally:
        sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="Policy", AttributeValue=saved)


FAILED = {"currentPipelineExecutionStatus": "Failed", "pipelineExecutionArn": "arn:test"}


def _pipeline_failed(cloud) -> None:
    pipeline = f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{cloud.deployment.pipelines[0]}"
    detail_type = "SageMaker Model Building Pipeline Execution Status Change"
    cloud.bus.put_event("aws.sagemaker", detail_type, FAILED, [pipeline])


# Rule -> topic --------------------------------------------------------------------------------------------------
def test_a_failure_rule_reaches_the_encrypted_alert_topic(cloud, alerts):
    topic, url = alerts
    drain(url)
    _pipeline_failed(cloud)
    (message,) = drain(url)
    assert json.loads(json.loads(message["Body"])["Message"])["detail"] == FAILED


def test_a_topic_policy_without_the_rule_drops_its_events(cloud, alerts):
    topic, url = alerts
    drain(url)
    with topic_policy_without(topic, "FailureRulesOfThisApp"):
        _pipeline_failed(cloud)
    assert drain(url) == []
    assert "no resource-based policy allows it" in cloud.bus.invocations[-1]["error"]


def test_a_key_policy_without_eventbridge_drops_the_rules_events(cloud, alerts):
    topic, url = alerts
    drain(url)
    with key_policy_without(topic, "RulesPublishToTheAlertTopic"):
        _pipeline_failed(cloud)
    assert drain(url) == []
    assert "kms:GenerateDataKey" in cloud.bus.invocations[-1]["error"]


# Alarm -> topic -------------------------------------------------------------------------------------------------
def test_an_alarm_of_this_app_reaches_the_alert_topic(cloud, alerts):
    topic, url = alerts
    drain(url)
    cloud.alarm("scoreline-scoring-function-errors")
    (message,) = drain(url)
    assert json.loads(json.loads(message["Body"])["Message"])["AlarmName"] == "scoreline-scoring-function-errors"


def test_an_alarm_the_topic_policy_does_not_name_cannot_publish(cloud, alerts, monkeypatch):
    topic, url = alerts
    drain(url)
    other = Alarm("someone-elses-alarm", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:someone-elses-alarm", [topic])
    monkeypatch.setitem(cloud.deployment.alarms, other.name, other)
    cloud.alarm(other.name)
    assert drain(url) == []


def test_a_key_policy_without_cloudwatch_drops_the_alarm(cloud, alerts):
    topic, url = alerts
    drain(url)
    with key_policy_without(topic, "AlarmsPublishToTheAlertTopic"):
        cloud.alarm("scoreline-scoring-function-errors")
    assert drain(url) == []


# Rule -> function, then its dead-letter queue -------------------------------------------------------------------
def test_a_function_without_the_rules_permission_gets_nothing_and_the_event_goes_to_the_dead_letter_queue(
    cloud, monkeypatch
):
    approval = rule(cloud, "scoreline-model-approved-or-rejected")
    (target,) = approval.targets
    function = cloud.deployment.functions[target.arn]
    monkeypatch.setattr(function, "permissions", [])
    dlq = queue_url(cloud, "scoreline-scoring-dlq")
    drain(dlq)
    before = len(cloud.bus.invocations)
    cloud.bus.deliver_from_rule(approval, target, {"detail": {}})
    assert [call.get("function") for call in cloud.bus.invocations[before:]] == [None]
    (message,) = drain(dlq)
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes["RULE_ARN"] == approval.arn and attributes["TARGET_ARN"] == target.arn
    assert "lambda:InvokeFunction" in attributes["ERROR_MESSAGE"]


def test_a_permission_for_another_rule_does_not_let_this_rule_invoke(cloud, monkeypatch):
    approval = rule(cloud, "scoreline-model-approved-or-rejected")
    (target,) = approval.targets
    function = cloud.deployment.functions[target.arn]
    elsewhere = json.loads(json.dumps(function.permissions).replace(approval.arn, f"{approval.arn}-elsewhere"))
    monkeypatch.setattr(function, "permissions", elsewhere)
    dlq = queue_url(cloud, "scoreline-scoring-dlq")
    drain(dlq)
    cloud.bus.deliver_from_rule(approval, target, {"detail": {}})
    assert len(drain(dlq)) == 1


def test_a_dead_letter_queue_whose_policy_does_not_name_the_rule_drops_the_event(cloud, monkeypatch):
    approval = rule(cloud, "scoreline-model-approved-or-rejected")
    (target,) = approval.targets
    monkeypatch.setattr(cloud.deployment.functions[target.arn], "permissions", [])
    sqs = boto3.client("sqs")
    dlq = queue_url(cloud, "scoreline-scoring-dlq")
    saved = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["Policy"])["Attributes"]["Policy"]
    policy = json.loads(saved)
    policy["Statement"] = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"Policy": json.dumps(policy)})
    drain(dlq)
    try:
        cloud.bus.deliver_from_rule(approval, target, {"detail": {}})
    finally:
        sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"Policy": saved})
    assert drain(dlq) == []


# A role's write to an encrypted queue needs the key ----------------------------------------------------------------
def test_writing_an_encrypted_queue_needs_the_key(cloud):
    role = role_arn("scoringfunctionrole")
    url = queue_url(cloud, "scoreline-scoring-failed-invocations")
    cloud.clients.client("sqs", role).send_message(QueueUrl=url, MessageBody="{}")
    with without_permission("scoringfunctionrole", "kms:GenerateDataKey*"), pytest.raises(ClientError) as refused:
        cloud.clients.client("sqs", role).send_message(QueueUrl=url, MessageBody="{}")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert "kms:GenerateDataKey on resource: arn:aws:kms:us-east-1:123456789012:key/" in str(refused.value)
    drain(url)
