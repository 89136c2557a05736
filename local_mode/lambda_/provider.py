"""Lambda: the deployed functions, each in its own execution environment (local_mode/lambda_/runtime.py) with only
what Lambda gives a function (its variables, the region, its role's credentials, its name), invoked synchronously
(a pipeline's Lambda step) or asynchronously (rules and schedules) as Lambda invokes them. Every invocation is
recorded in the store.

LIMITATIONS: see local_mode/lambda_/runtime.py (one environment per function, no timeout or memory limit); the
asynchronous invocation queue is the caller's thread (an event is run at once, not queued for later); retry waits
and the maximum event age are scaled by ASYNC_TIME_SCALE; the on-failure destination must be an SQS queue."""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local_mode.clients import Clients
from local_mode.lambda_.runtime import ExecutionEnvironment
from local_mode.model import Deployment, Function
from local_mode.modules import runtime_environment
from local_mode.store import LocalStore

log = logging.getLogger("local_mode")
# Lambda waits 1 minute before the first retry of a failed asynchronous invocation and 2 before the second; local
# mode runs those waits (and the maximum event age) 600 times faster: 0.1 s and 0.2 s.
_RETRY_WAITS_SECONDS = (60, 120)
ASYNC_TIME_SCALE = 1 / 600


class Functions:
    def __init__(self, deployment: Deployment, store: LocalStore, clients: Clients, logs_dir: Path):
        self._deployment = deployment
        self._store = store
        self._clients = clients
        self._environments = {
            function.arn: ExecutionEnvironment(
                function.name,
                function.arn,
                function.code_dir,
                function.handler,
                self._environment_of(function),
                logs_dir / f"{function.name}.log",
            )
            for function in deployment.functions.values()
        }

    def start(self) -> None:
        for environment in self._environments.values():
            environment.start()  # the init phase runs while the deploy goes on

    def stop(self) -> None:
        for environment in self._environments.values():
            environment.stop()

    def _environment_of(self, function: Function) -> dict[str, str]:
        """Only what Lambda gives a function: its variables, the region, its role's credentials, its name."""
        return {
            **runtime_environment(),
            **self._clients.environment(function.role_arn),
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            **function.environment,
        }

    def call(self, function: Function, payload: Any, source: str) -> tuple[Any, str | None]:
        """A synchronous invocation in the function's execution environment: (result, error)."""
        result, error = self._environments[function.arn].invoke(payload, source)
        self._store.invocations.append(
            {"function": function.name, "source": source, "payload": payload, "result": result, "error": error}
        )
        return result, error

    def invoke(self, function: Function, payload: Any, source: str) -> str | None:
        """Run the function in its own execution environment; returns the error, if any."""
        return self.call(function, payload, source)[1]

    def invoke_async(self, function: Function, payload: Any, source: str) -> None:
        """An asynchronous invocation, as rules and schedules make them: Lambda accepts the event (the delivery has
        succeeded, so the target's retries and dead-letter queue no longer apply), then runs it; on a function error
        it runs it again `async_retries` times, waiting 1 and then 2 minutes (scaled by ASYNC_TIME_SCALE), and gives
        up on an event older than its maximum age; a given-up event's record goes to the on-failure destination
        (Lambda: "How Lambda handles errors and retries with asynchronous invocation", "Capturing records of Lambda
        asynchronous invocations")."""
        accepted, error = time.monotonic(), ""
        for attempt in range(1 + function.async_retries):
            if attempt:
                time.sleep(_RETRY_WAITS_SECONDS[min(attempt, 2) - 1] * ASYNC_TIME_SCALE)
                if (time.monotonic() - accepted) / ASYNC_TIME_SCALE > function.max_event_age_seconds:
                    self._give_up(function, payload, "EventAgeExceeded", attempt, error)
                    return
            error = self.invoke(function, payload, source)
            if error is None:
                return
        self._give_up(function, payload, "RetriesExhausted", 1 + function.async_retries, error)

    def _give_up(self, function: Function, payload: Any, condition: str, attempts: int, error: str) -> None:
        log.warning("function %s gave up on an event (%s): %s", function.name, condition, error)
        if function.on_failure_arn not in self._deployment.queues:
            return  # no destination: Lambda discards the event
        error_type, _, error_message = error.partition(": ")
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{function.arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": error_type, "errorMessage": error_message},
        }
        # Lambda writes the record with the function's execution role ("Adding a destination").
        queue_url = self._deployment.queues[function.on_failure_arn]
        try:
            self._clients.client("sqs", function.role_arn).send_message(
                QueueUrl=queue_url, MessageBody=json.dumps(record)
            )
        except ClientError as refusal:
            log.warning("function %s: the on-failure record is dropped: %s", function.name, refusal)
