"""On the local cloud: every completed scoring job gets a drift check (functions/drift_check, a processing job running
container_code/drift/check.py); a copy of the training rows with one feature shifted raises exactly one alert that
names that feature, an unshifted resample none."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from local_mode import storage
from tests.local_mode.conftest import alert_subscriber, registered_version, run_pipeline, wait_for

DRIFT_SUBJECT = "Scoreline: drift in scoring input"


@pytest.fixture(scope="module")
def alerts(cloud):
    return alert_subscriber("drift-alerts")


@pytest.fixture(scope="module")
def approved(cloud, alerts):
    package_arn = registered_version(run_pipeline(cloud))
    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=package_arn)
    baseline = package["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]
    assert baseline["S3Uri"].endswith("/drift_baseline.json"), baseline
    return package_arn


def _score(cloud, rows, day: datetime, approve: str = "") -> str:
    """Writes `rows` as day's input, scores it (by approving `approve`, or the schedule) and returns the job name."""
    environment = cloud.deployment.environment_of_function_setting("SCORING_INPUT_URI")
    folder = environment["SCORING_INPUT_URI"].replace("{date}", day.strftime("%Y-%m-%d"))
    storage.write_object(folder + "rows.csv", rows.to_csv(index=False, header=False).encode())
    first = len(cloud.bus.invocations)
    if approve:
        boto3.client("sagemaker").update_model_package(ModelPackageArn=approve, ModelApprovalStatus="Approved")
        cloud.wait_for_events()
    else:
        cloud.fire_schedule("scoreline-scoring", scheduled_time=day)
    results = [call["result"] for call in cloud.bus.invocations[first:]]
    decisions = [d for result in results if isinstance(result, list) for d in result]  # the scoring function's
    [started] = [d for d in decisions if d["action"] == "started_job"]
    return started["job_name"]


def _drift_report(cloud, job_name: str) -> dict:
    bucket = cloud.deployment.bucket_for("DataBucket")
    uri = f"s3://{bucket}/scoring/drift/{job_name}/drift.json"
    return json.loads(wait_for(lambda: storage.keys_under(uri) and storage.read_object(uri), timeout=120))


def _drift_alerts(queue_url: str) -> list[str]:
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    bodies = [json.loads(message["Body"]) for message in messages]
    return [body["Message"] for body in bodies if body.get("Subject") == DRIFT_SUBJECT]


def test_a_shifted_feature_is_the_one_drifted_feature_and_raises_one_alert(cloud, housing, approved, alerts):
    shifted = housing.drop(columns=["MedHouseVal"]).sample(1000, random_state=7)
    shifted["MedInc"] = shifted["MedInc"] * 1.3
    job_name = _score(cloud, shifted, datetime.now(UTC), approve=approved)

    report = _drift_report(cloud, job_name)
    assert (report["rows"], report["checked"], report["drifted_features"]) == (1000, True, ["MedInc"])
    assert report["features"]["MedInc"]["psi"] > report["thresholds"]["psi"]
    [alert] = wait_for(lambda: _drift_alerts(alerts), timeout=60)
    assert "MedInc PSI" in alert and job_name in alert
    assert "HouseAge" not in alert


def test_an_unshifted_resample_raises_no_alert(cloud, housing, approved, alerts):
    resample = housing.drop(columns=["MedHouseVal"]).sample(1000, random_state=11, replace=True)
    job_name = _score(cloud, resample, datetime.now(UTC) + timedelta(days=1))

    report = _drift_report(cloud, job_name)
    assert (report["rows"], report["checked"], report["drifted"]) == (1000, True, False)
    assert all(result["psi"] < 0.05 for result in report["features"].values())
    assert _drift_alerts(alerts) == []
