"""EventBridge rules publish to SNS as events.amazonaws.com: the topic policy must allow them (EventBridge user guide,
"Amazon SNS permissions"), limited to this account's rules (aws:SourceArn of the rule, aws:SourceAccount), and an
encrypted topic's key must let EventBridge use it (SNS: "Enable compatibility ... encrypted topics"). EventBridge's
KMS requests carry no aws:SourceArn/aws:SourceAccount, so the key grant is held to this topic by encryption context."""

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

EVENTS = "events.amazonaws.com"


def _rules_and_their_topics(template: dict) -> list[tuple[str, str]]:
    topics = resources(template, "AWS::SNS::Topic")
    found = []
    for rule in resources(template, "AWS::Events::Rule").values():
        for target in rule["Properties"]["Targets"]:
            if isinstance(target["Arn"], dict) and target["Arn"].get("Ref") in topics:
                assert isinstance(rule["Properties"].get("Name"), str), "a rule without a fixed name cannot be named"
                found.append((arn("events", f"rule/{rule['Properties']['Name']}"), target["Arn"]["Ref"]))
    return found


def test_pipeline_and_transform_failures_target_the_alert_topic(app_templates):
    assert len(_rules_and_their_topics(app_templates["ScorelineScoring"])) == 2


def test_the_topic_policy_lets_each_rule_publish_and_only_this_accounts(app_templates):
    scoring = app_templates["ScorelineScoring"]
    for rule_arn, topic in _rules_and_their_topics(scoring):
        granting = [
            s for s in topic_policy_of(scoring, topic) if EVENTS in service_principals(s) and allows(s, "sns:Publish")
        ]
        assert any(matches_arn(s, rule_arn) for s in granting), f"{rule_arn} may not publish to {topic}"
        assert all(limited_to_this_account(s) and condition_values(s, "aws:SourceArn") for s in granting)


def test_the_topic_key_lets_eventbridge_encrypt_for_this_topic_only(app_templates):
    scoring = app_templates["ScorelineScoring"]
    for _, topic in _rules_and_their_topics(scoring):
        properties = scoring["Resources"][topic]["Properties"]
        topic_arn = arn("sns", properties["TopicName"])
        granting = [
            s
            for s in key_policy_of(scoring, properties["KmsMasterKeyId"])
            if EVENTS in service_principals(s)
            and allows(s, "kms:GenerateDataKey")
            and allows(s, "kms:Decrypt")
            and condition_values(s, "kms:EncryptionContext:aws:sns:topicArn") == {"StringEquals": [topic_arn]}
        ]
        assert granting, f"the key of {topic} does not let EventBridge publish to it"
