"""Real-time endpoints in the local cloud.

- UpdateEndpoint for moto 5.2.5's SageMaker stand-in, which lacks it: moto's CreateEndpoint puts an endpoint
  InService at once; UpdateEndpoint here does the same with the new configuration and keeps the DeploymentConfig it
  was given, as DescribeEndpoint returns it (LastDeploymentConfig).
- LocalEndpoints: serve an endpoint's configuration with both containers' handlers (serving.load_container, as batch
  transform loads them) and answer InvokeEndpoint as SageMaker Runtime does (ModelError for a container's error).
- PredictionsApi: the serving stack's API on 127.0.0.1 with the same checks and error mapping.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
from botocore.exceptions import ClientError
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from local_mode.sagemaker.transform import Container, TransformError, load_container

ACCOUNT = "123456789012"  # moto's default account, as local_mode.cloud uses it

# UpdateEndpoint: "You must wait for the endpoint to be InService (or Failed) before calling UpdateEndpoint"
# is how AWS answers an update of an endpoint in progress (ValidationException).
_UPDATABLE = ("InService", "Failed")


def _backend_update_endpoint(
    self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, deployment_config: dict | None
) -> FakeEndpoint:
    endpoint = self.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    if endpoint.endpoint_status not in _UPDATABLE:
        raise ValidationError(message=f"Cannot update in-progress endpoint '{endpoint.arn}'.")
    config = self.describe_endpoint_config(endpoint_config_name)  # ValidationError when it does not exist
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
    endpoint.last_deployment_config = deployment_config
    endpoint.endpoint_status = "InService"
    endpoint.last_modified_time = utcnow()
    return endpoint


def _response_update_endpoint(self: SageMakerResponse) -> ActionResult:
    endpoint = self.sagemaker_backend.update_endpoint(
        self._get_param("EndpointName"), self._get_param("EndpointConfigName"), self._get_param("DeploymentConfig")
    )
    return ActionResult({"EndpointArn": endpoint.arn})


def add_update_endpoint() -> None:
    """Teach moto's SageMaker backend and responses UpdateEndpoint; calling it again changes nothing."""
    if not hasattr(SageMakerModelBackend, "update_endpoint"):
        SageMakerModelBackend.update_endpoint = _backend_update_endpoint
    if not hasattr(SageMakerResponse, "update_endpoint"):
        SageMakerResponse.update_endpoint = _response_update_endpoint


# --- serving: the endpoint's containers and InvokeEndpoint ------------------------------------------------------

