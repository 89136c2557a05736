"""SageMaker real-time endpoints: an endpoint's configuration served with both containers' handlers loaded in this
process (transform.load_container: the artifacts unpacked as batch transform unpacks them, the handler rules of
model_server.py), and InvokeEndpoint answered as SageMaker Runtime
answers it (ModelError for a container's error). moto_patches.py leaves CreateEndpoint and UpdateEndpoint Creating or
Updating and hands the endpoint to `LocalEndpoints.deployed` (the moto backend's `local_endpoints`), and answers
InvokeEndpoint from it.

LIMITATIONS: one production variant, no instances or autoscaling behind it (InstanceType, counts and
scaling policies are stored, not applied); a blue/green update switches at once (no canary or linear traffic
shifting, no alarm-based rollback); no data capture, shadow variants or serverless inference; the containers run in
this process with this machine's Python, one request at a time: no model server workers (batch transform has them,
model_server.py), so a container's SAGEMAKER_MODEL_SERVER_WORKERS and thread settings (OMP_NUM_THREADS and the
like) do not apply here."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from moto.sagemaker.models import SageMakerModelBackend

from local_mode.sagemaker.model_server import Container, TransformError
from local_mode.sagemaker.transform import load_model

ACCOUNT = "123456789012"  # moto's default account, as local_mode.cloud uses it

# SageMaker Runtime InvokeEndpoint: "Body ... Maximum length of 6291456" (6 MB); API Gateway allows 10 MB.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


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

    `deployed(name)` runs after CreateEndpoint or UpdateEndpoint: it loads the configuration's model in this process
    (transform.load_container). A model that cannot load fails a new endpoint (Failed) and rolls an
    update back to the configuration that served before, as SageMaker's blue/green deployment does; either way
    `on_state_change(endpoint_name, status)` then reports it, as the "SageMaker Endpoint State Change" event does.
    """

    def __init__(
        self,
        root: Path,
        sagemaker,
        backend: SageMakerModelBackend,
        on_state_change: Callable[[str, str], None] | None = None,
        run_later: Callable[..., None] | None = None,
        s3_for_role: Callable[[str], Any] | None = None,
    ):
        """`sagemaker` is the client SageMaker's own work uses (the local cloud's administrator), `backend` moto's
        SageMaker backend whose endpoints this serves, `s3_for_role` the S3 client of a model's execution role,
        which reads its artifacts (without it, boto3's default client)."""
        self._root = root
        self._sagemaker = sagemaker
        self._backend = backend
        self._s3_for_role = s3_for_role
        self._on_state_change = on_state_change or (lambda name, status: None)
        self.run_later = run_later or (lambda work, *args: work(*args))
        self._served: dict[str, tuple[str, list[Container]]] = {}  # endpoint -> (configuration, containers)
        self._lock = threading.Lock()

    def deployed(self, endpoint_name: str) -> None:
        config_name = self._sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
        try:
            containers = self._load(endpoint_name, config_name)
        except (TransformError, OSError, ValueError, ClientError) as error:  # a missing artifact fails it too
            self._refuse(endpoint_name, f"the new fleet did not pass its health check: {error}")
            return
        with self._lock:
            self._served[endpoint_name] = (config_name, containers)
        self._backend.endpoints[endpoint_name].endpoint_status = "InService"
        self._on_state_change(endpoint_name, "IN_SERVICE")

    def forget(self, endpoint_name: str) -> None:
        """The endpoint was deleted: it serves nothing more."""
        with self._lock:
            self._served.pop(endpoint_name, None)

    def _load(self, endpoint_name: str, config_name: str) -> list[Container]:
        config = self._sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        [variant] = config["ProductionVariants"]
        model = self._sagemaker.describe_model(ModelName=variant["ModelName"])
        s3 = self._s3_for_role(model["ExecutionRoleArn"]) if self._s3_for_role else None
        return load_model(model, self._root / endpoint_name / config_name, s3)

    def _refuse(self, endpoint_name: str, reason: str) -> None:
        endpoint = self._backend.endpoints[endpoint_name]
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


def _error(status: int, code: str, message: str) -> Answer:
    return Answer(status, "application/json", json.dumps({"__type": code, "message": message}).encode())
