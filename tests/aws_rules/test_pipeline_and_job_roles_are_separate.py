"""SageMaker Pipelines: "By default, each step takes on the pipeline execution role. You can optionally pass a
different role to any of the steps" (SageMaker Pipelines guide, Access Management). Scoreline passes a job role to
every step, so code inside a job never holds the pipeline's control-plane permissions; scoring's models and
transform jobs run with the same job role."""

from tests.aws_rules.template_iam import definition, pipeline, role_id
from tests.pipeline_definitions.definitions import nested_steps


def test_the_pipeline_runs_with_the_pipeline_role(app_templates):
    training = app_templates["ScorelineTraining"]
    assert pipeline(training)["RoleArn"] == {"Fn::GetAtt": [role_id(training, "PipelineRole"), "Arn"]}


def test_every_job_of_the_pipeline_runs_with_the_job_role(app_templates):
    training = app_templates["ScorelineTraining"]
    body, variables = definition(training)
    jobs = [step for step in nested_steps(body).values() if step["Type"] in ("Processing", "Training")]
    assert jobs, "the pipeline starts no job"
    for step in jobs:
        assert step["Arguments"]["RoleArn"] == "${RoleArn}", step["Name"]
    assert variables["RoleArn"] == {"Fn::GetAtt": [role_id(training, "JobRole"), "Arn"]}
    assert role_id(training, "JobRole") != role_id(training, "PipelineRole")


def test_scoring_models_and_transform_jobs_run_with_the_job_role(app_templates):
    training, scoring = app_templates["ScorelineTraining"], app_templates["ScorelineScoring"]
    job_role_export = next(
        output["Export"]["Name"]
        for output in training["Outputs"].values()
        if output["Value"] == {"Fn::GetAtt": [role_id(training, "JobRole"), "Arn"]}
    )
    function = next(r for r in scoring["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    assert function["Properties"]["Environment"]["Variables"]["EXECUTION_ROLE_ARN"] == {
        "Fn::ImportValue": job_role_export
    }