# SageMaker Runtime InvokeEndpoint: "Body ... Maximum length of 6291456" (6 MB); API Gateway allows 10 MB.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# What the API answers for a ModelError whose message is the caller's mistake (the features container's sentences).
_CALLER_MISTAKE = re.compile(r"(row [0-9]+: |unsupported content type|bad request: )[^\n\"]*")
_API_CONTENT_TYPES = ("text/csv", "application/json")


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: InvokeEndpoint's, or the API's."""

    status: int
    content_type: str
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class LocalEndpoints:
    """Endpoints that serve with both containers' handlers in this process, as serial inference.

    `deployed(name)` runs after CreateEndpoint or UpdateEndpoint: it loads the configuration's model the way batch
    transform loads it (serving.load_container). A model that cannot load fails a new endpoint (Failed) and rolls an
    update back to the configuration that served before, as SageMaker's blue/green deployment does; either way
    `on_state_change(endpoint_name, status)` then reports it, as the "SageMaker Endpoint State Change" event does.
    """

    def __init__(
        self,
        root: Path,
        on_state_change: Callable[[str, str], None] | None = None,
        run_later: Callable[..., None] | None = None,
    ):
        self._root = root
        self._on_state_change = on_state_change or (lambda name, status: None)
        self.run_later = run_later or (lambda work, *args: work(*args))
        self._served: dict[str, tuple[str, list[Container]]] = {}  # endpoint -> (configuration, containers)
        self._lock = threading.Lock()

    def deployed(self, endpoint_name: str) -> None:
        sagemaker = boto3.client("sagemaker")
        config_name = sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
        try:
            containers = self._load(sagemaker, endpoint_name, config_name)
        except (TransformError, OSError, ValueError, ClientError) as error:  # a missing artifact fails it too
            self._refuse(endpoint_name, f"the new fleet did not pass its health check: {error}")
            return
        with self._lock:
            self._served[endpoint_name] = (config_name, containers)
        service_backend().endpoints[endpoint_name].endpoint_status = "InService"
        self._on_state_change(endpoint_name, "IN_SERVICE")

    def _load(self, sagemaker, endpoint_name: str, config_name: str) -> list[Container]:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        [variant] = config["ProductionVariants"]
        model = sagemaker.describe_model(ModelName=variant["ModelName"])
        definitions = model.get("Containers") or [model["PrimaryContainer"]]
        isolated = bool(model.get("EnableNetworkIsolation"))
        root = self._root / endpoint_name / config_name
        return [load_container(definition, root, index, isolated) for index, definition in enumerate(definitions)]

    def _refuse(self, endpoint_name: str, reason: str) -> None:
        endpoint = service_backend().endpoints[endpoint_name]
        with self._lock:
            previous = self._served.get(endpoint_name)
        endpoint.failure_reason = reason
        if previous is None:
            endpoint.endpoint_status = "Failed"
            self._on_state_change(endpoint_name, "FAILED")
        else:
            endpoint.endpoint_config_name = previous[0]  # the old fleet keeps serving
            endpoint.endpoint_status = "InService"
            self._on_state_change(endpoint_name, "IN_SERVICE")

    def invoke(self, endpoint_name: str, body: bytes, content_type: str, accept: str = "text/csv") -> Answer:
        """InvokeEndpoint: both containers in turn. A handler's exception is the container's 500 with the exception's
        text (sagemaker-inference-toolkit Transformer.transform: GenericInferenceToolkitError(500, str(e))), which
        SageMaker returns as a ModelError (424) with OriginalStatusCode and OriginalMessage."""
        with self._lock:
            served = self._served.get(endpoint_name)
        if served is None:
            return _error(400, "ValidationError", f"Endpoint {endpoint_name} of account {ACCOUNT} not found.")
        if len(body) > MAX_PAYLOAD_BYTES:
            return _error(400, "ValidationError", "Request payload exceeds the 6 MB InvokeEndpoint limit.")
        current_type = content_type
        for position, container in enumerate(served[1]):
            try:
                body, current_type = container.invoke(body, current_type, accept)
            except Exception as error:  # the container's own failure, reported as SageMaker reports it
                name = "primary" if position == 0 else f"container {position + 1}"
                return Answer(
                    424,
                    "application/json",
                    json.dumps(
                        {
                            "ErrorCode": "SERVER_ERROR_FROM_MODEL",
                            "OriginalStatusCode": 500,
                            "OriginalMessage": str(error),
                            "Message": f'Received server error (500) from {name} with message "{error}".',
                        }
                    ).encode(),
                )
        return Answer(200, current_type, body)


def api_answer(endpoints: LocalEndpoints, endpoint_name: str, body: bytes, content_type: str | None) -> Answer:
    """What the predictions API answers: the method's checks, then InvokeEndpoint, then the integration responses
    of stacks/serving_stack.py (the same status mapping, in Python instead of VTL)."""
    if not content_type:
        return _message(400, "Missing required request parameters: [Content-Type]")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in _API_CONTENT_TYPES:  # PassthroughBehavior NEVER: no template for this type
        return _message(415, "Unsupported Media Type")
    answer = endpoints.invoke(endpoint_name, body, media_type)
    if answer.status == 200:
        return answer
    if answer.status == 424:
        mistake = _CALLER_MISTAKE.search(answer.json().get("OriginalMessage", ""))
        if mistake:
            return _message(400, mistake.group(0))
        return _message(502, "the model failed on this request; see the endpoint's logs")
    if answer.status == 400:
        message = answer.json()["message"]
        if "not found" in message:
            return _message(503, "no model version is deployed yet: approve one")
        return _message(400, message)
    if answer.status == 429:
        return _message(429, "the endpoint is busy: retry with backoff")
    return _message(503, "the endpoint is unavailable: retry later")


class PredictionsApi:
    """The predictions API on 127.0.0.1: POST /v1/predictions, as the serving stack's stage and resource.

    Requests are not SigV4-checked: local mode does not enforce IAM (README, Local mode)."""

    PATH = "/v1/predictions"

    def __init__(self, endpoints: LocalEndpoints, endpoint_name: str, port: int = 0):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                if self.path.split("?")[0] != api.PATH:
                    answer = _message(404, f"no resource {self.path}; POST rows to {api.PATH}")
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    answer = api_answer(endpoints, endpoint_name, body, self.headers.get("Content-Type"))
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args):  # no line per request
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True, name="local-predictions-api"
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.PATH}"

    def start(self) -> PredictionsApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _error(status: int, code: str, message: str) -> Answer:
    return Answer(status, "application/json", json.dumps({"__type": code, "message": message}).encode())


def _message(status: int, message: str) -> Answer:
    return Answer(status, "application/json", json.dumps({"message": message}).encode())


def service_backend(account: str = ACCOUNT, region: str | None = None) -> SageMakerModelBackend:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account][region or boto3.session.Session().region_name or "us-east-1"]


def add_invoke_endpoint(endpoints: LocalEndpoints) -> None:
    """Answer SageMaker Runtime InvokeEndpoint (moto's returns canned data) from `endpoints`, for the AWS CLI and SDKs
    pointed at the local cloud."""

    def invoke_endpoint(self: SageMakerRuntimeResponse):
        name = self.path.split("/")[2]
        answer = endpoints.invoke(
            # raw_body: the request's bytes (moto decodes `body` to text, which would break npy bodies)
            name,
            self.raw_body or b"",
            self.headers.get("Content-Type") or "",
            self.headers.get("Accept") or "text/csv",
        )
        headers = {"Content-Type": answer.content_type, "status": answer.status}  # moto reads the status here
        if answer.status != 200:
            headers["x-amzn-ErrorType"] = "ModelError" if answer.status == 424 else answer.json().get("__type", "")
        return answer.status, headers, answer.body

    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint


# --- wiring into a local cloud ------------------------------------------------------------------------------------

_active: LocalEndpoints | None = None


def attach_endpoints(root: Path, run_later: Callable[..., None], put_event: Callable[..., None]) -> LocalEndpoints:
    """Real-time endpoints for a local cloud: CreateEndpoint and UpdateEndpoint leave the endpoint Creating or
    Updating and load its model in the background (`run_later`), then send "SageMaker Endpoint State Change"
    through `put_event(source, detail_type, detail, resources)`; InvokeEndpoint answers from the loaded model."""
    global _active

    def state_change(endpoint_name: str, status: str) -> None:
        endpoint = boto3.client("sagemaker").describe_endpoint(EndpointName=endpoint_name)
        detail = {
            "EndpointName": endpoint_name,
            "EndpointArn": endpoint["EndpointArn"],
            "EndpointConfigName": endpoint["EndpointConfigName"],
            "EndpointStatus": status,
        }
        put_event("aws.sagemaker", "SageMaker Endpoint State Change", detail, [endpoint["EndpointArn"]])

    add_update_endpoint()
    if not getattr(SageMakerModelBackend.create_endpoint, "_local_endpoints", False):
        SageMakerModelBackend.create_endpoint = _loads_in_background(SageMakerModelBackend.create_endpoint, "Creating")
        SageMakerModelBackend.update_endpoint = _loads_in_background(SageMakerModelBackend.update_endpoint, "Updating")
    _active = LocalEndpoints(root, state_change, run_later)
    add_invoke_endpoint(_active)
    return _active


def _loads_in_background(original, status: str):
    @functools.wraps(original)
    def wrapper(self: SageMakerModelBackend, *args, **kwargs):
        endpoint = original(self, *args, **kwargs)
        if _active is not None:
            endpoint.endpoint_status = status
            _active.run_later(_active.deployed, endpoint.endpoint_name)
        return endpoint

    wrapper._local_endpoints = True
    return wrapper


def detach_endpoints() -> None:
    """The local cloud stopped: endpoints created from now on are moto's plain ones again."""
    global _active
    _active = None
