"""EventBridge Scheduler, "Confused deputy prevention": the execution role trusts scheduler.amazonaws.com only with
aws:SourceAccount and aws:SourceArn set to the schedule group's ARN ("The ARN you specify must be a schedule
group"); the retrain schedule and the one-time schedule the debounce function creates are in the default group."""

from tests.aws_rules.policies import condition_values, limited_to_this_account, service_principals, statements
from tests.aws_rules.retraining import retrain_schedule, schedule_role_id


def test_the_schedule_role_trusts_scheduler_for_this_accounts_default_group_only(training_triggers_app):
    training = training_triggers_app["ScorelineTraining"]
    role = training["Resources"][schedule_role_id(training)]["Properties"]
    [statement] = statements(role["AssumeRolePolicyDocument"])
    assert service_principals(statement) == ["scheduler.amazonaws.com"]
    assert limited_to_this_account(statement)
    assert condition_values(statement, "aws:SourceArn") == {
        "ArnEquals": ["arn:aws:scheduler:us-east-1:123456789012:schedule-group/default"]
    }
    assert retrain_schedule(training).get("GroupName", "default") == "default"
