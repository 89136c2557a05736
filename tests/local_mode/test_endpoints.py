"""Local real-time endpoints (local_mode/sagemaker/endpoints.py): the features container's real handlers and a small
model container behind InvokeEndpoint and the predictions API on 127.0.0.1, against moto in this process."""

from __future__ import annotations

import http.client
import json
import shutil
import urllib.parse
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends

from demo.errors import DemoFailed
from demo.realtime import same_prediction
from local_mode import storage
from local_mode.apigateway.auth import ApiAuthorizer, signed_headers, signed_post
from local_mode.apigateway.predictions import PredictionsApi
from local_mode.apigateway.responses import method_integration
from local_mode.clients import ADMIN_CREDENTIALS
from local_mode.iam.evaluator import Roles
from local_mode.modules import load_module
from local_mode.moto_patches import install as install_moto_patches
from local_mode.sagemaker.endpoints import Answer, LocalEndpoints
from scoreline.tarballs import deterministic_tarball
from tests.conftest import REPO_ROOT

FEATURES_CODE = REPO_ROOT / "container_code" / "features"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-py312-cpu-py3"
BUCKET = "scoreline-endpoints-test"
ENDPOINT = "scoreline-realtime"
ACCOUNT, REGION, API_ID = "123456789012", "us-east-1", "localapi"
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


@pytest.fixture(scope="module")
def integration(realtime_assembly) -> dict:
    """The predictions method's integration as the real-time app deploys it (its integration responses)."""
    return method_integration(Path(realtime_assembly.directory), "POST", PredictionsApi.RESOURCE)


@pytest.fixture
def served(tmp_path, monkeypatch, integration):
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
        roles = Roles(ACCOUNT)
        api = PredictionsApi(endpoints, ENDPOINT, authorizer(roles), integration).start()
        try:
            yield {
                "integration": integration,
                "endpoints": endpoints,
                "api": api,
                "roles": roles,
                "changes": changes,
                "uris": uris,
                "transformer": transformer,
                "backend": backend,
            }
        finally:
            api.stop()


def authorizer(roles: Roles) -> ApiAuthorizer:
    return ApiAuthorizer(roles, REGION, ACCOUNT, API_ID, "v1", {("POST", "/predictions")})


def post(
    url: str,
    body: bytes,
    content_type: str | None = "text/csv",
    credentials: dict | None = ADMIN_CREDENTIALS,
    method: str = "POST",
) -> tuple[int, str, bytes]:
    """A request as a caller sends it: signed with SigV4 by botocore (unsigned when `credentials` is None), with
    exactly these headers (urllib would add a form Content-Type when none is given)."""
    if credentials is None:
        headers = {"Content-Type": content_type} if content_type else {}
    else:
        headers = signed_headers(url, body, content_type, REGION, credentials, method)
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, parts.path, body=body, headers=headers)
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
    empty = PredictionsApi(
        LocalEndpoints(tmp_path / "none", None, served["backend"]),
        ENDPOINT,
        authorizer(served["roles"]),
        served["integration"],
    ).start()
    try:
        status, _, body = post(empty.url, b"3,10,a\n")
    finally:
        empty.stop()

    assert (status, json.loads(body)) == (503, {"message": "no model version is deployed yet: approve one"})


@pytest.mark.parametrize(
    "invoked, status, message",
    [
        (Answer(400, "application/json", b'{"message": null}'), 429, "the endpoint is busy: retry with backoff"),
        (Answer(413, "application/json", b'{"Message": "Request Entity Too Large"}'), 400, "Request Entity Too Large"),
        (Answer(302, "text/html", b"<html></html>"), 502, "the endpoint gave an unexpected answer"),
    ],
    ids=["throttled", "another 4xx", "unexpected"],
)
def test_sagemakers_errors_reach_the_caller_as_the_deployed_integration_responses_say(
    served, monkeypatch, invoked, status, message
):
    monkeypatch.setattr(served["endpoints"], "invoke", lambda *args, **kwargs: invoked)

    answer = post(served["api"].url, b"3,10,a\n")

    assert (answer[0], answer[1], json.loads(answer[2])) == (status, "application/json", {"message": message})


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


# --- IAM authorization of the API (local_mode/apigateway/auth.py), as API Gateway's AWS_IAM authorization answers ---

METHOD_ARN = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/v1/POST/predictions"


def caller_role(roles: Roles, allowed: bool) -> dict:
    """A role's credentials; `allowed` attaches an inline policy granting execute-api:Invoke on the method."""
    iam = boto3.client("iam")
    name = "allowed-caller" if allowed else "other-caller"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Statement": []}))["Role"]["Arn"]
    if allowed:
        statement = {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": METHOD_ARN}
        iam.put_role_policy(
            RoleName=name,
            PolicyName="invoke",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
    return roles.register(arn)


def test_an_unsigned_request_or_an_unknown_resource_is_missing_authentication_token(served):
    url = served["api"].url
    for status, _, body in (
        post(url, b"3,10,a\n", credentials=None),
        post(url.replace("/predictions", "/other"), b"3,10,a\n"),
        post(url, b"", method="GET"),
    ):
        assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})


