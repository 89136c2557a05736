"""PyTorch and XGBoost on two training instances in the local cloud: the pipeline's Train step runs one process per
instance (PyTorch: torchrun, gloo over 127.0.0.1; XGBoost: the script, joining the instances with its collective
through algo-1's tracker), succeeds and produces one model, written by the first instance."""

from __future__ import annotations

import io
import tarfile

import boto3
import pytest

from demo.synth import synthesize
from local_mode import storage
from tests.local_mode.conftest import local_cloud, run_pipeline

FLAVOURS = {
    "pytorch": ({"training_hyperparameters": "epochs=3"}, ("model.pth", "model_config.json"), "true"),
    "xgboost": ({"training_hyperparameters": "num_round=20"}, ("xgboost-model.ubj", "schema.json"), None),
}


@pytest.fixture(scope="module", params=sorted(FLAVOURS))
def two_instance_cloud(request, tmp_path_factory, housing):
    flavour = request.param
    out_dir = tmp_path_factory.mktemp(f"two-instances-{flavour}") / "cdk.out"
    synthesize(out_dir, {"model_flavour": flavour, "training_instance_count": 2, **FLAVOURS[flavour][0]})
    with local_cloud(out_dir.parent / "cloud") as cloud:
        bucket = cloud.deploy(out_dir).bucket_for("DataBucket")
        storage.write_object(f"s3://{bucket}/training/input/data.csv", housing.to_csv(index=False).encode())
        yield flavour, cloud


@pytest.mark.slow
def test_two_instance_training_succeeds_with_one_model(two_instance_cloud):
    flavour, cloud = two_instance_cloud
    _, model_files, distribution = FLAVOURS[flavour]
    execution = run_pipeline(cloud)
    sagemaker = boto3.client("sagemaker")
    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=execution["PipelineExecutionArn"])
    train = next(step for step in steps["PipelineExecutionSteps"] if step["StepName"] == "Train")
    assert train["StepStatus"] == "Succeeded", train.get("FailureReason")
    name = train["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
    job = sagemaker.describe_training_job(TrainingJobName=name)
    assert job["ResourceConfig"]["InstanceCount"] == 2
    assert job["HyperParameters"].get("sagemaker_torch_distributed_enabled") == distribution
    with tarfile.open(fileobj=io.BytesIO(storage.read_object(job["ModelArtifacts"]["S3ModelArtifacts"]))) as model:
        names = [member.name.removeprefix("./") for member in model.getmembers() if member.isfile()]
    assert all(names.count(model_file) == 1 for model_file in model_files)
    logs = cloud.home / "logs" / "training"
    assert "rank 0 of 2" in (logs / f"{name}.log").read_text()
    assert "rank 1 of 2" in (logs / f"{name}-algo-2.log").read_text()
