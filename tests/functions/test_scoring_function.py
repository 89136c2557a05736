"""The scoring function (functions/scoring/app.py) against moto, one trigger at a time."""

from __future__ import annotations

import json
import re

import pytest

from tests.functions.conftest import (
    BUCKET,
    FOUR_WORKERS,
    GROUP,
    SETTINGS,
    answer_with_errors,
    load_event,
    on_request,
    two_containers,
    variables_the_stack_passes,
    with_model_data_source,
)

SCHEDULE = load_event("schedule")


def named_for(version: int) -> re.Pattern:
    """Job and model names: the prefix, the version and a 12-digit digest (of the work or the model)."""
    return re.compile(rf"^scoreline-scoring-v{version}-[0-9a-f]{{12}}$")


def version_of(name: str) -> int:
    return int(re.match(r"^scoreline-scoring-v(\d+)-", name).group(1))


def test_approved_version_is_scored_at_once_with_every_setting(app, world, capsys):
    package_arn = world.add_version("Approved")
    world.put_input()
    create_model_calls = []
    on_request("provide-client-params.sagemaker.CreateModel", lambda params, **_: create_model_calls.append(params))

    decisions = app.handler(load_event("model_package_approved"), None)

    assert [decision["action"] for decision in decisions] == ["started_job"]
    [job] = world.jobs().values()
    job_name = job["TransformJobName"]
    assert named_for(1).match(job_name)
    assert named_for(1).match(job["ModelName"]) and job["ModelName"] != job_name
    assert job["BatchStrategy"] == "MultiRecord"
    assert job["MaxPayloadInMB"] == 6
    assert job["MaxConcurrentTransforms"] == 4  # one request in flight per model-server worker
    assert job["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/scoring/input/2026-11-25/"}},
        "ContentType": "text/csv",
        "SplitType": "Line",
    }
    assert job["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input"}
    assert job["TransformOutput"] == {
        "S3OutputPath": f"s3://{BUCKET}/scoring/output/{job_name}/",
        "Accept": "text/csv",
        "AssembleWith": "Line",
        "KmsKeyId": SETTINGS["KMS_KEY_ARN"],
    }
    assert job["TransformResources"] == {
        "InstanceType": "ml.m5.xlarge",
        "InstanceCount": 2,
        "VolumeKmsKeyId": SETTINGS["KMS_KEY_ARN"],
    }
    assert world.tags(job) == [
        {"Key": "scoreline:model-package-arn", "Value": package_arn},
        {"Key": "scoreline:trigger", "Value": "approval"},
    ]
    [model] = world.models().values()
    features, model_container = two_containers(1)
    assert model["Containers"] == [  # the stack's model servers merged over the package's environments
        {**features, "Environment": {"SAGEMAKER_PROGRAM": "inference.py", **FOUR_WORKERS}},
        {**model_container, "Environment": FOUR_WORKERS},
    ]
    assert model["ExecutionRoleArn"] == SETTINGS["EXECUTION_ROLE_ARN"]
    [create_model] = create_model_calls  # moto drops these two fields: check what the function asked for
    assert create_model["EnableNetworkIsolation"] is True
    assert create_model["InferenceExecutionConfig"] == {"Mode": "Serial"}
    log = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert log == {
        "trigger": "approval",
        "version": 1,
        "job_name": job_name,
        "action": "started_job",
        "reason": (
            f"scoring s3://{BUCKET}/scoring/input/2026-11-25/ (1 objects) with version 1 (approval); 1 of 2 "
            "instances will be idle: batch transform gives each instance whole input objects, so split the input "
            "into at least 2 files"
        ),
        "idle_instances": 1,
    }


def test_two_containers_become_one_model_in_package_order(app, world):
    world.add_version("Approved")
    world.put_input()

    app.handler(load_event("model_package_approved"), None)

    [model] = world.models().values()
    images_and_data = [(c["Image"], c["ModelDataUrl"]) for c in model["Containers"]]
    assert images_and_data == [(c["Image"], c["ModelDataUrl"]) for c in two_containers(1)]
    assert images_and_data[0][1].endswith("/features/model.tar.gz")
    assert images_and_data[1][1].endswith("/model/model.tar.gz")


