"""Both training triggers are optional and off by default: the default app has no retrain schedule, no debounce
function or rule, and its data bucket sends no events to EventBridge (each event is billed)."""

from tests.synth_helpers import resources


def test_the_default_app_has_no_training_trigger_resources(sklearn_app):
    training = sklearn_app["ScorelineTraining"]
    assert not [name for name in training["Resources"] if name.startswith("Retraining")]
    for kind in ("AWS::Scheduler::Schedule", "AWS::Events::Rule"):
        assert resources(training, kind) == {}, kind
    # The only function is the pipeline's own TrainingData step; no debounce function.
    assert [name for name in resources(training, "AWS::Lambda::Function") if not name.startswith("TrainingData")] == []
    for name, bucket in resources(sklearn_app["ScorelineStorage"], "AWS::S3::Bucket").items():
        assert "NotificationConfiguration" not in bucket["Properties"], name
