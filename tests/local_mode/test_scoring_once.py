"""On the local cloud: an approval and the day's schedule on the same input score it once, with one job."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3

from local_mode import storage
from tests.local_mode.conftest import TERMINAL, registered_version, run_pipeline, wait_for


def _scoring_decisions(cloud, since: int) -> list[dict]:
    """The scoring function's decisions (the drift check function also runs once a transform job completes)."""
    calls = [call for call in cloud.bus.invocations[since:] if "scoringfunction" in call.get("function", "")]
    return [decision for call in calls for decision in call["result"] or []]


def _finished(sagemaker, job_name: str) -> dict | None:
    job = sagemaker.describe_transform_job(TransformJobName=job_name)
    return job if job["TransformJobStatus"] in TERMINAL else None


def test_approval_then_the_schedule_on_the_same_input_start_one_transform_job(cloud, housing):
    environment = cloud.deployment.environment_of_function_setting("SCORING_INPUT_URI")
    now = datetime.now(UTC)
    rows = housing.drop(columns=["MedHouseVal"]).tail(50).to_csv(index=False, header=False).encode()
    storage.write_object(
        environment["SCORING_INPUT_URI"].replace("{date}", now.strftime("%Y-%m-%d")) + "rows.csv", rows
    )
    package_arn = registered_version(run_pipeline(cloud))
    sagemaker = boto3.client("sagemaker")
    first = len(cloud.bus.invocations)

    sagemaker.update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus="Approved")
    cloud.wait_for_events()
    [started] = [d for d in _scoring_decisions(cloud, first) if d["action"] == "started_job"]
    scheduled = len(cloud.bus.invocations)
    cloud.fire_schedule("scoreline-scoring", scheduled_time=now)

    [repeated] = _scoring_decisions(cloud, scheduled)
    assert (repeated["trigger"], repeated["action"], repeated["job_name"]) == (
        "schedule",
        "job_exists",
        started["job_name"],
    )
    prefix = environment["NAME_PREFIX"]
    jobs = sagemaker.list_transform_jobs(NameContains=f"{prefix}-v{started['version']}-")["TransformJobSummaries"]
    assert [job["TransformJobName"] for job in jobs] == [started["job_name"]]
    job = wait_for(lambda: _finished(sagemaker, started["job_name"]))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
