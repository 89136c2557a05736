"""Local real-time endpoints (local_mode/sagemaker/endpoints.py): the features container's real handlers and a small
model container behind InvokeEndpoint and the predictions API on 127.0.0.1, against moto in this process."""

from __future__ import annotations

import http.client
import json
import shutil
import urllib.parse

import boto3
import pandas as pd
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends

from local_mode import storage
from local_mode.apigateway.predictions import PredictionsApi
from local_mode.modules import load_module
from local_mode.moto_patches import install as install_moto_patches
from local_mode.sagemaker.endpoints import LocalEndpoints
from stacks.tarballs import deterministic_tarball
from tests.conftest import REPO_ROOT

FEATURES_CODE = REPO_ROOT / "container_code" / "features"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-py312-cpu-py3"
BUCKET = "scoreline-endpoints-test"
ENDPOINT = "scoreline-realtime"
# Container 2: reads the features container's .npy matrix, predicts the sum of each row's features.
SUM_MODEL = """
import io
import numpy as np

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return np.load(io.BytesIO(body), allow_pickle=False)

def predict_fn(features, model):
    return features.sum(axis=1)

def output_fn(prediction, accept):
    return "".join(f"{value:.6f}\\n" for value in prediction), "text/csv"
"""
TRAIN = pd.DataFrame({"rooms": [3.0, 4.0, 5.0, 6.0], "age": [10.0, 20.0, 30.0, 40.0], "city": list("abab")})


PREPROCESS = load_module(FEATURES_CODE / "preprocess.py", "endpoints_test_preprocess")  # the job's own code


def fitted_transformer() -> dict:
    return PREPROCESS.fit(TRAIN, "price")


def artifacts(work, transformer: dict, root: str = f"s3://{BUCKET}") -> tuple[str, str]:
    """The features artifact (its real code, a fitted transformer.json) and the sum model's, uploaded under root."""
    features = work / "features"
    shutil.copytree(FEATURES_CODE, features / "code", ignore=shutil.ignore_patterns("__pycache__"))
    (features / "transformer.json").write_text(json.dumps(transformer))
    model = work / "model"
    (model / "code").mkdir(parents=True)
    (model / "code" / "inference.py").write_text(SUM_MODEL)
    uris = f"{root}/features/model.tar.gz", f"{root}/model/model.tar.gz"
    storage.write_object(uris[0], deterministic_tarball(features))
    storage.write_object(uris[1], deterministic_tarball(model))
    return uris


def _deploy_config(sagemaker, name: str, uris: tuple[str, str], submit_directory: str = "/opt/ml/model/code") -> str:
    environment = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": submit_directory}
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/job",
        Containers=[{"Image": IMAGE, "ModelDataUrl": uri, "Environment": environment} for uri in uris],
        InferenceExecutionConfig={"Mode": "Serial"},
        EnableNetworkIsolation=True,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
    )
    return name


@pytest.fixture
def served(tmp_path, monkeypatch):
    """An endpoint serving the real features container and the sum model; the API in front of it."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SAGEMAKER"):
        monkeypatch.delenv(name, raising=False)
    install_moto_patches()  # UpdateEndpoint; moto drops EnableNetworkIsolation, the local cloud keeps it
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        sagemaker = boto3.client("sagemaker")
        transformer = fitted_transformer()
        uris = artifacts(tmp_path / "artifacts", transformer)
        sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=_deploy_config(sagemaker, "v1", uris))
        changes = []
        backend = sagemaker_backends["123456789012"][sagemaker.meta.region_name]
        endpoints = LocalEndpoints(
            tmp_path / "endpoints", sagemaker, backend, lambda name, status: changes.append((name, status))
        )
        endpoints.deployed(ENDPOINT)
        api = PredictionsApi(endpoints, ENDPOINT).start()
        try:
            yield {
                "endpoints": endpoints,
                "api": api,
                "changes": changes,
                "uris": uris,
                "transformer": transformer,
                "backend": backend,
            }
        finally:
            api.stop()


def post(url: str, body: bytes, content_type: str | None = "text/csv") -> tuple[int, str, bytes]:
    """POST with exactly these headers (urllib would add a form Content-Type when none is given)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(
            "POST", parts.path, body=body, headers={"Content-Type": content_type} if content_type else {}
        )
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def test_rows_in_predictions_out_in_order_matching_the_handlers_called_directly(served):
    rows = b"3,10,a\n6,40,b\n4.5,25,a\n"

    status, content_type, body = post(served["api"].url, rows)

    assert (status, content_type) == (200, "text/csv")
    transformer = served["transformer"]
    expected = PREPROCESS.transform(PREPROCESS.parse_rows(rows, transformer), transformer).sum(axis=1)
    assert [float(line) for line in body.decode().splitlines()] == pytest.approx(expected.tolist(), abs=1e-5)
    assert served["changes"] == [(ENDPOINT, "IN_SERVICE")]


