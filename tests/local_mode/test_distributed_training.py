"""PyTorch on two training instances in the local cloud: the pipeline's Train step runs one torchrun per instance
(gloo over 127.0.0.1), succeeds and produces one model, written by rank 0."""

from __future__ import annotations

import io
import tarfile

import boto3
import pytest

from local_mode import storage
from local_mode.demo import synthesize
from tests.local_mode.conftest import local_cloud, run_pipeline

SETTINGS = {"model_flavour": "pytorch", "training_instance_count": 2, "training_hyperparameters": "epochs=3"}


@pytest.fixture(scope="module")
def two_instance_cloud(tmp_path_factory, housing):
    out_dir = tmp_path_factory.mktemp("two-instances") / "cdk.out"
    synthesize(out_dir, SETTINGS)
    with local_cloud(out_dir.parent / "cloud") as cloud:
        bucket = cloud.deploy(out_dir).bucket_for("DataBucket")
        storage.write_object(f"s3://{bucket}/training/input/data.csv", housing.to_csv(index=False).encode())
        yield cloud


@pytest.mark.slow
def test_two_instance_pytorch_training_succeeds_with_one_model(two_instance_cloud):
    execution = run_pipeline(two_instance_cloud)
    sagemaker = boto3.client("sagemaker")
    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=execution["PipelineExecutionArn"])
    train = next(step for step in steps["PipelineExecutionSteps"] if step["StepName"] == "Train")
    assert train["StepStatus"] == "Succeeded", train.get("FailureReason")
    name = train["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
    job = sagemaker.describe_training_job(TrainingJobName=name)
    assert job["ResourceConfig"]["InstanceCount"] == 2
    assert job["HyperParameters"]["sagemaker_torch_distributed_enabled"] == "true"
    with tarfile.open(fileobj=io.BytesIO(storage.read_object(job["ModelArtifacts"]["S3ModelArtifacts"]))) as model:
        names = [member.name.removeprefix("./") for member in model.getmembers() if member.isfile()]
    assert names.count("model.pth") == 1 and "model_config.json" in names
    logs = two_instance_cloud.home / "logs" / "training"
    assert "rank 0 of 2" in (logs / f"{name}.log").read_text()
    assert "rank 1 of 2" in (logs / f"{name}-algo-2.log").read_text()
