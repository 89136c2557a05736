"""local_mode.moto_patches.install("stop_transform_job"): StopTransformJob in moto, in-process and in a moto server."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from local_mode.moto_patches import install as install_moto_patches
from tests.functions.conftest import ACCOUNT, REGION

JOB = "scoreline-scoring-v1-schedule-20261125T060000Z"


def _start_job(sagemaker) -> None:
    sagemaker.create_transform_job(
        TransformJobName=JOB,
        ModelName="scoreline-scoring-scoreline-models-v1",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}}},
        TransformOutput={"S3OutputPath": "s3://b/out/"},
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
    )
    from moto.sagemaker.models import sagemaker_backends

    sagemaker_backends[ACCOUNT][REGION].transform_jobs[JOB].transform_job_status = "InProgress"


def _status(sagemaker) -> str:
    return sagemaker.describe_transform_job(TransformJobName=JOB)["TransformJobStatus"]


def test_stop_transform_job_in_process(aws):
    install_moto_patches("stop_transform_job")  # a second call changes nothing
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    _start_job(sagemaker)

    sagemaker.stop_transform_job(TransformJobName=JOB)

    assert _status(sagemaker) == "Stopped"
    with pytest.raises(ClientError, match="Could not find transform job"):
        sagemaker.stop_transform_job(TransformJobName="scoreline-scoring-missing")


def test_a_finished_job_keeps_its_status(aws):
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    _start_job(sagemaker)
    from moto.sagemaker.models import sagemaker_backends

    sagemaker_backends[ACCOUNT][REGION].transform_jobs[JOB].transform_job_status = "Completed"

    sagemaker.stop_transform_job(TransformJobName=JOB)

    assert _status(sagemaker) == "Completed"


def test_stop_transform_job_through_a_threaded_moto_server(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    install_moto_patches("stop_transform_job")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        sagemaker = boto3.client("sagemaker", region_name=REGION, endpoint_url=f"http://{host}:{port}")
        _start_job(sagemaker)

        sagemaker.stop_transform_job(TransformJobName=JOB)

        assert _status(sagemaker) == "Stopped"
    finally:
        server.stop()