def test_each_container_gets_its_model_server_and_the_job_its_concurrency(app, world, monkeypatch):
    """What the stack chose for the instance type reaches CreateModel (each container's Environment, merged over the
    package's, where the stack's value wins) and CreateTransformJob (MaxConcurrentTransforms), as given."""
    features_server = {"SAGEMAKER_MODEL_SERVER_WORKERS": "16", "OMP_NUM_THREADS": "3"}
    model_server = {"SAGEMAKER_MODEL_SERVER_WORKERS": "4", "OMP_NUM_THREADS": "1"}
    monkeypatch.setenv("CONTAINER_ENVIRONMENT", json.dumps([features_server, model_server]))
    monkeypatch.setenv("MAX_CONCURRENT_TRANSFORMS", "16")
    features, model_container = two_containers(1)
    features["Environment"] = {**features["Environment"], "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
    world.add_version("Approved", containers=[features, model_container])
    world.put_input()
    create_model_calls = []
    on_request("provide-client-params.sagemaker.CreateModel", lambda params, **_: create_model_calls.append(params))

    app.handler(load_event("model_package_approved"), None)

    [create_model] = create_model_calls
    assert [container["Environment"] for container in create_model["Containers"]] == [
        {"SAGEMAKER_PROGRAM": "inference.py", **features_server},
        model_server,
    ]
    [job] = world.jobs().values()
    assert job["MaxConcurrentTransforms"] == 16


@pytest.mark.parametrize("value", ["", "{}", "[1]", '[{"OMP_NUM_THREADS": 1}]', "not json"])
def test_an_unreadable_container_environment_is_named(app, world, monkeypatch, value):
    monkeypatch.setenv("CONTAINER_ENVIRONMENT", value)

    with pytest.raises(app.ConfigurationError, match="CONTAINER_ENVIRONMENT"):
        app.handler(SCHEDULE, None)


def test_a_job_name_conflict_from_the_service_counts_as_already_started(app, world):
    world.add_version("Approved")
    world.put_input()
    answer_with_errors("CreateTransformJob", "ResourceInUse", times=1)

    [decision] = app.handler(load_event("model_package_approved"), None)

    assert decision["action"] == "job_exists"
    # moto still handled the request the hook answered for: that job stands in for the other delivery's.
    assert len(world.jobs()) == 1


def test_rejected_version_has_its_running_job_stopped_and_nothing_started(app, world):
    world.add_version("Approved")
    second_arn = world.add_version("Approved")
    world.put_input()
    app.handler(load_event("model_package_approved", version=1), None)
    app.handler(load_event("model_package_approved", version=2), None)
    jobs_before = world.jobs()
    for job in world.backend.transform_jobs.values():
        job.transform_job_status = "InProgress"
    world.set_status(second_arn, "Rejected")

    [decision] = app.handler(load_event("model_package_rejected", version=2), None)

    statuses = {version_of(job["ModelName"]): job["TransformJobStatus"] for job in world.jobs().values()}
    assert statuses == {1: "InProgress", 2: "Stopped"}
    assert decision["action"] == "stopped_job"
    assert world.jobs().keys() == jobs_before.keys()
    assert len(world.models()) == 2


def test_rejected_version_without_a_running_job_starts_nothing(app, world):
    arn = world.add_version("Approved")
    world.put_input()
    app.handler(load_event("model_package_approved"), None)  # moto completes it at once
    world.set_status(arn, "Rejected")

    [decision] = app.handler(load_event("model_package_rejected"), None)

    assert decision["action"] == "none"
    assert [job["TransformJobStatus"] for job in world.jobs().values()] == ["Completed"]


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("model_package_other_group", "'another-team-models' is not this app's group"),
        ("model_package_pending", "'PendingManualApproval' needs no action"),
    ],
)
def test_other_groups_and_statuses_are_logged_and_ignored(app, world, fixture, reason):
    world.add_version("PendingManualApproval")
    world.put_input()

    [decision] = app.handler(load_event(fixture), None)

    assert decision["action"] == "ignored"
    assert reason in decision["reason"]
    assert world.jobs() == {} and world.models() == {}