@pytest.mark.parametrize(
    "rows, message",
    [
        (b"3,10,a\n6,x,b\n", "row 2: column 'age' has a non-numeric value 'x'"),
        (b"3,10\n", "row 1: expected 3 fields, got 2"),
    ],
)
def test_a_bad_row_is_a_400_naming_it(served, rows, message):
    status, content_type, body = post(served["api"].url, rows)

    assert (status, content_type) == (400, "application/json")
    assert json.loads(body) == {"message": message}


def test_json_rows_are_served_like_csv_rows_and_bad_json_is_a_400(served):
    as_json = post(served["api"].url, b'[{"rooms": 3, "age": 10, "city": "a"}]', "application/json")
    as_csv = post(served["api"].url, b"3,10,a\n")
    bad = post(served["api"].url, b'{"rooms": 3}', "application/json")

    assert as_json[0] == 200 and as_json[2] == as_csv[2]
    assert bad[0] == 400
    assert json.loads(bad[2])["message"] == "bad request: a JSON request must be a list of objects keyed by column name"


@pytest.mark.parametrize(
    "content_type, status, message",
    [(None, 400, "Missing required request parameters: [Content-Type]"), ("application/xml", 415, "Unsupported")],
)
def test_the_api_checks_the_content_type_before_the_endpoint(served, content_type, status, message):
    answer = post(served["api"].url, b"3,10,a\n", content_type)

    assert answer[0] == status and json.loads(answer[2])["message"].startswith(message)


def test_no_endpoint_yet_is_a_503(served, tmp_path):
    empty = PredictionsApi(LocalEndpoints(tmp_path / "none", None, served["backend"]), ENDPOINT).start()
    try:
        status, _, body = post(empty.url, b"3,10,a\n")
    finally:
        empty.stop()

    assert (status, json.loads(body)) == (503, {"message": "no model version is deployed yet: approve one"})


def test_an_update_that_cannot_load_rolls_back_to_the_serving_version(served):
    sagemaker = boto3.client("sagemaker")
    # A network-isolated model whose code is an S3 location cannot start (local_mode.sagemaker.transform's refusal).
    broken = _deploy_config(sagemaker, "v2", served["uris"], submit_directory=f"s3://{BUCKET}/code.tar.gz")
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=broken)

    served["endpoints"].deployed(ENDPOINT)

    endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    assert endpoint["EndpointConfigName"] == "v1" and endpoint["EndpointStatus"] == "InService"
    assert "did not pass its health check" in endpoint["FailureReason"]
    assert post(served["api"].url, b"3,10,a\n")[0] == 200


def test_invoke_endpoint_through_the_sdk(served):
    # InvokeEndpoint is answered by the endpoints the SageMaker backend serves, as the local cloud attaches them
    # (mock_aws resets the backend, and this attribute with it, when the fixture ends).
    served["backend"].local_endpoints = served["endpoints"]
    runtime = boto3.client("sagemaker-runtime")

    answer = runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"3,10,a\n", ContentType="text/csv")
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"3,x,a\n", ContentType="text/csv")

    assert len(answer["Body"].read().decode().splitlines()) == 1
    assert refused.value.response["Error"]["Code"] == "ModelError"
    assert refused.value.response["OriginalMessage"] == "row 1: column 'age' has a non-numeric value 'x'"
