"""Undelivered retraining triggers reach the dead-letter queue. EventBridge Scheduler sends a schedule's dead letters
with the schedule's execution role ("Configuring a dead-letter queue"): sqs:SendMessage on the queue and, for a
queue under a customer managed key, kms:GenerateDataKey and kms:Decrypt on it (SQS: "Configure KMS permissions for
producers"). EventBridge writes a rule's dead letters as events.amazonaws.com ("Using dead-letter queues"): the
queue policy allows it for the rule, and the key policy lets it use the key for this queue."""

from tests.aws_rules.policies import (
    allows,
    as_list,
    condition_values,
    key_policy_of,
    role_statements,
    service_principals,
    statements,
)
from tests.aws_rules.retraining import debounce_function, retrain_schedule, schedule_role_id
from tests.synth_helpers import only, resources

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:scoreline-retrain-dlq"


def _queue(training: dict, queue_arn: dict) -> dict:
    return training["Resources"][queue_arn["Fn::GetAtt"][0]]["Properties"]


def test_the_schedule_role_may_send_to_the_dead_letter_queue_and_use_its_key(training_triggers_app):
    training = training_triggers_app["ScorelineTraining"]
    queue_arn = retrain_schedule(training)["Target"]["DeadLetterConfig"]["Arn"]
    assert debounce_function(training)["Environment"]["Variables"]["RETRAIN_DEAD_LETTER_QUEUE_ARN"] == queue_arn
    key = _queue(training, queue_arn)["KmsMasterKeyId"]
    granted = role_statements(training, schedule_role_id(training))
    assert any(allows(s, "sqs:SendMessage") and queue_arn in as_list(s["Resource"]) for s in granted)
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert any(allows(s, action) and key in as_list(s["Resource"]) for s in granted), action


def test_the_new_data_rule_may_send_to_the_dead_letter_queue_and_use_its_key(training_triggers_app):
    training = training_triggers_app["ScorelineTraining"]
    [target] = only(training, "AWS::Events::Rule")["Properties"]["Targets"]
    queue_arn = target["DeadLetterConfig"]["Arn"]
    queue_policy = [
        s
        for policy in resources(training, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_arn["Fn::GetAtt"][0]} in policy["Properties"]["Queues"]
        for s in statements(policy["Properties"]["PolicyDocument"])
    ]
    assert any(allows(s, "sqs:SendMessage") and "events.amazonaws.com" in service_principals(s) for s in queue_policy)
    key_grants = [
        s
        for s in key_policy_of(training, _queue(training, queue_arn)["KmsMasterKeyId"])
        if "events.amazonaws.com" in service_principals(s)
    ]
    assert any(
        allows(s, "kms:GenerateDataKey")
        and allows(s, "kms:Decrypt")
        and condition_values(s, "kms:EncryptionContext:aws:sqs:arn") == {"StringEquals": [QUEUE_ARN]}
        for s in key_grants
    )
    assert _queue(training, queue_arn)["QueueName"] == QUEUE_ARN.rsplit(":", 1)[1]
