"""One transform job per unit of work, "these input objects scored by this model", whatever the events."""

from __future__ import annotations

import pytest

from tests.functions.conftest import BUCKET, INPUT_DATE, load_event, scored_model, two_containers

SCHEDULE = load_event("schedule")


def _approved() -> dict:
    return load_event("model_package_approved")


def _approved_again() -> dict:
    """Another Approved event for the same version (SageMaker may send several per state change)."""
    event = _approved()
    event["id"] = "0a2c4e6f-8b1d-4f3a-a5c7-e9b1d3f5a7c9"
    return event


def _approved_package_updated() -> dict:
    """Later the same day another field of the approved package changed: a state-change event, still Approved."""
    event = _approved()
    event["id"] = "7e9a1c3d-5f2b-4d6e-8a0c-1b3d5f7a9c2e"
    event["time"] = "2026-11-25T15:02:40Z"
    event["detail"]["ModelPackageDescription"] = "Scoreline sklearn model, reviewed by risk"
    event["detail"]["LastModifiedTime"] = 1795618960000
    return event


DUPLICATE_DELIVERIES = {
    "the same event twice": (_approved, _approved),
    "two distinct approved events for the same version": (_approved, _approved_again),
    "an approval and the schedule on the same input": (_approved, lambda: SCHEDULE),
    "an update that leaves the package approved": (_approved, _approved_package_updated),
    "the schedule fired twice for the same time": (lambda: SCHEDULE, lambda: SCHEDULE),
}


@pytest.mark.parametrize(("first", "second"), DUPLICATE_DELIVERIES.values(), ids=DUPLICATE_DELIVERIES.keys())
@pytest.mark.parametrize("first_job_status", ["Completed", "InProgress"])
def test_a_duplicate_delivery_starts_one_job(app, world, first, second, first_job_status):
    world.add_version("Approved")
    world.put_input()

    [started] = app.handler(first(), None)
    _set_job_statuses(world, first_job_status)
    [repeated] = app.handler(second(), None)

    assert started["action"] == "started_job"
    same = {key: value for key, value in started.items() if key != "idle_instances"}  # only a start counts them
    assert repeated == {**same, "trigger": repeated["trigger"], "action": "job_exists", "reason": repeated["reason"]}
    assert repeated["reason"] == f"job already {first_job_status}"
    assert list(world.jobs()) == [started["job_name"]]
    assert len(world.models()) == 1


@pytest.mark.parametrize("change", ["a new object", "a rewritten object"])
def test_new_or_changed_input_for_the_same_version_starts_another_job(app, world, change):
    world.add_version("Approved")
    world.put_input()
    [first] = app.handler(_approved(), None)
    if change == "a new object":
        world.s3.put_object(Bucket=BUCKET, Key=f"scoring/input/{INPUT_DATE}/part-0002.csv", Body=b"5.1,12,4.2\n")
    else:
        world.s3.put_object(Bucket=BUCKET, Key=f"scoring/input/{INPUT_DATE}/part-0001.csv", Body=b"8.3,41,7.0\n")

    [second] = app.handler(SCHEDULE, None)

    assert second["action"] == "started_job"
    assert second["job_name"] != first["job_name"]
    assert len(world.jobs()) == 2
    assert len(world.models()) == 1  # the same version's model scores both


def test_a_folder_created_next_to_the_input_neither_counts_as_input_nor_starts_another_job(app, world):
    world.add_version("Approved")
    world.put_input()
    [first] = app.handler(_approved(), None)
    world.create_folder()  # the day's folder created in the console after the files were uploaded

    [second] = app.handler(SCHEDULE, None)

    assert second["action"] == "job_exists" and second["job_name"] == first["job_name"]
    assert list(world.jobs()) == [first["job_name"]]


def test_a_listing_of_more_than_one_page_names_the_work_by_every_object(app, world):
    world.add_version("Approved")
    for number in range(1, 1003):  # ListObjectsV2 returns at most 1,000 keys a page
        world.s3.put_object(Bucket=BUCKET, Key=f"scoring/input/{INPUT_DATE}/part-{number:04d}.csv", Body=b"1,2,3\n")
    [first] = app.handler(SCHEDULE, None)
    world.s3.put_object(Bucket=BUCKET, Key=f"scoring/input/{INPUT_DATE}/part-1002.csv", Body=b"4,5,6\n")

    [second] = app.handler(_approved(), None)

    assert "(1002 objects)" in first["reason"]
    assert second["action"] == "started_job" and second["job_name"] != first["job_name"]


