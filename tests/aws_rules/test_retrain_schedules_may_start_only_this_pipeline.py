"""EventBridge Scheduler, "Using templated targets": "To configure a templated target, you must also grant
permissions to the schedule's execution role to perform the targeted API operation" (the target itself:
test_retrain_schedules_start_the_pipeline_through_its_templated_target.py). Least privilege:
sagemaker:StartPipelineExecution on this pipeline's ARN, and no other SageMaker action."""

from tests.aws_rules.policies import actions, as_list, render, role_statements
from tests.aws_rules.retraining import PIPELINE_ARN, schedule_role_id


def test_the_schedule_role_may_start_this_pipeline_and_nothing_else_in_sagemaker(training_triggers_app):
    training = training_triggers_app["ScorelineTraining"]
    granted = role_statements(training, schedule_role_id(training))
    sagemaker = [s for s in granted if any(action.startswith("sagemaker:") for action in actions(s))]
    assert len(sagemaker) == 1
    assert actions(sagemaker[0]) == ["sagemaker:StartPipelineExecution"]
    assert [render(resource) for resource in as_list(sagemaker[0]["Resource"])] == [PIPELINE_ARN]
    assert all(action.split(":")[0] in {"sagemaker", "sqs", "kms"} for s in granted for action in actions(s))
