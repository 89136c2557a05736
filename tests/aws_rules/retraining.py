"""Finding the training triggers' resources in a synthesized training template."""

from __future__ import annotations

from tests.synth_helpers import only, resources

PIPELINE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/scoreline-training"


def retrain_schedule(training: dict) -> dict:
    return only(training, "AWS::Scheduler::Schedule")["Properties"]


def debounce_function(training: dict) -> dict:
    [function] = [f for name, f in resources(training, "AWS::Lambda::Function").items() if "Debounce" in name]
    return function["Properties"]


def schedule_role_id(training: dict) -> str:
    """The role both the retrain schedule and the schedules the debounce function creates run with."""
    role = retrain_schedule(training)["Target"]["RoleArn"]["Fn::GetAtt"][0]
    assert debounce_function(training)["Environment"]["Variables"]["RETRAIN_SCHEDULE_ROLE_ARN"] == {
        "Fn::GetAtt": [role, "Arn"]
    }
    return role
