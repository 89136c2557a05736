"""Events as AWS sends them, matched against the deployed rules with moto's EventBridge pattern matcher, and
schedules fired on their cron (or on demand); targets are the deployed functions (run in this process), SNS
topics and SQS queues. Functions are invoked asynchronously, as rules and schedules invoke them: a function error
gets Lambda's retries from the function's event invoke config (waits scaled by ASYNC_TIME_SCALE), then the
record goes to its on-failure destination. A universal Scheduler target whose API call fails gets the target's
retries (immediate here), then its dead-letter queue."""

from __future__ import annotations

import contextlib
import io
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

import boto3
from cronsim import CronSim
from moto.events.models import EventPattern

from local_mode.deploy import Deployment, Function, Target, target_from_definition
from local_mode.modules import load_module

log = logging.getLogger("local_mode")
# Lambda waits 1 minute before the first retry of a failed asynchronous invocation and 2 before the second; local
# mode runs those waits (and the maximum event age) 600 times faster: 0.1 s and 0.2 s.
_RETRY_WAITS_SECONDS = (60, 120)
ASYNC_TIME_SCALE = 1 / 600
_UNIVERSAL_TARGET = re.compile(r"^arn:[a-z-]+:scheduler:::aws-sdk:([a-z0-9-]+):([A-Za-z0-9]+)$")


class EventBus:
    def __init__(self, deployment: Deployment, logs_dir: Path):
        self._deployment = deployment
        self._logs_dir = logs_dir
        self._patterns = [(rule, EventPattern.load(json.dumps(rule.pattern))) for rule in deployment.rules]
        self._function_lock = threading.Lock()  # one invocation at a time: functions read os.environ
        self._modules: dict[str, Any] = {}
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
                    self.deliver(target, event, source=f"rule {rule.name}")
        return event

    def fire_schedule(self, name: str, scheduled_time: datetime | None = None) -> None:
        schedule = self._deployment.schedules[name]
        moment = (scheduled_time or _now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        payload = (schedule.target.input or "{}").replace("<aws.scheduler.scheduled-time>", moment)
        self.deliver(schedule.target, json.loads(payload), source=f"schedule {name}")

    def deliver(self, target: Target, payload: Any, source: str) -> None:
        if target.arn in self._deployment.functions:
            self.invoke_async(self._deployment.functions[target.arn], payload, source)
        elif _UNIVERSAL_TARGET.match(target.arn):
            self._call_api_with_retries(target, payload, source)
        elif target.arn.startswith("arn:aws:sns:"):
            boto3.client("sns").publish(TopicArn=target.arn, Message=json.dumps(payload))
        elif target.arn in self._deployment.queues:
            boto3.client("sqs").send_message(
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
        queue_url = self._deployment.queues[function.on_failure_arn]
        boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))

    def _call_api_with_retries(self, target: Target, payload: Any, source: str) -> None:
        """A Scheduler universal target, arn:aws:scheduler:::aws-sdk:<service>:<apiAction>: the API call with the
        target's Input as its parameters (EventBridge Scheduler, "Using universal targets"), made with this
        process's credentials (local mode does not enforce the schedule's role)."""
        service, action = _UNIVERSAL_TARGET.match(target.arn).groups()
        operation = re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()
        error = None
        for _attempt in range(1 + target.retry_attempts):
            try:
                result = getattr(boto3.client(service), operation)(**payload)
            except Exception as exception:  # an API error: retried, then a dead letter, as Scheduler does
                error = f"{type(exception).__name__}: {exception}"
                continue
            result.pop("ResponseMetadata", None)
            self.invocations.append({"target": target.arn, "source": source, "payload": payload, "result": result})
            return
        log.warning("%s: %s failed after its retries: %s", source, target.arn, error)
        self.invocations.append({"target": target.arn, "source": source, "payload": payload, "error": error})
        if target.dead_letter_arn in self._deployment.queues:
            boto3.client("sqs").send_message(
                QueueUrl=self._deployment.queues[target.dead_letter_arn],
                MessageBody=json.dumps(payload),
                MessageAttributes={"ERROR_MESSAGE": {"DataType": "String", "StringValue": error[:1000]}},
            )

    def invoke(self, function: Function, payload: Any, source: str) -> str | None:
        """Run the function's handler in this process with its deployed environment; returns the error, if any."""
        module_name, handler_name = function.handler.rsplit(".", 1)
        log_file = self._logs_dir / "functions" / f"{function.name}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with self._function_lock, log_file.open("a") as log_stream:
            output = io.StringIO()
            handler_log = logging.StreamHandler(output)
            logging.getLogger().addHandler(handler_log)
            error = None
            try:
                with contextlib.redirect_stdout(output):
                    module = self._module(function, module_name)
                    result = getattr(module, handler_name)(payload, _Context(function))
            except Exception as exception:  # the function's failure is reported like Lambda reports it
                error = f"{type(exception).__name__}: {exception}"
                output.write(traceback.format_exc())
                result = None
            finally:
                logging.getLogger().removeHandler(handler_log)
            log_stream.write(f"START {source} {json.dumps(payload)[:2000]}\n{output.getvalue()}")
            log_stream.write(f"END {'error: ' + error if error else 'ok'}\n")
        self.invocations.append(
            {"function": function.name, "source": source, "payload": payload, "result": result, "error": error}
        )
        return error

    def _module(self, function: Function, module_name: str):
        key = f"{function.arn}:{module_name}"
        if key not in self._modules:
            path = function.code_dir / f"{module_name.replace('.', '/')}.py"
            name = f"scoreline_function_{function.name}_{module_name}".replace("-", "_")
            module = load_module(path, name)
            self._modules[key] = module
        return self._modules[key]


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

    def __init__(self, bus: EventBus, interval: float = 0.25):
        super().__init__(daemon=True, name="local-one-time-schedules")
        self._bus = bus
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
        client = boto3.client("scheduler")
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
            self._bus.deliver(target, json.loads(payload), source=f"schedule {schedule['Name']}")


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


class _Context:
    """The parts of Lambda's context object functions commonly read."""

    def __init__(self, function: Function):
        self.function_name = function.name
        self.invoked_function_arn = function.arn
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 256

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def _now() -> datetime:
    return datetime.now(UTC)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)
