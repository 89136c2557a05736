"""The scoring function against moto: its settings, a model registry, the scoring bucket and the alert topic."""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends

from local_mode.moto_patches import install as install_moto_patches

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS = Path(__file__).resolve().parent / "events"
ACCOUNT, REGION = "123456789012", "us-east-1"
GROUP = "scoreline-models"
BUCKET = "scoreline-test-bucket"
INPUT_DATE = "2026-11-25"  # the date of every event fixture
SCIKIT_LEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
# What the scoring stack passes for ml.m5.xlarge (4 vCPUs) by default: 4 requests in flight, 4 single-threaded
# model-server workers in each container (scoreline/model_servers.py).
FOUR_WORKERS = {"OMP_NUM_THREADS": "1", "SAGEMAKER_MODEL_SERVER_WORKERS": "4"}
SETTINGS = {
    "MODEL_PACKAGE_GROUP_NAME": GROUP,
    "EXECUTION_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/scoreline-sagemaker-execution",
    "NAME_PREFIX": "scoreline-scoring",
    "SCORING_INPUT_URI": f"s3://{BUCKET}/scoring/input/{{date}}/",
    "SCORING_OUTPUT_URI": f"s3://{BUCKET}/scoring/output/",
    "KMS_KEY_ARN": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b8e2c4a-6d1f-4e3b-9a5c-7f2d4b6e8a0c",
    "TRANSFORM_INSTANCE_TYPE": "ml.m5.xlarge",
    "TRANSFORM_INSTANCE_STORAGE": "false",
    "TRANSFORM_INSTANCE_COUNT": "2",
    "MAX_PAYLOAD_MB": "6",
    "MAX_CONCURRENT_TRANSFORMS": "4",
    "CONTAINER_ENVIRONMENT": json.dumps([FOUR_WORKERS, FOUR_WORKERS]),
    "INPUT_FILTER": "$[1:]",
    "SENT_ALERTS_URI": f"s3://{BUCKET}/scoring/alerts/",
}
_SHARED_SESSION = boto3.session.Session(region_name=REGION)
_HOOKS: list[tuple[str, object]] = []


def load_event(name: str, version: int = 1) -> dict:
    """An event fixture; `version` moves a model package event to another version of the same group."""
    event = json.loads((EVENTS / f"{name}.json").read_text())
    detail = event.get("detail")
    if detail and version != 1:
        arn = detail["ModelPackageArn"].rsplit("/", 1)[0] + f"/{version}"
        detail.update(ModelPackageVersion=version, ModelPackageArn=arn)
        event["resources"] = [arn]
    return event


