"""A Lambda step invokes its function with the pipeline's execution role (SageMaker Pipelines, Lambda step): the
pipeline role needs lambda:InvokeFunction on that function, and on nothing else."""

from tests.aws_rules.template_iam import actions, definition, flat, role_id, role_statements
from tests.pipeline_definitions.definitions import nested_steps


def test_pipeline_role_invokes_only_the_function_its_lambda_step_names(app_templates):
    training = app_templates["ScorelineTraining"]
    body, variables = definition(training)
    lambda_steps = [step for step in nested_steps(body).values() if step["Type"] == "Lambda"]
    assert [step["FunctionArn"] for step in lambda_steps] == ["${TrainingDataFunctionArn}"]
    function_arn = variables["TrainingDataFunctionArn"]
    (function_id,) = [name for name, r in training["Resources"].items() if r["Type"] == "AWS::Lambda::Function"]
    assert function_arn == {"Fn::GetAtt": [function_id, "Arn"]}
    statements = role_statements(training, role_id(training, "PipelineRole"))
    invoking = [s for s in statements if any(a.startswith("lambda:") or a == "*" for a in actions(s))]
    assert len(invoking) == 1
    assert actions(invoking[0]) == ["lambda:InvokeFunction"]
    assert invoking[0]["Resource"] == function_arn
    assert '"*"' not in flat(invoking[0]["Resource"])
