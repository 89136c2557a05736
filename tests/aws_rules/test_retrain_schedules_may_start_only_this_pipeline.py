"""EventBridge Scheduler universal targets ("Using universal targets"): the target ARN is
arn:aws:scheduler:::aws-sdk:<service>:<apiAction>, Input holds the API's parameters, and the execution role "must
have the permissions to call the API operation". Least privilege: sagemaker:StartPipelineExecution on this
pipeline's ARN, and no other SageMaker action."""

import json

from tests.aws_rules.policies import actions, as_list, render, role_statements
from tests.aws_rules.retraining import PIPELINE_ARN, START_PIPELINE_TARGET, retrain_schedule, schedule_role_id


def test_the_retrain_schedule_starts_this_pipeline_through_the_universal_target(training_triggers_app):
    target = retrain_schedule(training_triggers_app["ScorelineTraining"])["Target"]
    assert render(target["Arn"]) == START_PIPELINE_TARGET
    assert json.loads(target["Input"]) == {"PipelineName": "scoreline-training"}


def test_the_schedule_role_may_start_this_pipeline_and_nothing_else_in_sagemaker(training_triggers_app):
    training = training_triggers_app["ScorelineTraining"]
    granted = role_statements(training, schedule_role_id(training))
    sagemaker = [s for s in granted if any(action.startswith("sagemaker:") for action in actions(s))]
    assert len(sagemaker) == 1
    assert actions(sagemaker[0]) == ["sagemaker:StartPipelineExecution"]
    assert [render(resource) for resource in as_list(sagemaker[0]["Resource"])] == [PIPELINE_ARN]
    assert all(action.split(":")[0] in {"sagemaker", "sqs", "kms"} for s in granted for action in actions(s))
