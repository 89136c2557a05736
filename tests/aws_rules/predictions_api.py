"""The predictions API's method in the real-time app's serving template, and what it answers for an InvokeEndpoint
answer: its integration responses selected and their templates run as API Gateway does
(local_mode/apigateway/responses.py, local_mode/apigateway/vtl.py)."""

from __future__ import annotations

import json

from local_mode.apigateway.responses import integration_answer
from local_mode.sagemaker.endpoints import Answer
from tests.synth_helpers import only


def integration(realtime_app: dict) -> dict:
    return only(realtime_app["ScorelineServing"], "AWS::ApiGateway::Method")["Properties"]["Integration"]


def api_answer(realtime_app: dict, status: int, body: dict | str) -> tuple[int, dict]:
    """The API's status and JSON body for InvokeEndpoint's `status` and JSON `body`."""
    text = body if isinstance(body, str) else json.dumps(body)
    answer = integration_answer(integration(realtime_app), Answer(status, "application/json", text.encode()))
    return answer.status, json.loads(answer.body)
