"""A Tune step creates a tuning job with the pipeline's role, which then reads it and lists its trials (TuningStep's
properties are DescribeHyperParameterTuningJob's and ListTrainingJobsForHyperParameterTuningJob's responses): the
role has those actions, on tuning jobs only, when tuning is on, and none of them otherwise."""

from tests.aws_rules.template_iam import actions, definition, role_id, role_statements
from tests.pipeline_definitions.definitions import nested_steps
from tests.synth_helpers import synth

TUNING_ACTIONS = {
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:DescribeHyperParameterTuningJob",
    "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
    "sagemaker:StopHyperParameterTuningJob",
}


def _tuning_statements(training: dict) -> list[dict]:
    statements = role_statements(training, role_id(training, "PipelineRole"))
    return [s for s in statements if TUNING_ACTIONS & set(actions(s))]


def test_without_tuning_the_pipeline_role_cannot_tune(app_templates):
    assert _tuning_statements(app_templates["ScorelineTraining"]) == []


def test_with_tuning_the_pipeline_role_runs_tuning_jobs_only(tmp_path):
    training = synth(tmp_path, tuning_max_jobs=4)["ScorelineTraining"]
    body, _ = definition(training)
    assert nested_steps(body)["Tune"]["Type"] == "Tuning"
    (statement,) = _tuning_statements(training)
    assert set(actions(statement)) >= TUNING_ACTIONS
    resource = statement["Resource"]["Fn::Join"][1]
    assert resource[-1] == ":hyper-parameter-tuning-job/*"
