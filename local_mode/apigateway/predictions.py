"""API Gateway: the serving stack's predictions API on 127.0.0.1, POST /v1/predictions, with its method's checks,
InvokeEndpoint through the local endpoints (local_mode/sagemaker/endpoints.py) and the deployed method's integration
responses (local_mode/apigateway/responses.py: selected by InvokeEndpoint's status, their VTL templates run).

Requests pass the method's IAM authorization first (local_mode/apigateway/auth.py).

LIMITATIONS: no presigned URLs, session tokens or API resource policies; no throttling, usage plans,
stages other than the one path, or access logs; those of responses.py and vtl.py."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from local_mode.apigateway.auth import ApiAuthorizer, rest_api_id
from local_mode.apigateway.responses import integration_answer, method_integration
from local_mode.sagemaker.endpoints import ACCOUNT, Answer, LocalEndpoints

_API_CONTENT_TYPES = ("text/csv", "application/json")


def api_answer(
    endpoints: LocalEndpoints,
    endpoint_name: str,
    integration: dict,
    body: bytes,
    content_type: str | None,
    accept: str | None = None,
) -> Answer:
    """What the predictions API answers: the method's checks, then InvokeEndpoint, then the deployed integration's
    responses (`integration`: the method's Integration in the template)."""
    if not content_type:
        return _message(400, "Missing required request parameters: [Content-Type]")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in _API_CONTENT_TYPES:  # PassthroughBehavior NEVER: no template for this type
        return _message(415, "Unsupported Media Type")
    return integration_answer(integration, endpoints.invoke(endpoint_name, body, media_type), accept)


class PredictionsApi:
    """The predictions API on 127.0.0.1: POST /v1/predictions, as the serving stack's stage and resource, with its
    IAM authorization (local_mode/apigateway/auth.py) before the method's checks and the integration (api_answer):
    `integration` is the deployed method's Integration (`method_integration`)."""

    STAGE, RESOURCE = "v1", "/predictions"
    PATH = f"/{STAGE}{RESOURCE}"

    def __init__(
        self,
        endpoints: LocalEndpoints,
        endpoint_name: str,
        authorizer: ApiAuthorizer,
        integration: dict,
        port: int = 0,
    ):

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                refusal = authorizer.refusal(self.command, self.path, self.headers, body)
                if refusal:
                    self._send(refusal.status, "application/json", refusal.encoded(), refusal.error_type)
                    return
                answer = api_answer(
                    endpoints,
                    endpoint_name,
                    integration,
                    body,
                    self.headers.get("Content-Type"),
                    self.headers.get("Accept"),
                )
                self._send(answer.status, answer.content_type, answer.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer  # noqa: N815 (http.server's names)

            def _send(self, status: int, content_type: str, body: bytes, error_type: str = "") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # no line per request
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True, name="local-predictions-api"
        )

    @classmethod
    def for_cloud(cls, cloud, cdk_out: Path, port: int = 0) -> PredictionsApi:
        """The API of the app deployed in `cloud` from `cdk_out`: the method ARN names the deployed API's id, so the
        deployed InvokePredictionsPolicy grants it, and the integration responses are the deployed method's."""
        authorizer = ApiAuthorizer(
            cloud.authorizer.roles,
            cloud.region,
            ACCOUNT,
            rest_api_id(cdk_out),
            cls.STAGE,
            {("POST", cls.RESOURCE)},
        )
        integration = method_integration(cdk_out, "POST", cls.RESOURCE)
        return cls(cloud.endpoints, cloud.real_time_endpoint_name(), authorizer, integration, port)

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


def _message(status: int, message: str) -> Answer:
    return Answer(status, "application/json", json.dumps({"message": message}).encode())
