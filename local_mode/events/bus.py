"""Events as AWS sends them, matched against the deployed rules with moto's EventBridge pattern matcher, and
schedules fired on their cron (or on demand); targets are the deployed functions (each in its own execution
environment, local_mode/lambda_/runtime.py), SNS topics and SQS queues. Functions are invoked asynchronously, as rules
and schedules invoke them: a function error gets Lambda's retries from the function's event invoke config (waits
scaled by ASYNC_TIME_SCALE), then the record goes to its on-failure destination, written with the function's role.

Every delivery needs what AWS needs: a rule delivers as events.amazonaws.com and an alarm as
cloudwatch.amazonaws.com, with the rule's or alarm's ARN as aws:SourceArn, so the target's resource policy (Lambda
permission, topic or queue policy) and an encrypted target's key policy must allow them; a schedule delivers with its
execution role, which the Scheduler must be able to assume (trust policy, aws:SourceArn of the schedule group) and
whose identity policies must allow the invocation, the universal target's API call and the dead-letter queue write.

LIMITATIONS: retries of failed deliveries (universal Scheduler targets) are immediate and a refused delivery is
never retried (EventBridge documents "no retry attempts" for missing permissions; Scheduler documents only retries
then its DLQ); one-time schedules fire within a quarter second of their time; the EventBridge and Scheduler
dead-letter records carry the event and the error attributes but not every field AWS adds; alarms fire only when
asked (`LocalCloud.alarm`), no metric is evaluated; an SNS topic's subscribers are moto's."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError
from cronsim import CronSim
from moto.events.models import EventPattern

from local_mode.iam.requests import key_arn
from local_mode.clients import Clients
from local_mode.cloudformation.deploy import Deployment, Function, Rule, Target, target_from_definition
from local_mode.iam.evaluator import AccessDenied, Authorizer, Request
from local_mode.lambda_.runtime import ExecutionEnvironment

log = logging.getLogger("local_mode")
# Lambda waits 1 minute before the first retry of a failed asynchronous invocation and 2 before the second; local
# mode runs those waits (and the maximum event age) 600 times faster: 0.1 s and 0.2 s.
_RETRY_WAITS_SECONDS = (60, 120)
ASYNC_TIME_SCALE = 1 / 600
_UNIVERSAL_TARGET = re.compile(r"^arn:[a-z-]+:scheduler:::aws-sdk:([a-z0-9-]+):([A-Za-z0-9]+)$")


class EventBus:
    """Delivers events and schedule firings to the deployed targets, as the delivering service would: a rule
    delivers as events.amazonaws.com, so the target's resource policy (Lambda permission, topic or queue policy)
    and an encrypted target's key policy must allow it; a schedule delivers with its execution role, which the
    Scheduler assumes (its trust policy) and whose policies must allow the call. A refused delivery is not retried
    and goes to the target's dead-letter queue with ERROR_CODE NO_PERMISSIONS (EventBridge, "Using dead-letter
    queues to process undelivered events"), or is dropped and logged when there is none or it cannot be written."""

    def __init__(
        self,
        deployment: Deployment,
        logs_dir: Path,
        authorizer: Authorizer,
        clients: Clients,
        environments: dict[str, ExecutionEnvironment],
    ):
        self._deployment = deployment
        self._logs_dir = logs_dir
        self._authorizer = authorizer
        self._clients = clients
        self._environments = environments  # by function ARN
        self._patterns = [(rule, EventPattern.load(json.dumps(rule.pattern))) for rule in deployment.rules]
        self.invocations: list[dict[str, Any]] = []

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

    def fire_schedule(self, name: str, scheduled_time: datetime | None = None) -> None:
        schedule = self._deployment.schedules[name]
        moment = (scheduled_time or _now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        payload = (schedule.target.input or "{}").replace("<aws.scheduler.scheduled-time>", moment)
        self.deliver(schedule.target, json.loads(payload), source=f"schedule {name}", group=schedule.group)

    # Rules ----------------------------------------------------------------------------------------------------
    def deliver_from_rule(self, rule: Rule, target: Target, event: dict) -> None:
        source = f"rule {rule.name}"
        try:
            self._authorize_service_delivery(_EVENTS, target.arn, rule.arn, with_source_in_key_context=False)
        except AccessDenied as denial:
            log.warning("%s: cannot deliver to %s: %s", source, target.arn, denial)
            self.invocations.append({"target": target.arn, "source": source, "payload": event, "error": str(denial)})
            self._rule_dead_letter(rule, target, event, str(denial))
            return
        self._send(target, event, source)

    def _rule_dead_letter(self, rule: Rule, target: Target, event: dict, error: str) -> None:
        queue = target.dead_letter_arn
        if queue not in self._deployment.queues:
            log.warning("rule %s: the event is dropped (no dead-letter queue)", rule.name)
            return
        try:
            self._authorize_service_delivery(_EVENTS, queue, rule.arn, with_source_in_key_context=False)
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

    def _authorize_service_delivery(
        self, service: str, target_arn: str, source_arn: str, with_source_in_key_context: bool
    ) -> None:
        """A service principal delivering on a resource's behalf (aws:SourceArn, aws:SourceAccount): the target's
        resource policy must allow it, and an encrypted target's key policy must let the service use the key (SNS,
        "Enable compatibility between event sources from AWS services and encrypted topics"; EventBridge passes no
        aws:SourceArn to KMS, CloudWatch does)."""
        source = {"aws:SourceArn": source_arn, "aws:SourceAccount": self._deployment.account}
        context = {**source, "aws:SecureTransport": "true"}  # services call each other over TLS
        key_context = dict(source) if with_source_in_key_context else {}
        if target_arn in self._deployment.functions:
            function = self._deployment.functions[target_arn]
            request = Request("lambda:InvokeFunction", function.arn, context)
            self._authorizer.deliver(service, request, [{"Statement": function.permissions}], None, key_context)
        elif target_arn.startswith("arn:aws:sns:"):
            topic = _moto_topic(self._deployment, target_arn)
            key = key_arn(self._deployment.account, self._deployment.region, topic.kms_master_key_id)
            key_context["kms:EncryptionContext:aws:sns:topicArn"] = target_arn
            request = Request("sns:Publish", target_arn, context)
            self._authorizer.deliver(service, request, [json.loads(topic.policy)], key, key_context)
        elif target_arn in self._deployment.queues:
            queue = _moto_queue(self._deployment, target_arn)
            key = key_arn(self._deployment.account, self._deployment.region, queue.kms_master_key_id)
            key_context["kms:EncryptionContext:aws:sqs:arn"] = target_arn
            policy = [json.loads(queue.policy)] if queue.policy else []
            self._authorizer.deliver(service, Request("sqs:SendMessage", target_arn, context), policy, key, key_context)

    # Alarms ---------------------------------------------------------------------------------------------------
    def alarm(self, name: str, reason: str) -> None:
        """An alarm going into ALARM: its actions publish as cloudwatch.amazonaws.com; a topic whose policy or key
        refuses it gets nothing, and the alarm's history records the failed action (CloudWatch, "Alarm actions")."""
        alarm = self._deployment.alarms[name]
        message = {"AlarmName": name, "AlarmArn": alarm.arn, "NewStateValue": "ALARM", "NewStateReason": reason}
        for action in alarm.actions:
            try:
                self._authorize_service_delivery(_CLOUDWATCH, action, alarm.arn, with_source_in_key_context=True)
            except AccessDenied as denial:
                log.warning("alarm %s: failed to execute action %s: %s", name, action, denial)
                self.invocations.append({"target": action, "source": f"alarm {name}", "error": str(denial)})
                continue
            self._send(Target(arn=action), message, f"alarm {name}")

    # Schedules ------------------------------------------------------------------------------------------------
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
                self.invocations.append(
                    {"target": target.arn, "source": source, "payload": payload, "error": str(denial)}
                )
                self._schedule_dead_letter(target, payload, source, str(denial))
                return
        self._send(target, payload, source)

    def _send(self, target: Target, payload: Any, source: str) -> None:
        if target.arn in self._deployment.functions:
            self.invoke_async(self._deployment.functions[target.arn], payload, source)
        elif _UNIVERSAL_TARGET.match(target.arn):
            self._call_api_with_retries(target, payload, source)
        elif target.arn.startswith("arn:aws:sns:"):
            self._clients.client("sns").publish(TopicArn=target.arn, Message=json.dumps(payload))
        elif target.arn in self._deployment.queues:
            self._clients.client("sqs").send_message(
                QueueUrl=self._deployment.queues[target.arn], MessageBody=json.dumps(payload)
            )
        else:
            log.warning("%s: target %s is not something local mode can deliver to", source, target.arn)

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
            "timestamp": _now().isoformat(),
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

    def _call_api_with_retries(self, target: Target, payload: Any, source: str) -> None:
        """A Scheduler universal target, arn:aws:scheduler:::aws-sdk:<service>:<apiAction>: the API call with the
        target's Input as its parameters (EventBridge Scheduler, "Using universal targets"), signed as the
        schedule's execution role, whose policies decide it."""
        service, action = _UNIVERSAL_TARGET.match(target.arn).groups()
        operation = re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()
        error = None
        for _attempt in range(1 + target.retry_attempts):
            try:
                result = getattr(self._clients.client(service, target.role_arn), operation)(**payload)
            except Exception as exception:  # an API error: retried, then a dead letter, as Scheduler does
                error = f"{type(exception).__name__}: {exception}"
                if isinstance(exception, ClientError) and "AccessDenied" in exception.response["Error"]["Code"]:
                    break  # a permission error is not retried
                continue
            result.pop("ResponseMetadata", None)
            self.invocations.append({"target": target.arn, "source": source, "payload": payload, "result": result})
            return
        log.warning("%s: %s failed after its retries: %s", source, target.arn, error)
        self.invocations.append({"target": target.arn, "source": source, "payload": payload, "error": error})
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

    # Functions ------------------------------------------------------------------------------------------------
    def invoke(self, function: Function, payload: Any, source: str) -> str | None:
        """Run the function in its own execution environment; returns the error, if any."""
        result, error = self._environments[function.arn].invoke(payload, source)
        self.invocations.append(
            {"function": function.name, "source": source, "payload": payload, "result": result, "error": error}
        )
        return error


_EVENTS = "events.amazonaws.com"
_CLOUDWATCH = "cloudwatch.amazonaws.com"


def _moto_topic(deployment: Deployment, arn: str):
    from moto.sns.models import sns_backends

    return sns_backends[deployment.account][deployment.region].topics[arn]


def _moto_queue(deployment: Deployment, arn: str):
    from moto.sqs.models import sqs_backends

    return sqs_backends[deployment.account][deployment.region].queues[arn.rsplit(":", 1)[1]]


class Scheduler(threading.Thread):
    """Fires every deployed schedule at its next cron or rate time, in its time zone, until stopped."""

    def __init__(self, bus: EventBus, deployment: Deployment):
        super().__init__(daemon=True, name="local-scheduler")
        self._bus = bus
        self._deployment = deployment
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        due = {
            name: next_fire_time(schedule.expression, schedule.time_zone)
            for name, schedule in self._deployment.schedules.items()
        }
        while due and not self._stopped.is_set():
            name = min(due, key=due.get)
            if self._stopped.wait(max(0.0, (due[name] - _now()).total_seconds())):
                return
            log.info("schedule %s fires (scheduled time %s)", name, due[name].isoformat())
            self._bus.fire_schedule(name, due[name])
            schedule = self._deployment.schedules[name]
            due[name] = next_fire_time(schedule.expression, schedule.time_zone, after=due[name])


class OneTimeSchedules(threading.Thread):
    """Fires the one-time `at(...)` schedules created through the Scheduler API after deploy (by a function or a
    user) when their time comes, then deletes those whose ActionAfterCompletion is DELETE (EventBridge Scheduler:
    "For one-time schedules, this occurs after the schedule has invoked its target once")."""

    def __init__(self, bus: EventBus, clients: Clients, interval: float = 0.25):
        super().__init__(daemon=True, name="local-one-time-schedules")
        self._bus = bus
        self._clients = clients
        self._interval = interval
        self._fired: set[tuple[str, str]] = set()  # (schedule ARN, expression) of fired schedules kept (NONE)
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self.fire_due()
            except Exception:  # keep the scheduler alive; the next round tries again
                log.error("one-time schedules: %s", traceback.format_exc())

    def fire_due(self) -> None:
        client = self._clients.client("scheduler")
        for summary in client.list_schedules()["Schedules"]:
            schedule = client.get_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
            due = one_time_fire_time(schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone", "UTC"))
            fired = (schedule["Arn"], schedule["ScheduleExpression"])
            if due is None or due > _now() or schedule.get("State") == "DISABLED" or fired in self._fired:
                continue
            if schedule.get("ActionAfterCompletion") == "DELETE":
                client.delete_schedule(Name=schedule["Name"], GroupName=schedule["GroupName"])
            else:
                self._fired.add(fired)
            log.info("one-time schedule %s fires (scheduled time %s)", schedule["Name"], due.isoformat())
            target = target_from_definition(schedule["Target"])
            moment = due.strftime("%Y-%m-%dT%H:%M:%SZ")
            payload = (target.input or "{}").replace("<aws.scheduler.scheduled-time>", moment)
            source = f"schedule {schedule['Name']}"
            self._bus.deliver(target, json.loads(payload), source=source, group=schedule["GroupName"])


def one_time_fire_time(expression: str, time_zone: str) -> datetime | None:
    """The UTC time of a one-time schedule, at(yyyy-mm-ddThh:mm:ss) in its time zone; None for cron and rate."""
    match = re.fullmatch(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)", expression.strip())
    if not match:
        return None
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def next_fire_time(expression: str, time_zone: str, after: datetime | None = None) -> datetime:
    """Next time an EventBridge `cron(...)` or `rate(...)` expression fires, in UTC."""
    after = after or _now()
    if expression.startswith("rate("):
        amount, unit = expression[5:-1].split()
        seconds = int(amount) * {"minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]
        return datetime.fromtimestamp(after.timestamp() + seconds, UTC)
    local_after = after.astimezone(ZoneInfo(time_zone)).replace(tzinfo=None)
    upcoming = next(CronSim(unix_cron(expression), local_after))
    return upcoming.replace(tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def unix_cron(expression: str) -> str:
    """EventBridge cron (6 fields, year last, `?`, days of week 1-7 from Sunday) as 5-field Unix cron."""
    minutes, hours, day_of_month, month, day_of_week, _year = expression.strip()[5:-1].split()

    # Day numbers shift down by one (EventBridge counts from 1); the N of "day#N" is an occurrence, not a day.
    day_of_week = re.sub(r"(?<!#)\d+", lambda match: str(int(match.group()) - 1), day_of_week)
    return " ".join(part.replace("?", "*") for part in (minutes, hours, day_of_month, month, day_of_week))


def _now() -> datetime:
    return datetime.now(UTC)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)
