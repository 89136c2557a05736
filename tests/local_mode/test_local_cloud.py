"""The synthesized app on the local cloud: pipeline, registry, approval, schedule and scoring, as in AWS."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from local_mode import storage
from scoreline.tarballs import deterministic_tarball
from tests.local_mode.conftest import TERMINAL, registered_version, run_pipeline, wait_for

SCORING_ROWS = 250


@pytest.fixture(scope="module")
def scoring_input(cloud, housing):
    """Rows to score under today's scoring prefix, features only, in training order."""
    environment = cloud.deployment.environment_of_function_setting("SCORING_INPUT_URI")
    rows = housing.drop(columns=["MedHouseVal"]).tail(SCORING_ROWS)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    storage.write_object(
        environment["SCORING_INPUT_URI"].replace("{date}", today) + "rows.csv",
        rows.to_csv(index=False, header=False).encode(),
    )
    return rows


def transform_jobs_for(package_arn: str) -> list[dict]:
    sagemaker = boto3.client("sagemaker")
    jobs = []
    for summary in sagemaker.list_transform_jobs(NameContains="scoreline-scoring")["TransformJobSummaries"]:
        job = sagemaker.describe_transform_job(TransformJobName=summary["TransformJobName"])
        tags = sagemaker.list_tags(ResourceArn=job["TransformJobArn"])["Tags"]
        if package_arn in {tag["Value"] for tag in tags}:
            jobs.append(job)
    return jobs


def finished_jobs_for(package_arn: str, count: int = 1) -> list[dict]:
    def finished():
        jobs = transform_jobs_for(package_arn)
        done = len(jobs) >= count and all(job["TransformJobStatus"] in TERMINAL for job in jobs)
        return jobs if done else None

    return wait_for(finished)


def approve(cloud, package_arn: str, status: str = "Approved") -> None:
    boto3.client("sagemaker").update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus=status)
    cloud.wait_for_events()


def test_describe_stacks_gives_the_deployed_outputs_users_query(cloud):
    """The README's `aws cloudformation describe-stacks --query ...Outputs...` lines work on the local cloud too."""
    cloudformation = boto3.client("cloudformation")
    (storage_stack,) = cloudformation.describe_stacks(StackName="ScorelineStorage")["Stacks"]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in storage_stack["Outputs"]}
    assert outputs["DataBucketName"] == cloud.deployment.bucket_for("DataBucket")
    assert outputs["ModelPackageGroupName"] == "scoreline-models"
    names = [stack["StackName"] for stack in cloudformation.describe_stacks()["Stacks"]]
    assert sorted(names) == ["ScorelineScoring", "ScorelineStorage", "ScorelineTraining"]
    with pytest.raises(cloudformation.exceptions.ClientError, match="Stack with id ScorelineServing does not exist"):
        cloudformation.describe_stacks(StackName="ScorelineServing")


def test_pipeline_runs_every_step_and_registers_a_pending_two_container_version(cloud):
    execution = run_pipeline(cloud)
    assert execution["PipelineExecutionStatus"] == "Succeeded", execution.get("FailureReason")
    steps = boto3.client("sagemaker").list_pipeline_execution_steps(
        PipelineExecutionArn=execution["PipelineExecutionArn"], SortOrder="Ascending"
    )["PipelineExecutionSteps"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [
        ("CheckInstanceTypes", "Succeeded"),
        ("TrainingData", "Succeeded"),
        ("Preprocess", "Succeeded"),
        ("Train", "Succeeded"),
        ("Evaluate", "Succeeded"),
        ("CheckQuality", "Succeeded"),
        ("Register", "Succeeded"),
    ]
    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=registered_version(execution))
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert len(package["InferenceSpecification"]["Containers"]) == 2
    evaluation = json.loads(storage.read_object(package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]))
    assert evaluation["regression_metrics"]["rmse"]["value"] <= 0.6


def test_approval_scores_once_and_joins_each_input_row_with_its_prediction(cloud, scoring_input):
    package_arn = registered_version(run_pipeline(cloud))
    approve(cloud, package_arn)
    approve(cloud, package_arn)  # approving an approved version changes nothing
    (job,) = finished_jobs_for(package_arn)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    output = job["TransformOutput"]["S3OutputPath"]
    bucket, _ = storage.split_uri(output)
    (key,) = storage.keys_under(output)
    assert key.endswith("rows.csv.out")
    lines = list(csv.reader(io.StringIO(storage.read_object(f"s3://{bucket}/{key}").decode())))
    assert len(lines) == SCORING_ROWS
    expected_inputs = scoring_input.to_csv(index=False, header=False).splitlines()
    for line, expected in zip(lines, expected_inputs, strict=True):
        assert ",".join(line[:-1]) == expected
        assert 0 < float(line[-1]) < 10  # a house value in $100k


def test_rejected_version_starts_no_job(cloud, scoring_input):
    package_arn = registered_version(run_pipeline(cloud))
    approve(cloud, package_arn, "Rejected")
    assert transform_jobs_for(package_arn) == []
    assert any(
        call["payload"].get("detail", {}).get("ModelPackageArn") == package_arn for call in cloud.bus.invocations
    ), "the approval rule delivered the rejection to the scoring function"


def test_schedule_fired_on_demand_scores_with_the_newest_approved_version(cloud, scoring_input):
    older = registered_version(run_pipeline(cloud))
    newer = registered_version(run_pipeline(cloud))
    approve(cloud, older)
    approve(cloud, newer)
    (approved_job,) = finished_jobs_for(newer)
    # Today's input is scored already: the schedule scores the next day's input, a new unit of work.
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    today_uri = approved_job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    tomorrow_uri = today_uri.replace(datetime.now(UTC).strftime("%Y-%m-%d"), tomorrow.strftime("%Y-%m-%d"))
    storage.write_object(tomorrow_uri + "rows.csv", storage.read_object(today_uri + "rows.csv"))
    cloud.fire_schedule("scoreline-scoring", scheduled_time=tomorrow)
    jobs = finished_jobs_for(newer, count=2)
    (scheduled,) = [job for job in jobs if job["TransformJobName"] != approved_job["TransformJobName"]]
    assert scheduled["TransformJobStatus"] == "Completed"
    assert scheduled["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == tomorrow_uri


def test_failing_training_script_fails_the_pipeline_with_the_scripts_error(cloud):
    sagemaker = boto3.client("sagemaker")
    definition = json.loads(
        sagemaker.describe_pipeline(PipelineName=cloud.deployment.pipelines[0])["PipelineDefinition"]
    )
    [check_instance_types] = definition["Steps"]  # every job step runs in its branch for accepted instance types
    train = next(step for step in check_instance_types["Arguments"]["ElseSteps"] if step["Name"] == "Train")
    code_uri = train["Arguments"]["HyperParameters"]["sagemaker_submit_directory"]
    original = storage.read_object(code_uri)
    broken = cloud.home / "broken-code"
    broken.mkdir(exist_ok=True)
    (broken / "train.py").write_text("raise ValueError('learning rate must be positive, got -1')\n")
    storage.write_object(code_uri, deterministic_tarball(broken))
    try:
        # Another instance type changes the step's arguments, so the cached Train step is not reused.
        execution = run_pipeline(cloud, TrainingInstanceType="ml.m5.2xlarge")
    finally:
        storage.write_object(code_uri, original)
    assert execution["PipelineExecutionStatus"] == "Failed"
    assert "Step Train failed" in execution["FailureReason"]
    assert "ValueError: learning rate must be positive, got -1" in execution["FailureReason"]
