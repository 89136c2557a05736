"""CloudFormation creates resources in parallel unless one refers to another or names it in DependsOn ("DependsOn
attribute": "that resource is created only after the creation of the resource specified in the DependsOn
attribute"; deletion runs the other way). The retrain schedule names the pipeline only as text in its Input, so
without DependsOn it could be created, and fire, before the pipeline exists, or outlive it on a replacement."""

from tests.synth_helpers import resources


def test_the_retrain_schedule_depends_on_the_pipeline(training_triggers_app):
    training = training_triggers_app["ScorelineTraining"]
    [pipeline] = resources(training, "AWS::SageMaker::Pipeline")
    [schedule] = resources(training, "AWS::Scheduler::Schedule").values()
    assert pipeline in schedule.get("DependsOn", [])
