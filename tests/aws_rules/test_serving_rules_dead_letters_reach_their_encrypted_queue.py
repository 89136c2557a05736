"""Without a dead-letter queue, "If an event isn't delivered after all retry attempts are exhausted, the event is
dropped" (EventBridge user guide, "How EventBridge retries delivering events"; "Using dead-letter queues to process
undelivered events"). The serving stack's rules send theirs to the scoring dead-letter queue, which alarms: its
queue policy lets events.amazonaws.com send for exactly these rules, and its key (the alerts key) lets EventBridge
encrypt for this queue only (SQS encryption context aws:sqs:arn)."""

from tests.aws_rules.policies import (
    allows,
    arn,
    condition_values,
    key_policy_of,
    matches_arn,
    render,
    service_principals,
    statements,
)
from tests.synth_helpers import resources

QUEUE_ARN = arn("sqs", "scoreline-scoring-dlq")
EVENTS = "events.amazonaws.com"


def _scoring_queue(scoring: dict) -> tuple[str, dict]:
    [(name, queue)] = [
        (name, queue)
        for name, queue in resources(scoring, "AWS::SQS::Queue").items()
        if queue["Properties"]["QueueName"] == "scoreline-scoring-dlq"
    ]
    return name, queue


def test_every_serving_rule_target_has_the_scoring_dead_letter_queue(realtime_app):
    rules = resources(realtime_app["ScorelineServing"], "AWS::Events::Rule").values()
    assert len(rules) == 2
    for rule in rules:
        for target in rule["Properties"]["Targets"]:
            assert render(target.get("DeadLetterConfig", {}).get("Arn", "")) == QUEUE_ARN, rule["Properties"]["Name"]


def test_the_queue_policy_lets_each_serving_rule_send_and_the_key_lets_eventbridge_encrypt(realtime_app):
    scoring = realtime_app["ScorelineScoring"]
    name, queue = _scoring_queue(scoring)
    granting = [
        s
        for policy in resources(scoring, "AWS::SQS::QueuePolicy").values()
        if {"Ref": name} in policy["Properties"]["Queues"]
        for s in statements(policy["Properties"]["PolicyDocument"])
        if EVENTS in service_principals(s) and allows(s, "sqs:SendMessage")
    ]
    for rule in resources(realtime_app["ScorelineServing"], "AWS::Events::Rule").values():
        rule_arn = arn("events", f"rule/{rule['Properties']['Name']}")
        assert any(matches_arn(s, rule_arn) for s in granting), f"{rule_arn} may not send to the dead-letter queue"
    key = [
        s
        for s in key_policy_of(scoring, queue["Properties"]["KmsMasterKeyId"])
        if EVENTS in service_principals(s) and allows(s, "kms:GenerateDataKey") and allows(s, "kms:Decrypt")
    ]
    assert any(condition_values(s, "kms:EncryptionContext:aws:sqs:arn") == {"StringEquals": [QUEUE_ARN]} for s in key)
