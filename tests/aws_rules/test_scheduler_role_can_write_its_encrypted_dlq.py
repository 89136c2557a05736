"""EventBridge Scheduler sends a schedule's dead letters with the schedule's execution role (EventBridge Scheduler:
"Configuring a dead-letter queue"): the role needs sqs:SendMessage on the queue and, for a queue encrypted with a
customer managed key, kms:GenerateDataKey and kms:Decrypt on that key (SQS developer guide, key management:
"Configure KMS permissions for producers")."""

from tests.aws_rules.policies import allows, as_list, role_statements
from tests.synth_helpers import only


def test_the_schedule_role_may_send_to_its_dead_letter_queue_and_use_the_queue_key(app_templates):
    scoring = app_templates["ScorelineScoring"]
    target = only(scoring, "AWS::Scheduler::Schedule")["Properties"]["Target"]
    queue_arn = target["DeadLetterConfig"]["Arn"]
    queue = scoring["Resources"][queue_arn["Fn::GetAtt"][0]]["Properties"]
    key = queue["KmsMasterKeyId"]
    granted = role_statements(scoring, target["RoleArn"]["Fn::GetAtt"][0])

    assert any(allows(s, "sqs:SendMessage") and queue_arn in as_list(s["Resource"]) for s in granted)
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert any(allows(s, action) and key in as_list(s["Resource"]) for s in granted), action
