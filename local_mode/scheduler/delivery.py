"""EventBridge Scheduler's delivery of a due schedule: with its execution role, which the Scheduler must be able to
assume (trust policy, aws:SourceArn of the schedule group) and whose identity policies must allow the invocation, the
templated SageMaker target's StartPipelineExecution and the dead-letter queue write ("Set up the execution role",
"Configuring a dead-letter queue"). scheduler/schedules.py decides when a schedule is due.

LIMITATIONS: retries are immediate and a refused delivery is never retried (Scheduler documents only retries then its
DLQ); the dead-letter records carry the payload and the error message but not every attribute AWS adds; universal
targets are not delivered."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from local_mode.clients import Clients
from local_mode.events.targets import Targets
from local_mode.iam.evaluator import AccessDenied, Authorizer, Request
from local_mode.model import Deployment, Target

log = logging.getLogger("local_mode")


class ScheduleDelivery:
    def __init__(
        self,
        deployment: Deployment,
        authorizer: Authorizer,
        clients: Clients,
        targets: Targets,
        invocations: list[dict[str, Any]],
    ):
        self._deployment = deployment
        self._authorizer = authorizer
        self._clients = clients
        self._targets = targets
        self._invocations = invocations

    def fire_schedule(self, name: str, scheduled_time: datetime | None = None) -> None:
        schedule = self._deployment.schedules[name]
        moment = (scheduled_time or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        payload = (schedule.target.input or "{}").replace("<aws.scheduler.scheduled-time>", moment)
        self.deliver(schedule.target, json.loads(payload), source=f"schedule {name}", group=schedule.group)

    def deliver(self, target: Target, payload: Any, source: str, group: str = "default") -> None:
        """A schedule's delivery with its execution role (rules deliver through deliver_from_rule)."""
        if target.role_arn:
            try:
                group_arn = f"arn:aws:scheduler:{self._deployment.region}:{self._deployment.account}:"
                self._authorizer.assume(
                    target.role_arn, "scheduler.amazonaws.com", f"{group_arn}schedule-group/{group}"
                )
                if target.arn in self._deployment.functions:
                    self._authorizer.authorize(target.role_arn, Request("lambda:InvokeFunction", target.arn))
            except AccessDenied as denial:
                log.warning("%s: cannot invoke %s: %s", source, target.arn, denial)
                self._invocations.append(
                    {"target": target.arn, "source": source, "payload": payload, "error": str(denial)}
                )
                self._schedule_dead_letter(target, payload, source, str(denial))
                return
        self._send(target, payload, source)

    def _send(self, target: Target, payload: Any, source: str) -> None:
        if self._pipeline_name(target.arn):
            self._start_pipeline_with_retries(target, payload, source)
        else:
            self._targets.send(target, payload, source)

    def _pipeline_name(self, arn: str) -> str | None:
        """The name in a SageMaker pipeline ARN of this account and region (the local cloud has one of each)."""
        prefix = f"arn:aws:sagemaker:{self._deployment.region}:{self._deployment.account}:pipeline/"
        return arn[len(prefix) :] if arn.startswith(prefix) and "/" not in arn[len(prefix) :] else None

    def _start_pipeline_with_retries(self, target: Target, payload: Any, source: str) -> None:
        """Scheduler's templated SageMaker target (EventBridge Scheduler, "Using templated targets": with a resource's
        ARN as the target, Scheduler calls that service's supported operation): StartPipelineExecution on the pipeline,
        its SageMakerPipelineParameters' PipelineParameterList as the PipelineParameters, signed as the schedule's
        execution role, whose policies decide it ("you must also grant permissions to the schedule's execution role to
        perform the targeted API operation"). Scheduler builds the request itself (here botocore fills its
        ClientRequestToken); the target takes no Input. A refusal is a dead letter at once, any other error after the
        retries, as for the other targets."""
        request = {
            "PipelineName": self._pipeline_name(target.arn),
            "PipelineParameters": list(target.pipeline_parameters or []),
        }
        error = None
        for _attempt in range(1 + target.retry_attempts):
            try:
                result = self._clients.client("sagemaker", target.role_arn).start_pipeline_execution(**request)
            except Exception as exception:  # an API error: retried, then a dead letter, as Scheduler does
                error = f"{type(exception).__name__}: {exception}"
                if isinstance(exception, ClientError) and "AccessDenied" in exception.response["Error"]["Code"]:
                    break  # a permission error is not retried
                continue
            result.pop("ResponseMetadata", None)
            self._invocations.append({"target": target.arn, "source": source, "payload": request, "result": result})
            return
        log.warning("%s: %s failed after its retries: %s", source, target.arn, error)
        self._invocations.append({"target": target.arn, "source": source, "payload": request, "error": error})
        self._schedule_dead_letter(target, payload, source, error)

    def _schedule_dead_letter(self, target: Target, payload: Any, source: str, error: str) -> None:
        """The Scheduler writes its dead-letter queue with the schedule's execution role, which needs sqs:SendMessage
        (and the queue key through SQS) ("Configuring a schedule's dead-letter queue")."""
        if target.dead_letter_arn not in self._deployment.queues:
            return
        try:
            self._clients.client("sqs", target.role_arn).send_message(
                QueueUrl=self._deployment.queues[target.dead_letter_arn],
                MessageBody=json.dumps(payload),
                MessageAttributes={"ERROR_MESSAGE": {"DataType": "String", "StringValue": error[:1000]}},
            )
        except ClientError as refusal:
            log.warning("%s: the dead letter is dropped, the queue refuses the role: %s", source, refusal)
