"""A dead-letter queue only keeps what failed; someone must hear of it. SQS: "configure an alarm for any messages
moved to a dead-letter queue" (Using dead-letter queues in Amazon SQS; "Creating alarms for dead-letter queues using
Amazon CloudWatch": ApproximateNumberOfMessagesVisible). The retraining triggers' dead-letter queue alarms at the
first message to the alert topic, like the scoring queues; the topic and key policies letting that alarm publish
are checked with the other alarms (test_alarms_can_publish_to_the_alert_topic.py)."""

from tests.synth_helpers import only, resources


def test_the_retrain_dead_letter_queue_alarms_to_the_alert_topic(training_triggers_app):
    queue = only(training_triggers_app["ScorelineTraining"], "AWS::SQS::Queue")["Properties"]["QueueName"]
    scoring = training_triggers_app["ScorelineScoring"]
    [topic] = resources(scoring, "AWS::SNS::Topic")
    watching = [
        alarm["Properties"]
        for alarm in resources(scoring, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == "AWS/SQS"
        and alarm["Properties"].get("Dimensions") == [{"Name": "QueueName", "Value": queue}]
    ]
    assert len(watching) == 1, f"no alarm on {queue}"
    [alarm] = watching
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert alarm["AlarmActions"] == [{"Ref": topic}]
