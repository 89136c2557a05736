"""One alert per run (scheduled time or approval event) and reason, however often the event is delivered.

EventBridge Scheduler delivers at least once, and a second delivery may run in another Lambda execution environment:
the function remembers what it sent in S3, not in memory."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.functions.conftest import (
    answer_with_errors,
    load_event,
    load_function,
    two_containers,
    with_model_data_source,
)

SCHEDULE = load_event("schedule")


def _another_environment():
    """The function as a fresh Lambda execution environment loads it: nothing in memory from the first delivery."""
    return load_function("scoring", "scoring_app_in_another_environment")


def _no_approved_version(world, _app) -> None:
    world.add_version("PendingManualApproval")
    world.put_input()


def _no_input(world, _app) -> None:
    world.add_version("Approved")


def _unreadable_model_data(world, _app) -> None:
    world.add_version("Approved", containers=with_model_data_source(two_containers(1), "S3Prefix", "None"))
    world.put_input()


def _every_attempt_failed(world, app) -> None:
    world.add_version("Approved")
    world.put_input()
    for _ in range(app.MAX_ATTEMPTS):
        app.handler(SCHEDULE, None)
        for job in world.backend.transform_jobs.values():
            job.transform_job_status = "Failed"


REASONS = {
    "no approved version": _no_approved_version,
    "no input for the day": _no_input,
    "unreadable model data": _unreadable_model_data,
    "every attempt failed": _every_attempt_failed,
}


@pytest.mark.parametrize("setup", REASONS.values(), ids=REASONS.keys())
def test_a_schedule_delivered_twice_alerts_once(app, world, setup):
    setup(world, app)

    [first] = app.handler(SCHEDULE, None)
    [second] = _another_environment().handler(SCHEDULE, None)

    assert first["action"] == "alerted"
    assert second == {**first, "action": "already_alerted"}
    assert len(world.alerts()) == 1


def test_the_record_of_an_alert_is_named_by_its_reason_and_scheduled_time(app, world):
    _no_approved_version(world, app)

    app.handler(SCHEDULE, None)

    assert world.alert_records() == ["scoring/alerts/no-approved-version/20261125T060000Z.json"]


def test_another_scheduled_time_or_another_reason_alerts_again(app, world):
    arn = world.add_version("PendingManualApproval")
    next_day = {**SCHEDULE, "scheduled_time": "2026-11-26T06:00:00Z"}

    app.handler(SCHEDULE, None)  # no approved version
    app.handler(next_day, None)  # no approved version, the next day
    world.set_status(arn, "Approved")
    app.handler(SCHEDULE, None)  # the first time again, now for want of input

    assert [alert.split(" did not start: ")[1] for alert in world.alerts()] == [
        "model package group 'scoreline-models' has no approved version to score with.",
        "model package group 'scoreline-models' has no approved version to score with.",
        "no scoring input under s3://scoreline-test-bucket/scoring/input/2026-11-25/.",
    ]


def test_an_approval_event_delivered_twice_alerts_once(app, world):
    world.add_version("Approved")  # and no input for the day

    [first] = app.handler(load_event("model_package_approved"), None)
    [second] = _another_environment().handler(load_event("model_package_approved"), None)

    assert (first["action"], second["action"]) == ("alerted", "already_alerted")
    assert len(world.alerts()) == 1


def test_an_alert_that_could_not_be_sent_is_sent_when_the_event_is_retried(app, world, monkeypatch):
    _no_approved_version(world, app)
    monkeypatch.setenv("ALERT_TOPIC_ARN", world.topic_arn.replace("scoreline-alerts", "deleted-topic"))
    with pytest.raises(ClientError, match="NotFound"):
        app.handler(SCHEDULE, None)
    monkeypatch.setenv("ALERT_TOPIC_ARN", world.topic_arn)

    [retried] = app.handler(SCHEDULE, None)

    assert retried["action"] == "alerted"
    assert len(world.alerts()) == 1


def test_a_conflicting_write_of_the_record_is_retried_as_s3_asks(app, world):
    """S3 answers 409 ConditionalRequestConflict while another delivery writes the same record; a retry then
    finds that record."""
    _no_approved_version(world, app)
    attempts = answer_with_errors("PutObject", "ConditionalRequestConflict", times=1, service="s3", status=409)

    [decision] = app.handler(SCHEDULE, None)

    assert len(attempts) == 2
    # moto still stored the write the hook answered for: it stands in for the other delivery's, which alerts.
    assert decision["action"] == "already_alerted"
    assert world.alerts() == []
