"""API Gateway: the serving stack's predictions API on 127.0.0.1, POST /v1/predictions, with its method's checks,
InvokeEndpoint through the local endpoints (local_mode/sagemaker/endpoints.py) and its integration responses.

LIMITATIONS: requests are not SigV4-checked (no IAM authorization on the method); no throttling, usage plans,
stages other than the one path, or access logs; the VTL templates of stacks/serving_stack.py are not run, their
mapping is written again here in Python."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from local_mode.sagemaker.endpoints import Answer, LocalEndpoints

# What the API answers for a ModelError whose message is the caller's mistake (the features container's sentences).
_CALLER_MISTAKE = re.compile(r"(row [0-9]+: |unsupported content type|bad request: )[^\n\"]*")
_API_CONTENT_TYPES = ("text/csv", "application/json")


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


def _message(status: int, message: str) -> Answer:
    return Answer(status, "application/json", json.dumps({"message": message}).encode())
