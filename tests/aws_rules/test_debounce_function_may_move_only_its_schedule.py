"""The debounce function creates and moves one one-time schedule. EventBridge Scheduler's identity-based policy
examples: CreateSchedule/UpdateSchedule on the schedule's ARN (schedule/<group>/<name>), and iam:PassRole for the
target's execution role. Least privilege: its one schedule, the schedule role only, passed to Scheduler only; it
cannot start the pipeline itself or delete schedules (Scheduler deletes it: ActionAfterCompletion=DELETE)."""

from tests.aws_rules.policies import actions, as_list, condition_values, render, role_statements
from tests.aws_rules.retraining import debounce_function, schedule_role_id

SCHEDULE_ARN = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/scoreline-retrain-after-new-data"


def _granted(training: dict) -> list[dict]:
    return role_statements(training, debounce_function(training)["Role"]["Fn::GetAtt"][0])


def test_the_debounce_function_may_create_and_update_only_its_schedule(training_triggers_app):
    training = training_triggers_app["ScorelineTraining"]
    scheduler = [s for s in _granted(training) if any(a.startswith("scheduler:") for a in actions(s))]
    assert sorted(a for s in scheduler for a in actions(s)) == ["scheduler:CreateSchedule", "scheduler:UpdateSchedule"]
    assert {render(r) for s in scheduler for r in as_list(s["Resource"])} == {SCHEDULE_ARN}
    variables = debounce_function(training)["Environment"]["Variables"]
    assert variables["RETRAIN_SCHEDULE_NAME"] == SCHEDULE_ARN.rsplit("/", 1)[1]


def test_the_debounce_function_passes_only_the_schedule_role_to_scheduler(training_triggers_app):
    training = training_triggers_app["ScorelineTraining"]
    passing = [s for s in _granted(training) if "iam:PassRole" in actions(s)]
    assert len(passing) == 1
    assert as_list(passing[0]["Resource"]) == [{"Fn::GetAtt": [schedule_role_id(training), "Arn"]}]
    assert condition_values(passing[0], "iam:PassedToService") == {"StringEquals": ["scheduler.amazonaws.com"]}


def test_the_debounce_function_has_no_other_aws_actions(training_triggers_app):
    services = {a.split(":")[0] for s in _granted(training_triggers_app["ScorelineTraining"]) for a in actions(s)}
    assert services == {"logs", "scheduler", "iam", "sqs", "kms"}  # sqs/kms: its on-failure destination