def two_containers(version: int) -> list[dict]:
    return [
        {
            "Image": SCIKIT_LEARN_IMAGE,
            "ModelDataUrl": f"s3://{BUCKET}/pipeline/v{version}/features/model.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
        {"Image": SCIKIT_LEARN_IMAGE, "ModelDataUrl": f"s3://{BUCKET}/pipeline/v{version}/model/model.tar.gz"},
    ]


def as_served(containers: list[dict], environments: list[dict]) -> list[dict]:
    """The containers as CreateModel receives them: each environment merged over its container's own."""
    return [
        {**container, "Environment": {**container.get("Environment", {}), **environment}}
        for container, environment in zip(containers, environments, strict=True)
    ]


def scored_model(version: int) -> list[dict]:
    """The version's containers as the scoring function's model has them (the default settings' model servers)."""
    return as_served(two_containers(version), [FOUR_WORKERS, FOUR_WORKERS])


def with_model_data_source(containers: list[dict], data_type: str, compression: str) -> list[dict]:
    """The containers with the second one's ModelDataUrl given as a ModelDataSource instead."""
    second = dict(containers[1])
    uri = second.pop("ModelDataUrl")
    second["ModelDataSource"] = {
        "S3DataSource": {"S3Uri": uri, "S3DataType": data_type, "CompressionType": compression}
    }
    return [containers[0], second]


def fake_error_response(code: str, message: str, service: str = "sagemaker", status: int = 400) -> AWSResponse:
    """An error response in the service's protocol (SageMaker's JSON, S3's XML), for a botocore before-send hook."""
    if service == "s3":
        body, headers = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode(), {}
    else:
        body, headers = json.dumps({"__type": code, "message": message}).encode(), {"x-amzn-ErrorType": code}

    class Raw:
        def stream(self, **_):
            yield body

    return AWSResponse(f"https://{service}.{REGION}.amazonaws.com/", status, headers, Raw())


def on_request(event_name: str, handler, first: bool = False) -> None:
    """Registers a botocore hook for clients created from now on until the test ends (see the `aws` fixture)."""
    events = boto3.DEFAULT_SESSION.events
    (events.register_first if first else events.register)(event_name, handler)
    _HOOKS.append((event_name, handler))


def answer_with_errors(
    operation: str, code: str, times: int, service: str = "sagemaker", status: int = 400
) -> list[str]:
    """Make the next `times` calls of an operation fail with `code`; returns every attempt's operation."""
    attempts = []

    def before_send(**_):
        attempts.append(operation)
        if len(attempts) <= times:
            return fake_error_response(code, f"simulated {code}", service, status)
        return None

    on_request(f"before-send.{service}.{operation}", before_send, first=True)
    return attempts


class ScoringWorld:
    """What the function sees and leaves behind in (moto) AWS."""

    def __init__(self, topic_arn: str, alert_queue_url: str):
        self.sagemaker = boto3.client("sagemaker", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.topic_arn = topic_arn
        self._alert_queue_url = alert_queue_url
        self._created = 0

    def add_version(self, status: str = "Approved", containers: list[dict] | None = None) -> str:
        """Registers the next version of the group, each created a minute after the one before."""
        self._created += 1
        arn = self.sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": containers or two_containers(self._created),
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        # moto stamps milliseconds: versions created in the same one would tie when sorted by creation time.
        created = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=self._created)
        self.backend.model_packages[arn].creation_time = created
        return arn

    def set_status(self, arn: str, status: str) -> None:
        self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)

    def put_input(self, date: str = INPUT_DATE) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=f"scoring/input/{date}/part-0001.csv", Body=b"8.3,41,6.9\n")

    def create_folder(self, date: str = INPUT_DATE) -> None:
        """What the S3 console's "Create folder" leaves: a zero-byte object whose key is the folder's, ending in /."""
        self.s3.put_object(Bucket=BUCKET, Key=f"scoring/input/{date}/", Body=b"")

    def alert_records(self) -> list[str]:
        """Keys of the records the function keeps of the alerts it sent."""
        listing = self.s3.list_objects_v2(Bucket=BUCKET, Prefix="scoring/alerts/")
        return [item["Key"] for item in listing.get("Contents", [])]

    def jobs(self) -> dict[str, dict]:
        names = [job.transform_job_name for job in self.backend.transform_jobs.values()]
        return {name: self.sagemaker.describe_transform_job(TransformJobName=name) for name in names}

    def tags(self, job: dict) -> list[dict]:
        return self.sagemaker.list_tags(ResourceArn=job["TransformJobArn"])["Tags"]

    def models(self) -> dict[str, dict]:
        return {name: self.sagemaker.describe_model(ModelName=name) for name in self.backend._models}

    def alerts(self) -> list[str]:
        response = self.sqs.receive_message(QueueUrl=self._alert_queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"])["Message"] for message in response.get("Messages", [])]

    @property
    def backend(self):
        return sagemaker_backends[ACCOUNT][REGION]


def load_function(folder: str, module_name: str):
    """A shipped function's app.py, loaded as Lambda loads it: `import model_registry` finds the module in the
    function's own folder (not by putting the folder on sys.path, where its app.py would hide the CDK app's)."""
    code_dir = REPO_ROOT / "functions" / folder
    for shared in ("model_registry", "teardown"):  # functions/common, linked into the folders that use them
        if shared not in sys.modules and (code_dir / f"{shared}.py").exists():
            _load(code_dir / f"{shared}.py", shared)
    return _load(code_dir / "app.py", module_name)


def _load(path: Path, module_name: str):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there, as after a normal import
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def app():
    """The shipped scoring function module."""
    return load_function("scoring", "scoring_app")


@pytest.fixture
def aws(monkeypatch):
    """moto for every client; no endpoint override may send requests elsewhere."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    install_moto_patches("stop_transform_job")
    with mock_aws():  # which sets boto3.DEFAULT_SESSION aside until it ends
        # One session for all tests: it caches the service models, which take longer to load than a test runs.
        boto3.DEFAULT_SESSION = _SHARED_SESSION
        yield
    while _HOOKS:
        _SHARED_SESSION.events.unregister(*_HOOKS.pop())


@pytest.fixture
def world(aws, monkeypatch) -> ScoringWorld:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    boto3.client("sagemaker", region_name=REGION).create_model_package_group(ModelPackageGroupName=GROUP)
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="scoreline-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    for name, value in {**SETTINGS, "ALERT_TOPIC_ARN": topic_arn}.items():
        monkeypatch.setenv(name, value)
    return ScoringWorld(topic_arn, queue_url)


class CloudFormationResponse:
    """A custom resource request as CloudFormation sends it, and the answer the function PUTs to its ResponseURL
    (here a listener on 127.0.0.1 instead of CloudFormation's pre-signed S3 URL)."""

    def __init__(self, url: str, bodies: list[bytes]):
        self._url, self._bodies = url, bodies

    def event(self, request_type: str) -> dict:
        event = {
            "RequestType": request_type,
            "ServiceToken": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:scoreline-function",
            "ResponseURL": self._url,
            "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/ScorelineServing/1",
            "RequestId": "request-1",
            "ResourceType": "AWS::CloudFormation::CustomResource",
            "LogicalResourceId": "RunTimeResources",
            "ResourceProperties": {},
        }
        if request_type != "Create":
            event["PhysicalResourceId"] = "scoreline-run-time-resources"
        return event

    def received(self) -> dict:
        [body] = self._bodies
        return json.loads(body)


@pytest.fixture
def cloudformation_response():
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield CloudFormationResponse(f"http://127.0.0.1:{server.server_port}/response", bodies)
    finally:
        server.shutdown()


def variables_the_stack_passes(function: str) -> dict[str, str]:
    """{setting: environment variable} the stacks pass to functions/<function>: they build its environment from
    this table with scoreline.names.environment, which refuses a missing or unknown setting at synth, and the
    synthesized templates hold exactly its variables (tests/stacks/test_function_environments.py)."""
    from scoreline.names import FUNCTION_VARIABLES

    return FUNCTION_VARIABLES[function]


def variables_the_function_reads(function: str) -> set[str]:
    """The names functions/<function>/app.py reads as os.environ["NAME"] (a function without an ENVIRONMENT table)."""
    import ast

    source = (REPO_ROOT / "functions" / function / "app.py").read_text()
    return {
        node.slice.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ"
    }
