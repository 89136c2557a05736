"""Both training triggers are optional and off by default: the default app has no retrain schedule, no debounce
function or rule, and its data bucket sends no events to EventBridge (each event is billed)."""

from tests.synth_helpers import resources


def test_the_default_app_has_no_training_trigger_resources(sklearn_app):
    training = sklearn_app["ScorelineTraining"]
    assert not [name for name in training["Resources"] if name.startswith("Retraining")]
    for kind in ("AWS::Scheduler::Schedule", "AWS::Events::Rule", "AWS::Lambda::Function"):
        assert resources(training, kind) == {}, kind
    for name, bucket in resources(sklearn_app["ScorelineStorage"], "AWS::S3::Bucket").items():
        assert "NotificationConfiguration" not in bucket["Properties"], name