def test_a_late_approval_of_a_version_rejected_since_is_ignored(app, world):
    arn = world.add_version("Approved")
    world.put_input()
    world.set_status(arn, "Rejected")

    [decision] = app.handler(load_event("model_package_approved"), None)

    assert decision["reason"] == "version 1 is Rejected now"
    assert world.jobs() == {}


def _without(path: str) -> dict:
    event = load_event("model_package_approved")
    *parents, key = path.split(".")
    target = event
    for parent in parents:
        target = target[parent]
    del target[key]
    return event


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (_without("id"), "'id'"),
        (_without("time"), "'time'"),
        (_without("detail"), "'detail'"),
        (_without("detail.ModelPackageVersion"), "'detail.ModelPackageVersion'"),
        (_without("detail.ModelPackageArn"), "'detail.ModelPackageArn'"),
        (_without("detail.ModelApprovalStatus"), "'detail.ModelApprovalStatus'"),
        ({**load_event("model_package_approved"), "time": "yesterday"}, "'time'"),
        ({"trigger": "schedule"}, "'scheduled_time'"),
        ({"trigger": "schedule", "scheduled_time": "2026-11-25T06:00:00"}, "'scheduled_time'"),
        ({"trigger": "hourly", "scheduled_time": "2026-11-25T06:00:00Z"}, "'trigger'"),
        ({"source": "aws.sagemaker"}, "'detail-type'"),
        ([], "JSON object"),
    ],
    ids=lambda value: None if isinstance(value, dict | list) else value.strip("'"),
)
def test_a_malformed_event_raises_an_error_naming_the_field_and_creates_nothing(app, world, event, field):
    world.add_version("Approved")
    world.put_input()

    with pytest.raises(app.MalformedEvent, match=field):
        app.handler(event, None)

    assert world.jobs() == {} and world.models() == {}
    assert world.alerts() == []


@pytest.mark.parametrize(
    ("statuses", "expected_version"),
    [
        (["Approved"], 1),
        (["Approved", "Approved", "Approved"], 3),
        (["Approved", "Approved", "Rejected"], 2),
        (["Approved", "PendingManualApproval", "Rejected"], 1),
    ],
)
def test_schedule_scores_with_the_newest_approved_version(app, world, statuses, expected_version):
    arns = [world.add_version(status) for status in statuses]
    world.put_input()

    [decision] = app.handler(SCHEDULE, None)

    assert decision["action"] == "started_job"
    [job] = world.jobs().values()
    assert named_for(expected_version).match(job["TransformJobName"])
    assert named_for(expected_version).match(job["ModelName"])
    assert {"Key": "scoreline:model-package-arn", "Value": arns[expected_version - 1]} in world.tags(job)
    assert {"Key": "scoreline:trigger", "Value": "schedule"} in world.tags(job)


def test_rejecting_the_newest_approved_version_rolls_scoring_back_to_the_previous_one(app, world):
    for _ in range(2):
        world.add_version("Approved")
    newest = world.add_version("Approved")
    world.put_input()
    world.set_status(newest, "Rejected")

    app.handler(SCHEDULE, None)

    [job_name] = world.jobs()
    assert version_of(job_name) == 2


def test_schedule_without_an_approved_version_alerts_once_and_returns(app, world):
    world.add_version("PendingManualApproval")
    world.put_input()

    [decision] = app.handler(SCHEDULE, None)

    assert decision["action"] == "alerted"
    [alert] = world.alerts()
    assert f"model package group '{GROUP}' has no approved version" in alert
    assert world.jobs() == {} and world.models() == {}


@pytest.mark.parametrize("event", [SCHEDULE, load_event("model_package_approved")], ids=["schedule", "approval"])
def test_an_empty_input_prefix_alerts_once_and_starts_no_job(app, world, event):
    world.add_version("Approved")
    world.put_input("2026-11-24")  # yesterday's input only

    [decision] = app.handler(event, None)

    assert decision["action"] == "alerted"
    assert world.alerts() == [
        f"Scoring triggered by {event.get('trigger', 'approval')} ({_run_key(event)}) did not start: "
        f"no scoring input under s3://{BUCKET}/scoring/input/2026-11-25/."
    ]
    assert world.jobs() == {}