def test_a_new_version_on_the_same_input_starts_a_new_job_with_its_own_model(app, world):
    world.add_version("Approved")
    world.add_version("Approved")
    world.put_input()
    [first] = app.handler(load_event("model_package_approved", version=1), None)

    [second] = app.handler(load_event("model_package_approved", version=2), None)

    assert second["action"] == "started_job" and second["version"] == 2
    models = {job["TransformJobName"]: job["ModelName"] for job in world.jobs().values()}
    assert models.keys() == {first["job_name"], second["job_name"]}
    assert len(set(models.values())) == 2
    assert [model["Containers"] for model in world.models().values()] == [scored_model(1), scored_model(2)]


def test_a_late_rejection_of_a_version_approved_again_keeps_its_job_running(app, world, capsys):
    """Approve v1, reject it (its job stops), approve it again (a re-run starts), then the Rejected event comes late."""
    arn = world.add_version("Approved")
    world.put_input()
    [first] = app.handler(_approved(), None)
    _set_job_statuses(world, "InProgress")
    world.set_status(arn, "Rejected")
    [stopped] = app.handler(load_event("model_package_rejected"), None)
    world.set_status(arn, "Approved")
    [rerun] = app.handler(_approved_again(), None)
    _set_job_statuses(world, "InProgress", only=rerun["job_name"])

    [late] = app.handler(load_event("model_package_rejected"), None)

    assert stopped["action"] == "stopped_job" and stopped["job_name"] == first["job_name"]
    assert rerun["action"] == "started_job" and rerun["job_name"] == f"{first['job_name']}-r2"
    assert late["action"] == "ignored"
    assert late["reason"] == "version 1 is Approved now: a late Rejected event stops nothing"
    assert world.jobs()[rerun["job_name"]]["TransformJobStatus"] == "InProgress"


@pytest.mark.parametrize("ended", ["Failed", "Stopped"])
def test_work_whose_job_ended_without_output_is_run_again_under_the_next_name(app, world, ended):
    world.add_version("Approved")
    world.put_input()
    [first] = app.handler(SCHEDULE, None)
    _set_job_statuses(world, ended)

    [second] = app.handler(SCHEDULE, None)
    [third] = app.handler(SCHEDULE, None)  # the re-run completed: nothing more to do

    assert second["action"] == "started_job" and second["job_name"] == f"{first['job_name']}-r2"
    assert third["action"] == "job_exists" and third["job_name"] == second["job_name"]
    assert len(world.jobs()) == 2


def test_after_the_last_attempt_ended_without_output_scoring_alerts_instead(app, world):
    world.add_version("Approved")
    world.put_input()
    for _ in range(app.MAX_ATTEMPTS):
        [decision] = app.handler(SCHEDULE, None)
        assert decision["action"] == "started_job"
        _set_job_statuses(world, "Failed")

    [decision] = app.handler(SCHEDULE, None)

    assert decision["action"] == "alerted"
    [alert] = world.alerts()
    assert f"the last {app.MAX_ATTEMPTS} jobs for this input and version" in alert
    assert len(world.jobs()) == app.MAX_ATTEMPTS


def test_a_stale_model_with_the_versions_number_is_not_reused(app, world):
    """A recreated group numbers from 1 again: the old version 1's model must not score the new version 1."""
    arn = world.add_version("Approved", containers=two_containers(1))
    world.put_input()
    [old] = app.handler(_approved(), None)
    recreated = world.backend.model_packages[arn]  # moto cannot delete packages: give version 1 new containers
    recreated.inference_specification = {**recreated.inference_specification, "Containers": two_containers(7)}

    [new] = app.handler(_approved_again(), None)

    assert new["action"] == "started_job" and new["job_name"] != old["job_name"]
    model_name = world.jobs()[new["job_name"]]["ModelName"]
    assert model_name != world.jobs()[old["job_name"]]["ModelName"]
    assert world.models()[model_name]["Containers"] == scored_model(7)


def _set_job_statuses(world, status: str, only: str | None = None) -> None:
    """moto completes every transform job at once: set where the real one would be."""
    for job in world.backend.transform_jobs.values():
        if only in (None, job.transform_job_name):
            job.transform_job_status = status
