"""EventBridge: events as AWS sends them (SageMaker's state changes, S3's "Object Created"), matched against the
deployed rules with moto's EventPattern matcher, delivered to the deployed functions (asynchronously, through
local_mode/lambda_/provider.py), SNS topics and SQS queues (events/targets.py). Events are put after the API call
that caused them returns, on the bus's own thread, as in AWS. The bus's thread also runs the Scheduler's deliveries
(scheduler/delivery.py) and alarm actions (cloudwatch/alarms.py), which it hands on.

A rule delivers as events.amazonaws.com with the rule's ARN as aws:SourceArn, so the target's resource policy (Lambda
permission, topic or queue policy) and an encrypted target's key policy must allow it.

LIMITATIONS: a refused delivery is never retried (EventBridge documents "no retry attempts" for missing
permissions); the dead-letter records carry the event and the error attributes but not every field AWS adds; one
thread delivers every event in turn."""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from moto.events.models import EventPattern

from local_mode.clients import Clients
from local_mode.cloudwatch.alarms import AlarmActions
from local_mode.events.targets import Targets
from local_mode.iam.evaluator import AccessDenied, Authorizer
from local_mode.lambda_.provider import Functions
from local_mode.model import Deployment, Rule, Target
from local_mode.scheduler.delivery import ScheduleDelivery
from local_mode.store import LocalStore

log = logging.getLogger("local_mode")


class EventBus:
    """A refused delivery is not retried and goes to the target's dead-letter queue with ERROR_CODE NO_PERMISSIONS
    (EventBridge, "Using dead-letter queues to process undelivered events"), or is dropped and logged when there is
    none or it cannot be written."""

    def __init__(
        self, deployment: Deployment, store: LocalStore, authorizer: Authorizer, clients: Clients, functions: Functions
    ):
        self._deployment = deployment
        self._store = store
        self._clients = clients
        self.functions = functions
        self._targets = Targets(deployment, authorizer, clients, functions)
        self._schedules = ScheduleDelivery(deployment, authorizer, clients, self._targets, store.invocations)
        self._alarms = AlarmActions(deployment, self._targets, store.invocations)
        self._patterns = [(rule, EventPattern.load(json.dumps(rule.pattern))) for rule in deployment.rules]
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-events")

    @property
    def invocations(self) -> list[dict[str, Any]]:
        return self._store.invocations

    def invoke(self, function, payload: Any, source: str) -> str | None:  # tests call the bus
        return self.functions.invoke(function, payload, source)

    # Delivery after the API call returns -------------------------------------------------------------------------
    def later(self, work, *args) -> None:
        """Events reach rules after the API call returns, as in AWS: `work(*args)` runs on the bus's thread."""
        self._thread.submit(_guarded, work, *args)

    def wait(self) -> None:
        """Block until everything handed to `later` so far has run."""
        self._thread.submit(lambda: None).result()

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)

    def object_created(self, bucket: str, key) -> None:
        """S3 sends "Object Created" for a new object of a bucket with EventBridge notifications (S3, "EventBridge
        event message structure"); moto_patches calls this as the S3 backend's listener."""
        detail = {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key.name, "size": key.size, "etag": key.etag.strip('"'), "version-id": key.version_id},
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": self._deployment.account,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        }
        self.later(self.put_event, "aws.s3", "Object Created", detail, [f"arn:aws:s3:::{bucket}"])

    def put_event(self, source: str, detail_type: str, detail: dict, resources: list[str]) -> dict:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": self._deployment.account,
            "time": _now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._deployment.region,
            "resources": resources,
            "detail": json.loads(json.dumps(detail, default=_json_default)),
        }
        for rule, pattern in self._patterns:
            if pattern.matches_event(event):
                for target in rule.targets:
                    self.deliver_from_rule(rule, target, event)
        return event

    # The Scheduler's deliveries and alarm actions ---------------------------------------------------------------
    def fire_schedule(self, name: str, scheduled_time: datetime | None = None) -> None:
        self._schedules.fire_schedule(name, scheduled_time)

    def deliver(self, target: Target, payload: Any, source: str, group: str = "default") -> None:
        self._schedules.deliver(target, payload, source, group)

    def alarm(self, name: str, reason: str) -> None:
        self._alarms.alarm(name, reason)

    # Rules ----------------------------------------------------------------------------------------------------
    def deliver_from_rule(self, rule: Rule, target: Target, event: dict) -> None:
        source = f"rule {rule.name}"
        try:
            self._targets.authorize_service_delivery(_EVENTS, target.arn, rule.arn, with_source_in_key_context=False)
        except AccessDenied as denial:
            log.warning("%s: cannot deliver to %s: %s", source, target.arn, denial)
            self.invocations.append({"target": target.arn, "source": source, "payload": event, "error": str(denial)})
            self._rule_dead_letter(rule, target, event, str(denial))
            return
        self._targets.send(target, event, source)

    def _rule_dead_letter(self, rule: Rule, target: Target, event: dict, error: str) -> None:
        queue = target.dead_letter_arn
        if queue not in self._deployment.queues:
            log.warning("rule %s: the event is dropped (no dead-letter queue)", rule.name)
            return
        try:
            self._targets.authorize_service_delivery(_EVENTS, queue, rule.arn, with_source_in_key_context=False)
        except AccessDenied as denial:  # counted as InvocationsFailedToBeSentToDlq on AWS
            log.warning("rule %s: the event is dropped, its dead-letter queue refuses it: %s", rule.name, denial)
            return
        attributes = {"RULE_ARN": rule.arn, "TARGET_ARN": target.arn, "ERROR_CODE": "NO_PERMISSIONS"}
        attributes["ERROR_MESSAGE"] = error[:1000]
        self._clients.client("sqs").send_message(
            QueueUrl=self._deployment.queues[queue],
            MessageBody=json.dumps(event),
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )


_EVENTS = "events.amazonaws.com"


def _now() -> datetime:
    return datetime.now(UTC)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _guarded(work, *args) -> None:
    """Background work logs its failure instead of vanishing in a thread pool."""
    try:
        work(*args)
    except Exception:
        log.error("local cloud: %s failed\n%s", getattr(work, "__name__", work), traceback.format_exc())
