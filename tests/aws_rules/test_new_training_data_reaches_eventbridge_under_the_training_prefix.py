"""S3 sends its events to EventBridge only for a bucket whose notification configuration has EventBridge enabled
(S3, "Enabling Amazon EventBridge"; CloudFormation AWS::S3::Bucket NotificationConfiguration.EventBridgeConfiguration),
as detail-type "Object Created", source aws.s3, with detail.bucket.name and detail.object.key (S3, "EventBridge event
message structure"). The rule matches new objects of the data bucket under the training input prefix only."""

from tests.synth_helpers import only, resources


def _data_bucket(storage: dict) -> tuple[str, dict]:
    [(name, bucket)] = [(n, b) for n, b in resources(storage, "AWS::S3::Bucket").items() if n.startswith("DataBucket")]
    return name, bucket["Properties"]


def test_the_data_bucket_sends_its_events_to_eventbridge(training_triggers_app):
    _, bucket = _data_bucket(training_triggers_app["ScorelineStorage"])
    assert bucket["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def test_the_rule_matches_objects_created_under_the_training_prefix_of_the_data_bucket(training_triggers_app):
    training = training_triggers_app["ScorelineTraining"]
    rule = only(training, "AWS::Events::Rule")["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"] == {"key": [{"prefix": "training/input/"}]}
    bucket_name, _ = _data_bucket(training_triggers_app["ScorelineStorage"])
    [imported] = pattern["detail"]["bucket"]["name"]
    assert f"ExportsOutputRef{bucket_name}" in imported["Fn::ImportValue"]
    [target] = rule["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("RetrainingDebounceFunction")
