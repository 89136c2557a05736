"""EventBridge Scheduler: every deployed schedule fires at its next cron or rate time in its time zone, and one-time
`at(...)` schedules created at run time (by a function or a user) fire when their time comes; a firing is delivered
by the event bus with the schedule's execution role (local_mode/events/bus.py).

LIMITATIONS: schedules fire within a quarter second of their time (one-time schedules are found by polling
ListSchedules); flexible time windows, start and end dates are not applied; changes to a deployed schedule after
the deploy are not seen."""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cronsim import CronSim

from local_mode.clients import Clients
from local_mode.events.bus import EventBus
from local_mode.model import Deployment, Target

log = logging.getLogger("local_mode")


class Schedules(threading.Thread):
    """Looks every `interval` seconds, until stopped, for deployed and one-time schedules whose time has come; deletes
    a fired one-time schedule whose ActionAfterCompletion is DELETE (EventBridge Scheduler: "For one-time schedules,
    this occurs after the schedule has invoked its target once")."""

    def __init__(self, bus: EventBus, deployment: Deployment, clients: Clients, interval: float = 0.25):
        super().__init__(daemon=True, name="local-scheduler")
        self._bus, self._deployment, self._clients, self._interval = bus, deployment, clients, interval
        self._due = {name: next_fire_time(s.expression, s.time_zone) for name, s in deployment.schedules.items()}
        self._fired: set[tuple[str, str]] = set()  # (schedule ARN, expression) of fired schedules kept (NONE)
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self.fire_deployed()
                self.fire_one_time()
            except Exception:  # keep the scheduler alive; the next round tries again
                log.error("schedules: %s", traceback.format_exc())

    def fire_deployed(self) -> None:
        for name, due in list(self._due.items()):
            if due <= _now():
                log.info("schedule %s fires (scheduled time %s)", name, due.isoformat())
                self._bus.fire_schedule(name, due)
                schedule = self._deployment.schedules[name]
                self._due[name] = next_fire_time(schedule.expression, schedule.time_zone, after=due)

    def fire_one_time(self) -> None:
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
            target = Target.from_definition(schedule["Target"])
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
