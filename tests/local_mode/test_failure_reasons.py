"""Why a pipeline failed reaches the API where SageMaker puts it: a processing script's sentence in the job's
ExitMessage (from /opt/ml/output/message), and a refused instance-type override before any job starts."""

from __future__ import annotations

import boto3

from local_mode import storage
from local_mode.sagemaker.jobs import PROCESSING_FAILURE
from tests.local_mode.conftest import run_pipeline


def _steps(execution: dict) -> list[dict]:
    return boto3.client("sagemaker").list_pipeline_execution_steps(
        PipelineExecutionArn=execution["PipelineExecutionArn"], SortOrder="Ascending"
    )["PipelineExecutionSteps"]


def test_preprocess_on_data_without_the_target_reports_its_sentence(cloud, housing):
    bucket = cloud.deployment.bucket_for("DataBucket")
    # Under training/input/: the TrainingData function may list, and the job role read, only that prefix.
    storage.write_object(
        f"s3://{bucket}/training/input/no-target/data.csv",
        housing.drop(columns=["MedHouseVal"]).to_csv(index=False).encode(),
    )
    execution = run_pipeline(cloud, InputDataUri=f"s3://{bucket}/training/input/no-target/")
    assert execution["PipelineExecutionStatus"] == "Failed"
    assert execution["FailureReason"] == f"Step Preprocess failed: {PROCESSING_FAILURE}"
    preprocess = next(step for step in _steps(execution) if step["StepName"] == "Preprocess")
    job = boto3.client("sagemaker").describe_processing_job(
        ProcessingJobName=preprocess["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[1]
    )
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == PROCESSING_FAILURE
    assert job["ExitMessage"].startswith("preprocess: target column 'MedHouseVal' not found; the columns are [")
    assert "Traceback" not in job["ExitMessage"]


def test_instance_store_override_of_an_ebs_default_is_refused_before_any_job(cloud):
    jobs_before = boto3.client("sagemaker").list_processing_jobs()["ProcessingJobSummaries"]
    execution = run_pipeline(cloud, ProcessingInstanceType="ml.g5.xlarge")
    assert execution["PipelineExecutionStatus"] == "Failed"
    reason = execution["FailureReason"]
    assert reason.startswith(
        "Step InstanceTypeRefused failed: Instance types refused (ProcessingInstanceType ml.g5.xlarge"
    )
    assert (
        "ProcessingInstanceType must be a type without NVMe instance storage, like its default ml.m5.xlarge" in reason
    )
    assert [(s["StepName"], s["StepStatus"]) for s in _steps(execution)] == [
        ("CheckInstanceTypes", "Succeeded"),
        ("InstanceTypeRefused", "Failed"),
    ]
    assert boto3.client("sagemaker").list_processing_jobs()["ProcessingJobSummaries"] == jobs_before
