"""Issue 12, items 1 and 4 in the local cloud: step caching follows the training data's content, and the quality
gate compares the candidate with the baselines and the approved champion.

One module, one sequence of executions (each costs seconds): new data -> version 2 is a new model; the same data
again -> Preprocess, Train and Evaluate are cache hits; a demanding margin over the baselines -> Fail; the champion
approved, then a weak candidate -> Fail with the candidate's and the champion's RMSE in the message."""

from __future__ import annotations

import json
import re

import boto3
import pytest

from local_mode import storage
from tests.local_mode.conftest import model_artifact, registered_version, run_pipeline, steps_of

CACHED = ["Preprocess", "Train", "Evaluate"]


def evaluation_report(cloud, execution: dict) -> dict:
    bucket = cloud.deployment.bucket_for("DataBucket")
    execution_id = execution["PipelineExecutionArn"].rsplit("/", 1)[1]
    return json.loads(storage.read_object(f"s3://{bucket}/pipeline/{execution_id}/evaluation/evaluation.json"))


def put_training_data(cloud, frame) -> None:
    bucket = cloud.deployment.bucket_for("DataBucket")
    storage.write_object(f"s3://{bucket}/training/input/data.csv", frame.to_csv(index=False).encode())


@pytest.fixture(scope="module")
def executions(cloud, housing):
    """v1 on the full data; v2 after the CSV is replaced; a third execution on v2's data, unchanged."""
    first = run_pipeline(cloud)
    put_training_data(cloud, housing.sample(frac=0.8, random_state=12))
    second = run_pipeline(cloud)
    same_again = run_pipeline(cloud)
    return first, second, same_again


def test_new_training_data_trains_and_registers_a_new_model(executions):
    first, second, _ = executions
    assert [first["PipelineExecutionStatus"], second["PipelineExecutionStatus"]] == ["Succeeded", "Succeeded"]
    steps = steps_of(second)
    assert [name for name in CACHED if "CacheHitResult" in steps[name]] == []
    assert registered_version(second).endswith("/2")
    assert model_artifact(registered_version(second)) != model_artifact(registered_version(first))


def test_the_same_training_data_is_a_cache_hit(executions):
    _, second, same_again = executions
    assert same_again["PipelineExecutionStatus"] == "Succeeded"
    steps = steps_of(same_again)
    sources = {name: steps[name].get("CacheHitResult", {}).get("SourcePipelineExecutionArn") for name in CACHED}
    assert sources == {name: second["PipelineExecutionArn"] for name in CACHED}
    # The manifest the TrainingData step returned names the same content, at the same key.
    manifests = [
        {
            item["Name"]: item["Value"]
            for item in steps_of(run)["TrainingData"]["Metadata"]["Lambda"]["OutputParameters"]
        }
        for run in (second, same_again)
    ]
    assert manifests[0]["ManifestUri"] == manifests[1]["ManifestUri"]
    assert re.search(r"/training/manifests/[0-9a-f]{64}\.json$", manifests[0]["ManifestUri"])


def test_a_model_that_does_not_beat_the_baseline_by_the_margin_fails(cloud, executions):
    """Same data, a demanding MinImprovementOverBaseline: Train is a cache hit, Evaluate measures again (its
    arguments changed) and the gate refuses, with the numbers."""
    demanding = run_pipeline(cloud, MinImprovementOverBaseline=0.9)
    assert demanding["PipelineExecutionStatus"] == "Failed"
    assert "CacheHitResult" in steps_of(demanding)["Train"]
    report = evaluation_report(cloud, demanding)
    gate = report["gate"]
    candidate_rmse = report["regression_metrics"]["rmse"]["value"]
    assert gate["baseline_limit_rmse"] == pytest.approx(gate["baseline_rmse"] * 0.1)
    assert gate["baseline_limit_rmse"] < candidate_rmse < gate["baseline_rmse"]
    assert gate["champion_rmse"].startswith("none")  # nothing approved yet: only the baseline condition failed
    reason = demanding["FailureReason"]
    assert f"candidate test RMSE {candidate_rmse}" in reason
    assert f"baseline RMSE {gate['baseline_rmse']} (limit {gate['baseline_limit_rmse']})" in reason


def test_a_model_worse_than_the_champion_fails_with_both_rmses(cloud, housing, executions):
    _, second, _ = executions
    champion = registered_version(second)
    boto3.client("sagemaker").update_model_package(ModelPackageArn=champion, ModelApprovalStatus="Approved")
    put_training_data(cloud, housing.sample(n=300, random_state=4))  # too few rows to match the champion
    weak = run_pipeline(cloud)
    assert weak["PipelineExecutionStatus"] == "Failed"
    report = evaluation_report(cloud, weak)
    assert report["champion_metrics"]["model_package_arn"] == champion
    # 300 rows are small data: the candidate's figures are cross-validated; the champion, a fixed model, is compared
    # with the candidate on the test split, and is clearly better there.
    candidate_rmse = report["regression_metrics"]["rmse"]["value"]
    champion_rmse = report["champion_metrics"]["regression_metrics"]["rmse"]["value"]
    champion_check = report["gate"]["checks"]["champion"]
    assert champion_check["candidate"] == report["test_split"]["regression_metrics"]["rmse"]["value"]
    assert champion_check["interval"][0] > 0 and not champion_check["passed"]
    assert report["gate"]["champion_limit_rmse"] == pytest.approx(champion_rmse)
    reason = weak["FailureReason"]
    assert "worse than the champion: the candidate's test RMSE" in reason
    assert f"candidate cross-validated RMSE {candidate_rmse}" in reason
    assert f"champion RMSE {champion_rmse}" in reason
    assert f"baseline RMSE {report['gate']['baseline_rmse']}" in reason
    assert "Register" not in steps_of(weak)
