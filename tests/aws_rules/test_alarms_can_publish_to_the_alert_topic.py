"""CloudWatch alarms publish to SNS as cloudwatch.amazonaws.com. To an encrypted topic they need sns:Publish in the
topic policy and kms:GenerateDataKey*/kms:Decrypt in the topic key's policy (SNS developer guide: "Enable
compatibility between event sources from AWS services and encrypted topics"), each limited to this account's
alarms (aws:SourceArn of the alarm, aws:SourceAccount), so another account's alarm cannot use them.
Checked in each flavour and in the app with the training triggers on, whose retrain dead-letter queue alarms too."""

import pytest

from tests.aws_rules.policies import (
    allows,
    arn,
    condition_values,
    key_policy_of,
    limited_to_this_account,
    matches_arn,
    service_principals,
    topic_policy_of,
)
from tests.synth_helpers import resources

CLOUDWATCH = "cloudwatch.amazonaws.com"


@pytest.fixture(params=["sklearn_app", "pytorch_app", "training_triggers_app"])
def alerting_app(request) -> dict[str, dict]:
    return request.getfixturevalue(request.param)


def _alarms_and_their_topics(template: dict) -> list[tuple[str, str]]:
    """(alarm ARN, topic logical id) for every alarm action that is a topic of this stack."""
    topics = resources(template, "AWS::SNS::Topic")
    found = []
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        assert isinstance(properties.get("AlarmName"), str), "an alarm without a fixed name cannot be named in policies"
        for action in properties.get("AlarmActions", []):
            if action.get("Ref") in topics:
                found.append((arn("cloudwatch", f"alarm:{properties['AlarmName']}"), action["Ref"]))
    return found


def test_every_alarm_notifies_the_alert_topic(alerting_app):
    scoring = alerting_app["ScorelineScoring"]
    alarms = resources(scoring, "AWS::CloudWatch::Alarm")
    assert len(_alarms_and_their_topics(scoring)) == len(alarms) >= 3


def test_the_topic_policy_lets_each_alarm_publish_and_only_this_accounts(alerting_app):
    scoring = alerting_app["ScorelineScoring"]
    for alarm_arn, topic in _alarms_and_their_topics(scoring):
        granting = [
            s
            for s in topic_policy_of(scoring, topic)
            if CLOUDWATCH in service_principals(s) and allows(s, "sns:Publish") and s["Resource"] == {"Ref": topic}
        ]
        assert any(matches_arn(s, alarm_arn) for s in granting), f"{alarm_arn} may not publish to {topic}"
        assert all(limited_to_this_account(s) for s in granting)


def test_the_topic_key_lets_each_alarm_encrypt_for_this_topic_only(alerting_app):
    scoring = alerting_app["ScorelineScoring"]
    for alarm_arn, topic in _alarms_and_their_topics(scoring):
        properties = scoring["Resources"][topic]["Properties"]
        topic_arn = arn("sns", properties["TopicName"])
        granting = [
            s
            for s in key_policy_of(scoring, properties["KmsMasterKeyId"])
            if CLOUDWATCH in service_principals(s)
            and allows(s, "kms:GenerateDataKey")
            and allows(s, "kms:Decrypt")
            and matches_arn(s, alarm_arn)
        ]
        assert granting, f"the key of {topic} does not let {alarm_arn} encrypt"
        for statement in granting:
            assert limited_to_this_account(statement)
            context = condition_values(statement, "kms:EncryptionContext:aws:sns:topicArn")
            assert context == {"StringEquals": [topic_arn]}
