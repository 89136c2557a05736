"""Tuning in the local cloud (README, "Tuning"), as SageMaker runs it: the Tune step's tuning job starts
MaxNumberOfTrainingJobs trials, at most MaxParallelTrainingJobs at a time, each with the static hyperparameters and a
draw from the ranges; each trial's objective is parsed from its log by the metric definition; the best trial (lowest
cross-validated loss) is the one Evaluate judges and Register registers. A repeated execution on the same data is a
cache hit that still finds the earlier tuning job's artifact. After five trials without an objective the tuning job
gives up with SageMaker's reason, each trial keeping its own. What SageMaker refuses at the call is refused."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from demo.synth import synthesize
from local_mode import storage
from scoreline.tuning import OBJECTIVE_METRIC, SEARCH_SPACES
from tests.local_mode.conftest import (
    local_cloud,
    model_artifact,
    registered_version,
    run_pipeline,
    steps_of,
    until_finished,
)
from tests.pipeline_definitions.definitions import nested_steps

TRIALS, PARALLEL = 3, 2


@pytest.fixture(scope="module")
def tuning_cloud(tmp_path_factory, housing):
    out_dir = tmp_path_factory.mktemp("tuning") / "cdk.out"
    # A fixed max-iter keeps each trial short; it stays static (a user's fixed hyperparameter is not searched).
    settings = {
        "tuning_max_jobs": TRIALS,
        "tuning_max_parallel_jobs": PARALLEL,
        "training_hyperparameters": "max-iter=60",
    }
    synthesize(out_dir, settings)
    with local_cloud(out_dir.parent / "cloud") as cloud:
        bucket = cloud.deploy(out_dir).bucket_for("DataBucket")
        # 2,400 rows: above the small-data limit, so each trial's objective is the 3-fold one.
        rows = housing.sample(n=2400, random_state=3).to_csv(index=False).encode()
        storage.write_object(f"s3://{bucket}/training/input/data.csv", rows)
        yield cloud


def _deployed_tuning_request(cloud) -> dict:
    """The deployed Tune step's request, its pipeline expressions resolved as an execution would: the instance type
    parameter's default, the channels and the output under this app's pipeline/ prefix (the job role's)."""
    definition = json.loads(
        boto3.client("sagemaker").describe_pipeline(PipelineName=cloud.deployment.pipelines[0])["PipelineDefinition"]
    )
    bucket = cloud.deployment.bucket_for("DataBucket")

    def resolved(value, field=""):
        if isinstance(value, dict) and value.keys() & {"Get", "Std:Join"}:
            return "ml.m5.xlarge" if field == "InstanceType" else f"s3://{bucket}/pipeline/by-hand/{field.lower()}"
        if isinstance(value, dict):
            return {key: resolved(item, key) for key, item in value.items()}
        if isinstance(value, list):
            return [resolved(item, field) for item in value]
        return value

    return resolved(nested_steps(definition)["Tune"]["Arguments"])


def _objective(trial: dict) -> float:
    return trial["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]


# Slow (two pipeline executions, each trial four fits): the other tests here run a tuning job in make test.
@pytest.mark.slow
def test_the_best_of_the_trials_by_cross_validated_objective_is_registered(tuning_cloud):
    sagemaker = boto3.client("sagemaker")
    execution = run_pipeline(tuning_cloud)
    assert execution["PipelineExecutionStatus"] == "Succeeded", execution.get("FailureReason")
    steps = steps_of(execution)
    assert "Train" not in steps and steps["Tune"]["StepStatus"] == "Succeeded"
    name = steps["Tune"]["Metadata"]["TuningJob"]["Arn"].rsplit("/", 1)[1]
    assert len(name) <= 32
    tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == TRIALS
    trials = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, SortBy="FinalObjectiveMetricValue", SortOrder="Ascending"
    )["TrainingJobSummaries"]
    assert len(trials) == TRIALS
    assert [_objective(t) for t in trials] == sorted(_objective(t) for t in trials)
    assert tuning["BestTrainingJob"]["TrainingJobName"] == trials[0]["TrainingJobName"]
    assert trials[0]["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == OBJECTIVE_METRIC
    # Each trial drew every range within its bounds, and the draws differ.
    ranges = {parameter["Name"]: parameter for _, parameter in SEARCH_SPACES["sklearn"]}
    for trial in trials:
        assert set(trial["TunedHyperParameters"]) == set(ranges)
        for parameter, value in trial["TunedHyperParameters"].items():
            assert float(ranges[parameter]["MinValue"]) <= float(value) <= float(ranges[parameter]["MaxValue"])
    assert len({tuple(sorted(t["TunedHyperParameters"].items())) for t in trials}) == TRIALS
    # The objective is the trial's own cross-validated loss, as its log shows, not the validation metric.
    best = sagemaker.describe_training_job(TrainingJobName=trials[0]["TrainingJobName"])
    log = (tuning_cloud.home / "logs" / "training" / f"{best['TrainingJobName']}.log").read_text()
    assert "cross-validating on" in log and f"objective-loss={_objective(trials[0]):.6f};" in log
    assert best["HyperParameters"]["objective-folds"] == "3" and best["HyperParameters"]["max-iter"] == "60"
    # Tuning sends each trial the objective's name as a hyperparameter; the scripts accept it.
    assert best["HyperParameters"]["_tuning_objective_metric"] == OBJECTIVE_METRIC
    # At most PARALLEL at a time: the third trial started after one of the first two had ended.
    by_start = sorted(trials, key=lambda t: t["CreationTime"])
    assert by_start[2]["CreationTime"] >= min(t["TrainingEndTime"] for t in by_start[:2])
    # Evaluate judged, and Register registered, the best trial's artifact.
    model_url = model_artifact(registered_version(execution))
    assert model_url == best["ModelArtifacts"]["S3ModelArtifacts"]
    evaluate = sagemaker.describe_processing_job(
        ProcessingJobName=steps["Evaluate"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[1]
    )
    model_input = next(i for i in evaluate["ProcessingInputs"] if i["InputName"] == "model")
    assert model_input["S3Input"]["S3Uri"] == model_url

    # The same data again: the Tune step is a cache hit, and the best artifact is still the earlier job's.
    again = run_pipeline(tuning_cloud)
    assert again["PipelineExecutionStatus"] == "Succeeded", again.get("FailureReason")
    assert "CacheHitResult" in steps_of(again)["Tune"]
    assert model_artifact(registered_version(again)) == model_url


def test_a_tuning_job_gives_up_after_five_trials_without_an_objective(tuning_cloud):
    """SageMaker stops starting trials once five have failed and none succeeded; each trial keeps its own reason."""
    sagemaker = boto3.client("sagemaker")
    request = _deployed_tuning_request(tuning_cloud)
    definition = request["TrainingJobDefinition"]
    definition["StaticHyperParameters"]["max-iter"] = "many"  # refused by every trial's script as it starts
    limits = {"MaxNumberOfTrainingJobs": 7, "MaxParallelTrainingJobs": 1}
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="all-trials-fail",
        HyperParameterTuningJobConfig={**request["HyperParameterTuningJobConfig"], "ResourceLimits": limits},
        TrainingJobDefinition=definition,
    )
    failed = until_finished(
        lambda: sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="all-trials-fail"),
        "HyperParameterTuningJobStatus",
        timeout=120,
    )
    assert failed["HyperParameterTuningJobStatus"] == "Failed"
    assert failed["FailureReason"] == (
        "No training job succeeded after 5 attempts. Please take a look at the training job failures to get more "
        "details."
    )
    assert failed["TrainingJobStatusCounters"]["NonRetryableError"] == 5
    trials = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="all-trials-fail")
    assert len(trials["TrainingJobSummaries"]) == 5
    for trial in trials["TrainingJobSummaries"]:
        assert trial["ObjectiveStatus"] == "Failed"
        assert "invalid int value: 'many'" in trial["FailureReason"]
    ranked = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="all-trials-fail", SortBy="FinalObjectiveMetricValue"
    )
    assert ranked["TrainingJobSummaries"] == []  # only trials that returned an objective are listed


def test_what_sagemaker_refuses_at_create_is_refused_before_any_trial(tuning_cloud):
    sagemaker = boto3.client("sagemaker")
    request = _deployed_tuning_request(tuning_cloud)
    trials_before = len(sagemaker.list_training_jobs()["TrainingJobSummaries"])
    with pytest.raises(ClientError, match="must be 1-32 letters, digits or hyphens"):
        sagemaker.create_hyper_parameter_tuning_job(HyperParameterTuningJobName="x" * 33, **request)
    from_zero = {"Name": "l2-regularization", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}
    request["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"] = [from_zero]
    with pytest.raises(ClientError, match="Logarithmic scaling works only for ranges of values greater than 0"):
        sagemaker.create_hyper_parameter_tuning_job(HyperParameterTuningJobName="from-zero", **request)
    assert len(sagemaker.list_training_jobs()["TrainingJobSummaries"]) == trials_before
