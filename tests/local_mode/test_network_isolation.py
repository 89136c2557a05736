"""A network-isolated model cannot download its inference code: local mode fails such a transform job as AWS
would, and serves one whose code travels inside model.tar.gz under code/."""

from __future__ import annotations

import pytest

from local_mode import storage
from scoreline.tarballs import deterministic_tarball
from tests.local_mode.conftest import run_transform_job

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-py312-cpu-py3"
ECHO_HANDLERS = """
def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return body

def predict_fn(data, model):
    return data

def output_fn(prediction, accept):
    return prediction, "text/csv"
"""


@pytest.fixture(scope="module")
def locations(cloud, tmp_path_factory):
    """An artifact with its code under code/, the same code as an S3 tarball, and one input file."""
    root = f"s3://{cloud.deployment.bucket_for('DataBucket')}/pipeline/isolation"  # the job role reads pipeline/
    work = tmp_path_factory.mktemp("isolation")
    (work / "artifact" / "code").mkdir(parents=True)
    (work / "artifact" / "code" / "inference.py").write_text(ECHO_HANDLERS)
    storage.write_object(f"{root}/model.tar.gz", deterministic_tarball(work / "artifact"))
    storage.write_object(f"{root}/code.tar.gz", deterministic_tarball(work / "artifact" / "code"))
    storage.write_object(f"{root}/input/rows.csv", b"1,2\n3,4\n")
    return root


def _transform(name: str, root: str, submit_directory: str) -> dict:
    environment = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": submit_directory}
    return run_transform_job(
        name, [{"Image": IMAGE, "ModelDataUrl": f"{root}/model.tar.gz", "Environment": environment}], root
    )


def test_isolated_model_with_s3_code_fails_with_the_reason(cloud, locations):
    job = _transform("isolated-s3-code", locations, f"{locations}/code.tar.gz")
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"] == (
        f"ClientError: container 1 cannot download its inference code from {locations}/code.tar.gz: the model was "
        "created with EnableNetworkIsolation=True, so its containers have no network access. Put the code in "
        "model.tar.gz under code/ and set SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code."
    )


def test_isolated_model_with_code_in_its_artifact_is_served(cloud, locations):
    job = _transform("isolated-artifact-code", locations, "/opt/ml/model/code")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert storage.read_object(f"{locations}/output/isolated-artifact-code/rows.csv.out") == b"1,2\n3,4\n"