def test_a_day_folder_created_in_the_console_and_left_empty_is_no_input(app, world):
    world.add_version("Approved")
    world.create_folder()

    [decision] = app.handler(SCHEDULE, None)

    assert decision["action"] == "alerted"
    assert world.alerts() == [
        f"Scoring triggered by schedule (20261125T060000Z) did not start: "
        f"no scoring input under s3://{BUCKET}/scoring/input/2026-11-25/."
    ]
    assert world.jobs() == {}


def _run_key(event: dict) -> str:
    return event.get("id", "20261125T060000Z")


def test_two_throttled_attempts_then_success_create_the_job(app, world):
    world.add_version("Approved")
    world.put_input()
    attempts = answer_with_errors("CreateTransformJob", "ThrottlingException", times=2)

    [decision] = app.handler(SCHEDULE, None)

    assert len(attempts) == 3  # botocore's standard retry mode retried the throttled calls
    assert decision["action"] == "started_job"
    assert len(world.jobs()) == 1


def test_a_missing_setting_is_named(app, world, monkeypatch):
    monkeypatch.delenv("KMS_KEY_ARN")

    with pytest.raises(app.ConfigurationError, match="KMS_KEY_ARN is not set"):
        app.handler(SCHEDULE, None)


def test_the_function_reads_exactly_the_settings_the_scoring_stack_passes(app):
    assert variables_the_stack_passes("scoring") == app.ENVIRONMENT  # its copy of scoreline/names.py's table


def test_an_instance_storage_type_gets_no_volume_key_and_keeps_the_output_key(app, world, monkeypatch):
    monkeypatch.setenv("TRANSFORM_INSTANCE_TYPE", "ml.g4dn.xlarge")
    monkeypatch.setenv("TRANSFORM_INSTANCE_STORAGE", "true")
    world.add_version("Approved")
    world.put_input()

    app.handler(SCHEDULE, None)

    [job] = world.jobs().values()
    assert job["TransformResources"] == {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 2}
    assert job["TransformOutput"]["KmsKeyId"] == SETTINGS["KMS_KEY_ARN"]


def test_an_unreadable_instance_storage_flag_is_named(app, world, monkeypatch):
    monkeypatch.setenv("TRANSFORM_INSTANCE_STORAGE", "maybe")

    with pytest.raises(app.ConfigurationError, match="TRANSFORM_INSTANCE_STORAGE must be true or false"):
        app.handler(SCHEDULE, None)


def test_a_gzip_model_data_source_becomes_the_model_data_url_batch_transform_accepts(app, world):
    world.add_version("Approved", containers=with_model_data_source(two_containers(1), "S3Object", "Gzip"))
    world.put_input()
    create_model_calls = []
    on_request("provide-client-params.sagemaker.CreateModel", lambda params, **_: create_model_calls.append(params))

    [decision] = app.handler(SCHEDULE, None)

    assert decision["action"] == "started_job"
    [create_model] = create_model_calls
    assert [c["ModelDataUrl"] for c in create_model["Containers"]] == [c["ModelDataUrl"] for c in two_containers(1)]
    assert all("ModelDataSource" not in c for c in create_model["Containers"])


def test_an_uncompressed_model_data_source_is_refused_with_one_alert_and_nothing_created(app, world, capsys):
    containers = with_model_data_source(two_containers(1), "S3Prefix", "None")
    containers[1]["ModelDataSource"]["S3DataSource"]["S3Uri"] = f"s3://{BUCKET}/pipeline/v1/model/"
    world.add_version("Approved", containers=containers)
    world.put_input()

    [decision] = app.handler(SCHEDULE, None)

    assert decision["action"] == "alerted"
    assert decision["reason"].startswith(
        "container 2 of version 1 has only a ModelDataSource (S3DataType=S3Prefix, CompressionType=None)"
    )
    [alert] = world.alerts()
    assert "batch transform needs a gzip-compressed model.tar.gz (ModelDataUrl)" in alert
    assert world.jobs() == {} and world.models() == {}
    assert len(capsys.readouterr().out.strip().splitlines()) == 1
