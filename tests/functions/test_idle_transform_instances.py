"""Batch transform gives each instance whole input objects: with fewer objects than instances, the scoring function's
decision log says how many instances will be idle and how to avoid it (the dashboard lists these lines)."""

from __future__ import annotations

import json

from tests.functions.conftest import BUCKET, INPUT_DATE, load_event


def _last_log_line(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_one_object_for_two_instances_is_in_the_decision_log(app, world, capsys):
    world.add_version("Approved")
    world.put_input()  # one object; the fixture settings ask for 2 instances

    [decision] = app.handler(load_event("model_package_approved"), None)

    line = _last_log_line(capsys)
    assert line == decision
    assert line["action"] == "started_job" and line["idle_instances"] == 1
    assert "1 of 2 instances will be idle" in line["reason"]
    assert "split the input into at least 2 files" in line["reason"]


def test_as_many_objects_as_instances_log_no_idle_instances(app, world, capsys):
    world.add_version("Approved")
    world.put_input()
    world.s3.put_object(Bucket=BUCKET, Key=f"scoring/input/{INPUT_DATE}/part-0002.csv", Body=b"7.2,30,5.1\n")

    [decision] = app.handler(load_event("model_package_approved"), None)

    line = _last_log_line(capsys)
    assert line == decision and line["action"] == "started_job"
    assert "idle_instances" not in line and "idle" not in line["reason"]
