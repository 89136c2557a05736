"""EventBridge Scheduler, "Using templated targets": with a resource's ARN as the target, Scheduler calls that
service's supported operation itself, and for some targets takes a set of parameters; a SageMaker pipeline's ARN is
StartPipelineExecution, whose parameters are SageMakerPipelineParameters (API reference: "The templated target type
for the Amazon SageMaker StartPipelineExecution API operation"). StartPipelineExecution requires a
ClientRequestToken (botocore's model: required, idempotencyToken), and the universal target
(arn:aws:scheduler:::aws-sdk:sagemaker:startPipelineExecution) sends only its Input, which has none ("Using universal
targets" does not say Scheduler fills it). Both retrain schedules use the templated target: the deployed one and the
one-time schedule the debounce function creates and moves (its CreateSchedule/UpdateSchedule request)."""

from datetime import UTC, datetime
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import ParamValidator

from local_mode.modules import load_module
from tests.aws_rules.policies import render
from tests.aws_rules.retraining import PIPELINE_ARN, debounce_function, retrain_schedule

FUNCTION = Path(__file__).resolve().parents[2] / "functions" / "retrain_debounce" / "app.py"
ROLE_ARN = "arn:aws:iam::123456789012:role/ScorelineTraining-RetrainingScheduleRole"
SCHEDULER = botocore.session.get_session().get_service_model("scheduler")


def _assert_templated_pipeline_target(target: dict) -> None:
    assert render(target["Arn"]) == PIPELINE_ARN
    assert target["SageMakerPipelineParameters"] == {"PipelineParameterList": []}  # the pipeline's defaults
    assert "Input" not in target  # a SageMaker pipeline target takes no input
    assert "aws-sdk" not in str(target)


def test_the_retrain_schedule_targets_the_pipeline_with_sagemaker_pipeline_parameters(training_triggers_app):
    _assert_templated_pipeline_target(retrain_schedule(training_triggers_app["ScorelineTraining"])["Target"])


@pytest.fixture
def debounce(training_triggers_app, monkeypatch):
    """The debounce function's module with the environment the template gives it (the schedule role's ARN, a
    reference in the template, as CloudFormation resolves it)."""
    variables = debounce_function(training_triggers_app["ScorelineTraining"])["Environment"]["Variables"]
    for name, value in variables.items():
        monkeypatch.setenv(name, render(value))
    monkeypatch.setenv("RETRAIN_SCHEDULE_ROLE_ARN", ROLE_ARN)
    return load_module(FUNCTION, "retrain_debounce_request")


@pytest.mark.parametrize("operation", ["CreateSchedule", "UpdateSchedule"])
def test_the_debounce_function_schedules_the_pipeline_as_a_templated_target(debounce, operation):
    request = debounce._schedule_request(datetime(2026, 12, 7, 3, 0, tzinfo=UTC))
    _assert_templated_pipeline_target(request["Target"])
    assert request["Target"]["RoleArn"] == ROLE_ARN
    report = ParamValidator().validate(request, SCHEDULER.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()
