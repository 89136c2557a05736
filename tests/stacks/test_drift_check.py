"""The drift check in the scoring stack (stacks/drift_check.py): its rules, its function's least privilege, the job
role's access to scoring output and drift reports, the dashboard's drift widgets, and drift_check=false."""

from tests.aws_rules.policies import allows
from tests.aws_rules.template_iam import flat, role_id, role_statements
from tests.synth_helpers import resources, synth


def _drift_rules(scoring: dict) -> dict[str, dict]:
    return {
        name: r["Properties"] for name, r in resources(scoring, "AWS::Events::Rule").items() if "DriftCheck" in name
    }


def _drift_statements(scoring: dict) -> list[dict]:
    return role_statements(scoring, role_id(scoring, "DriftCheckDriftCheckFunctionRole"))


def test_completed_scoring_jobs_and_ended_drift_checks_reach_the_function(templates):
    rules = _drift_rules(templates["ScorelineScoring"])
    patterns = sorted((r["EventPattern"] for r in rules.values()), key=lambda p: p["detail-type"])
    assert patterns == [
        {
            "detail": {
                "ProcessingJobName": [{"prefix": "scoreline-drift-"}],
                "ProcessingJobStatus": ["Completed", "Failed"],
            },
            "detail-type": ["SageMaker Processing Job State Change"],
            "source": ["aws.sagemaker"],
        },
        {
            "detail": {"TransformJobName": [{"prefix": "scoreline-scoring-"}], "TransformJobStatus": ["Completed"]},
            "detail-type": ["SageMaker Transform Job State Change"],
            "source": ["aws.sagemaker"],
        },
    ]
    for rule in rules.values():
        [target] = rule["Targets"]
        assert target["Arn"]["Fn::GetAtt"][0].startswith("DriftCheckDriftCheckFunction")
        assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 3


def test_the_function_starts_only_drift_checks_and_publishes_only_to_its_namespace(templates):
    statements = _drift_statements(templates["ScorelineScoring"])
    [create] = [s for s in statements if allows(s, "sagemaker:CreateProcessingJob")]
    assert flat(create["Resource"]).count(":processing-job/scoreline-drift-*") == 1
    [metrics] = [s for s in statements if allows(s, "cloudwatch:PutMetricData")]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Scoreline"}}
    assert not any(allows(s, "sagemaker:CreateTransformJob") or allows(s, "sagemaker:CreateModel") for s in statements)
    [passes] = [s for s in statements if allows(s, "iam:PassRole")]
    assert passes["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_the_job_role_reads_scoring_output_and_writes_only_drift_reports_there(templates):
    training = templates["ScorelineTraining"]
    statements = role_statements(training, role_id(training, "JobRole"))
    reads = flat([s["Resource"] for s in statements if allows(s, "s3:GetObject")])
    writes = flat([s["Resource"] for s in statements if allows(s, "s3:PutObject")])
    assert "/scoring/output/*" in reads
    assert "/scoring/drift/*" in writes and "/scoring/drift/*" not in reads


def test_the_dashboard_shows_the_drift_history(templates):
    [dashboard] = resources(templates["ScorelineScoring"], "AWS::CloudWatch::Dashboard").values()
    body = flat(dashboard["Properties"]["DashboardBody"])
    assert "Drift: PSI per feature" in body and "SEARCH(" in body and "Drift checks: outcome per scoring job" in body


def test_drift_check_false_leaves_it_out(tmp_path):
    templates = synth(tmp_path, drift_check="false")
    scoring, training = templates["ScorelineScoring"], templates["ScorelineTraining"]
    assert _drift_rules(scoring) == {}
    assert [name for name in resources(scoring, "AWS::Lambda::Function") if "DriftCheck" in name] == []
    job_role = flat(role_statements(training, role_id(training, "JobRole")))
    assert "/scoring/drift/" not in job_role and "/scoring/output/*" in job_role  # transform jobs still write there