def test_a_wrong_secret_or_an_unknown_key_is_refused(served):
    wrong_secret = {**ADMIN_CREDENTIALS, "aws_secret_access_key": "not-the-secret"}
    unknown_key = {"aws_access_key_id": "AKIAUNKNOWN", "aws_secret_access_key": "local"}

    mismatch = post(served["api"].url, b"3,10,a\n", credentials=wrong_secret)
    unknown = post(served["api"].url, b"3,10,a\n", credentials=unknown_key)

    assert mismatch[0] == 403
    assert json.loads(mismatch[2])["message"].startswith(
        "The request signature we calculated does not match the signature you provided."
    )
    assert (unknown[0], json.loads(unknown[2])) == (
        403,
        {"message": "The security token included in the request is invalid."},
    )


def test_a_role_needs_execute_api_invoke_on_the_method(served):
    refused = post(served["api"].url, b"3,10,a\n", credentials=caller_role(served["roles"], allowed=False))
    allowed = post(served["api"].url, b"3,10,a\n", credentials=caller_role(served["roles"], allowed=True))
    administrator = post(served["api"].url, b"3,10,a\n")

    assert (refused[0], json.loads(refused[2])) == (
        403,
        {
            "Message": f"User: arn:aws:sts::{ACCOUNT}:assumed-role/other-caller/local is not authorized to perform: "
            f"execute-api:Invoke on resource: {METHOD_ARN} because no identity-based policy allows the "
            "execute-api:Invoke action"
        },
    )
    assert allowed[0] == administrator[0] == 200 and allowed[2] == administrator[2]


def test_a_signature_older_than_five_minutes_has_expired(served):
    url = served["api"].url
    headers = signed_headers(url, b"3,10,a\n", "text/csv", REGION)
    later = ApiAuthorizer(Roles(ACCOUNT), REGION, ACCOUNT, API_ID, "v1", {("POST", "/predictions")}, now=_in(6))

    refusal = later.refusal("POST", "/v1/predictions", {**headers, "Host": url.split("/")[2]}, b"3,10,a\n")

    assert refusal.error_type == "InvalidSignatureException"
    assert refusal.body["message"].startswith(f"Signature expired: {headers['X-Amz-Date']} is now earlier than")


def _in(minutes: int):
    from datetime import UTC, datetime, timedelta

    return lambda: datetime.now(UTC) + timedelta(minutes=minutes)


def test_the_demo_posts_a_signed_row_and_compares_it_with_the_batch_line(served):
    """The demo's --realtime ending (local_mode.demo), on this endpoint: a matching batch line passes, one within
    float32 rounding passes and says so, another fails with one sentence naming both predictions. The whole demo:
    tests/demo/test_demo_realtime.py (slow)."""
    row = "3,10,a\n"
    status, answer = signed_post(served["api"].url, row.encode(), REGION)
    transformer = served["transformer"]
    [expected] = PREPROCESS.transform(PREPROCESS.parse_rows(row.encode(), transformer), transformer).sum(axis=1)
    batch_line = ["3", "10", "a", f"{expected:.6f}"]  # the transform's output line: the input row, then the prediction

    identical = same_prediction(row, answer, batch_line, 3, 1)
    rounded = same_prediction(row, answer, [*batch_line[:3], f"{expected + 1e-6:.6f}"], 3, 1)
    with pytest.raises(DemoFailed) as differs:
        same_prediction(row, answer, [*batch_line[:3], "0.000000"], 3, 1)

    assert status == 200 and identical == {
        "row": "3,10,a",
        "realtime": f"{expected:.6f}",
        "batch": f"{expected:.6f}",
        "match": "identical",
    }
    assert rounded["match"] == "within float32 rounding"
    assert str(differs.value) == (
        f"the real-time prediction '{expected:.6f}' differs from the batch prediction '0.000000' for row 1 (3,10,a) "
        "of version 1"
    )


def test_labels_must_be_the_same_text_and_numbers_agree_within_float32_rounding():
    pytorch_demo = ["8.3", "2.4880222621327812"]  # measured: the batch line of the pytorch demo's row 1

    assert same_prediction("8.3", "2.488022021422772", pytorch_demo, 1, 1)["match"] == "within float32 rounding"
    with pytest.raises(DemoFailed):
        same_prediction("8.3", "2.4880", pytorch_demo, 1, 1)
    with pytest.raises(DemoFailed):
        same_prediction("5.1", "setosa,0.600000,0.400000", ["5.1", "versicolor", "0.600000", "0.400000"], 1, 1)
