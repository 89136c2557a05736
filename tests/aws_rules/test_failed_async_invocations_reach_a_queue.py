"""Lambda retries a failed asynchronous invocation at most twice, for at most six hours, then drops the event unless
an on-failure destination is configured (Lambda developer guide: "Capturing records of Lambda asynchronous
invocations"). The destination is written with the function's execution role, which needs sqs:SendMessage and, for
an encrypted queue, kms:GenerateDataKey and kms:Decrypt on its key; an alarm on the queue reaches the alert topic."""

from tests.aws_rules.policies import allows, as_list, role_statements
from tests.synth_helpers import main_function, only, resources


def _failure_queue(scoring: dict) -> tuple[dict, dict]:
    function = main_function(scoring)
    config = only(scoring, "AWS::Lambda::EventInvokeConfig", "ScoringFunction")["Properties"]
    assert config["FunctionName"] == {
        "Ref": next(name for name in resources(scoring, "AWS::Lambda::Function") if name.startswith("ScoringFunction"))
    }
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]
    queue_id = destination["Fn::GetAtt"][0]
    assert scoring["Resources"][queue_id]["Type"] == "AWS::SQS::Queue"
    return function, {"id": queue_id, "arn": destination, **scoring["Resources"][queue_id]["Properties"]}


def test_async_invocations_retry_within_lambda_limits_then_go_to_a_queue(app_templates):
    config = only(app_templates["ScorelineScoring"], "AWS::Lambda::EventInvokeConfig", "ScoringFunction")["Properties"]
    assert 0 <= config["MaximumRetryAttempts"] <= 2
    assert 60 <= config["MaximumEventAgeInSeconds"] <= 21600
    assert config["Qualifier"] == "$LATEST"
    _failure_queue(app_templates["ScorelineScoring"])


def test_the_function_role_may_send_to_the_encrypted_queue(app_templates):
    scoring = app_templates["ScorelineScoring"]
    function, queue = _failure_queue(scoring)
    granted = role_statements(scoring, function["Properties"]["Role"]["Fn::GetAtt"][0])
    assert any(allows(s, "sqs:SendMessage") and queue["arn"] in as_list(s["Resource"]) for s in granted)
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert any(allows(s, action) and queue["KmsMasterKeyId"] in as_list(s["Resource"]) for s in granted), action


def test_a_message_in_the_queue_raises_an_alarm_on_the_alert_topic(app_templates):
    scoring = app_templates["ScorelineScoring"]
    _, queue = _failure_queue(scoring)
    topic = next(iter(resources(scoring, "AWS::SNS::Topic")))
    alarms = [
        a["Properties"]
        for a in resources(scoring, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Namespace"] == "AWS/SQS"
        and a["Properties"]["Dimensions"]
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue["id"], "QueueName"]}}]
    ]
    [alarm] = alarms
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"] == [{"Ref": topic}]
