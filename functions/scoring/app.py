"""Scoring function: an approved model version or the schedule starts Batch Transform; a rejection stops it.

Triggers: EventBridge "SageMaker Model Package State Change" events of this app's model package group (the
approval rule) and the scheduler payload {"trigger": "schedule", "scheduled_time": "<ISO 8601>"}.
Runs on the Lambda python3.12 runtime: stdlib and boto3 only.

The unit of work is "these input objects scored by this model". SageMaker may send several events for one state
change, and sends one whenever a package changes (Events that Amazon SageMaker AI sends to Amazon EventBridge), so
the trigger is not part of a job's name: a job is named {prefix}-v{version}-{work digest}, the digest covering the
model (its name, itself a digest of the CreateModel request) and the input listing (every key and ETag). Any
number of events for the same input and model start at most one job; new or changed input, or another model,
start another. Transform job names are unique in an account and Region for good (CreateTransformJob), so a re-run
after a Failed or Stopped job takes the next numbered name (-r2, -r3), up to MAX_ATTEMPTS; an InProgress or
Completed job counts as done.

A run that cannot start alerts once per run (its scheduled time or event id) and reason. EventBridge Scheduler
"provides at-least-once event delivery to targets" (EventBridge Scheduler User Guide, "What is Amazon EventBridge
Scheduler?"), and a second delivery may land in another execution environment, so the first records the alert in S3
(SENT_ALERTS_URI/<reason>/<run>.json) with a conditional write that only one delivery can win; the others log
already_alerted.

The registry, event and model helpers it shares with the serving and training-data functions are in
model_registry.py (a link to functions/common/model_registry.py, copied into the asset).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

import boto3
import model_registry as registry
import teardown
from botocore.config import Config
from botocore.exceptions import ClientError
from model_registry import MAX_ATTEMPTS, ConfigurationError, MalformedEvent, Request

ENDED_WITHOUT_OUTPUT = ("Failed", "Stopping", "Stopped")
BOTO_CONFIG = Config(retries={"mode": "standard"})

# Settings field -> environment variable the scoring stack sets.
ENVIRONMENT = {
    "group": "MODEL_PACKAGE_GROUP_NAME",
    "execution_role_arn": "EXECUTION_ROLE_ARN",
    "name_prefix": "NAME_PREFIX",
    "input_uri": "SCORING_INPUT_URI",
    "output_uri": "SCORING_OUTPUT_URI",
    "kms_key_arn": "KMS_KEY_ARN",
    "instance_type": "TRANSFORM_INSTANCE_TYPE",
    "instance_storage": "TRANSFORM_INSTANCE_STORAGE",
    "instance_count": "TRANSFORM_INSTANCE_COUNT",
    "max_payload_mb": "MAX_PAYLOAD_MB",
    "max_concurrent": "MAX_CONCURRENT_TRANSFORMS",
    "container_environments": "CONTAINER_ENVIRONMENT",
    "input_filter": "INPUT_FILTER",
    "alert_topic_arn": "ALERT_TOPIC_ARN",
    "sent_alerts_uri": "SENT_ALERTS_URI",
}
WHOLE_NUMBERS = ("instance_count", "max_payload_mb", "max_concurrent")
S3_URIS = ("SCORING_INPUT_URI", "SCORING_OUTPUT_URI", "SENT_ALERTS_URI")
# PutObject IfNoneMatch: "If a conflicting operation occurs during the upload S3 returns a 409
# ConditionalRequestConflict response. On a 409 failure you should retry the upload." (S3 API reference)
RECORD_ATTEMPTS = 3


@dataclass(frozen=True)
class Settings:
    group: str
    execution_role_arn: str
    name_prefix: str
    input_uri: str
    output_uri: str
    kms_key_arn: str
    instance_type: str
    instance_storage: bool  # the type has NVMe instance storage: AWS refuses a VolumeKmsKeyId for it
    instance_count: int
    max_payload_mb: int
    max_concurrent: int  # MaxConcurrentTransforms: requests in flight per instance
    # Merged over each container's Environment at CreateModel: its model server's workers and threads, sized with
    # max_concurrent for the instance type by the stack (scoreline/model_servers.py).
    container_environments: tuple[dict[str, str], ...]
    input_filter: str
    alert_topic_arn: str
    sent_alerts_uri: str  # where the function records the alerts it sent, one object per run and reason


def handler(event, context):
    settings = load_settings()
    if teardown.is_stack_event(event):  # the scoring stack is being created, updated or deleted
        return teardown.answer_stack_event(event, lambda: remove_models(settings))
    try:
        request = parse_event(event)
    except MalformedEvent as error:
        log_decision(_trigger_of(event), None, None, "error", str(error))
        raise
    sagemaker = _client("sagemaker")
    if request.trigger == "schedule":
        return _score_newest_approved(sagemaker, settings, request)
    ignored = _reason_to_ignore(request, settings)
    if ignored:
        return [log_decision(request.trigger, request.version, None, "ignored", ignored)]
    if request.status == "Rejected":
        return _stop_running_jobs(sagemaker, settings, request)
    return _score(sagemaker, settings, request, registry.describe_package(sagemaker, request.package_arn))


def remove_models(settings: Settings) -> str:
    """The models this function created (transform jobs cannot be deleted; they end by themselves)."""
    deleted = teardown.delete_models(_client("sagemaker"), settings.name_prefix)
    return f"deleted {len(deleted)} scoring models"


# --- settings and events ---------------------------------------------------------------------------------------


def _trigger_of(event) -> str:
    if not isinstance(event, dict):
        return "unknown"
    return str(event.get("trigger") or ("approval" if "detail-type" in event else "unknown"))


def load_settings() -> Settings:
    values = registry.read_environment(ENVIRONMENT, WHOLE_NUMBERS, least=1)
    for name in S3_URIS:
        _split_s3_uri(os.environ[name], name)
    return Settings(**values)


def parse_event(event) -> Request:
    if not isinstance(event, dict):
        raise MalformedEvent(f"event must be a JSON object, got {type(event).__name__}")
    if "trigger" in event:
        return _parse_schedule(event)
    if "detail-type" in event:
        return registry.parse_state_change(event)
    raise MalformedEvent(
        "event has neither 'detail-type' (a model package state change) nor 'trigger' (the schedule payload)"
    )


def _parse_schedule(event: dict) -> Request:
    if event["trigger"] != "schedule":
        raise MalformedEvent(f"event field 'trigger' must be \"schedule\", got {event['trigger']!r}")
    scheduled = registry.timestamp(event.get("scheduled_time"), "scheduled_time")
    return Request("schedule", scheduled.strftime("%Y%m%dT%H%M%SZ"), scheduled.date().isoformat())


def _reason_to_ignore(request: Request, settings: Settings) -> str:
    if request.group != settings.group:
        return f"model package group {request.group!r} is not this app's group {settings.group!r}"
    if request.status not in ("Approved", "Rejected"):
        return f"approval status {request.status!r} needs no action"
    return ""


# --- triggers ----------------------------------------------------------------------------------------------------


def _score_newest_approved(sagemaker, settings: Settings, request: Request) -> list[dict]:
    package = registry.newest_approved(sagemaker, settings.group)
    if package is None:
        reason = f"model package group {settings.group!r} has no approved version to score with"
        return [_alert(settings, request, None, None, "no-approved-version", reason)]
    return _score(sagemaker, settings, request, package)


def _score(sagemaker, settings: Settings, request: Request, package: dict) -> list[dict]:
    version = package["ModelPackageVersion"]
    if package["ModelApprovalStatus"] != "Approved":  # a late approval event for a since-rejected version
        reason = f"version {version} is {package['ModelApprovalStatus']} now"
        return [log_decision(request.trigger, version, None, "ignored", reason)]
    containers, refused = registry.model_containers(package, settings.container_environments)
    if refused:
        return [_alert(settings, request, version, None, "unreadable-model-data", refused)]
    model = registry.model_request(settings.name_prefix, settings.execution_role_arn, package, containers)
    input_uri = settings.input_uri.replace("{date}", request.run_date)
    listing = input_listing(input_uri)
    if not listing:
        return [_alert(settings, request, version, None, "no-input", f"no scoring input under {input_uri}")]
    base_name = registry.name(settings.name_prefix, f"v{version}", work_digest(model["ModelName"], listing))
    job_name, status = _free_job_name(sagemaker, base_name)
    if status:
        return [log_decision(request.trigger, version, job_name, "job_exists", f"job already {status}")]
    if not job_name:
        reason = f"the last {MAX_ATTEMPTS} jobs for this input and version ({base_name}...) ended Failed or Stopped"
        return [_alert(settings, request, version, base_name, "attempts-failed", reason)]
    registry.ensure_model(sagemaker, model)
    job = transform_job_request(settings, job_name, model["ModelName"], input_uri)
    try:
        sagemaker.create_transform_job(**job, Tags=_tags(package, request.trigger))
    except ClientError as error:
        if registry.error_code(error) != "ResourceInUse":  # a concurrent event for the same work created it first
            raise
        return [log_decision(request.trigger, version, job_name, "job_exists", registry.error_message(error))]
    reason = f"scoring {input_uri} ({len(listing)} objects) with version {version} ({request.trigger})"
    idle = idle_instances(settings.instance_count, len(listing))
    if idle:
        reason += (
            f"; {idle} of {settings.instance_count} instances will be idle: batch transform gives each instance whole "
            f"input objects, so split the input into at least {settings.instance_count} files"
        )
    return [log_decision(request.trigger, version, job_name, "started_job", reason, idle_instances=idle)]


def idle_instances(instance_count: int, object_count: int) -> int:
    """Instances that get no input. Batch transform distributes work by S3 object: with one input file and several
    instances, only one instance processes the file and the rest are idle (SageMaker Developer Guide, "Batch
    transform for inference": use batch transform to get inferences from large datasets)."""
    return max(0, instance_count - object_count)


def _free_job_name(sagemaker, base_name: str) -> tuple[str, str]:
    """(name, "") to start a job under, (name, status) when the work is running or done, or ("", "") when the
    last attempt ended without output too."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        name = base_name if attempt == 1 else f"{base_name}-r{attempt}"
        status = _job_status(sagemaker, name)
        if not status:
            return name, ""
        if status not in ENDED_WITHOUT_OUTPUT:
            return name, status
    return "", ""


def _stop_running_jobs(sagemaker, settings: Settings, request: Request) -> list[dict]:
    # Events can arrive late or twice: act on the package's status now, as the approval path does.
    package = registry.describe_package(sagemaker, request.package_arn)
    if package["ModelApprovalStatus"] != "Rejected":
        reason = (
            f"version {request.version} is {package['ModelApprovalStatus']} now: a late Rejected event stops nothing"
        )
        return [log_decision(request.trigger, request.version, None, "ignored", reason)]
    containers, refused = registry.model_containers(package, settings.container_environments)
    model_name = (
        registry.model_request(settings.name_prefix, settings.execution_role_arn, package, containers)["ModelName"]
        if not refused
        else ""
    )
    decisions = []
    for page in sagemaker.get_paginator("list_transform_jobs").paginate(
        NameContains=f"{settings.name_prefix}-v{request.version}-", StatusEquals="InProgress"
    ):
        for summary in page["TransformJobSummaries"]:
            job_name = summary["TransformJobName"]
            # The name filter is a substring match, and another group's version may share the number: the
            # job's model, named after this package's containers, tells.
            if model_name and _job_model(sagemaker, job_name) == model_name:
                decisions.append(_stop(sagemaker, request, job_name))
    if not decisions:
        reason = f"version {request.version} rejected; no running job to stop"
        decisions.append(log_decision(request.trigger, request.version, None, "none", reason))
    return decisions


def _stop(sagemaker, request: Request, job_name: str) -> dict:
    try:
        sagemaker.stop_transform_job(TransformJobName=job_name)
    except ClientError as error:
        if registry.error_code(error) != "ValidationException":  # the job ended between listing and stopping
            raise
        return log_decision(request.trigger, request.version, job_name, "none", registry.error_message(error))
    reason = f"version {request.version} rejected"
    return log_decision(request.trigger, request.version, job_name, "stopped_job", reason)


# --- SageMaker requests ----------------------------------------------------------------------------------------


def work_digest(model_name: str, listing: list[list[str]]) -> str:
    """Names the work: this model on these input objects (keys and ETags; a rewritten object has a new ETag)."""
    return registry.digest({"model": model_name, "input": listing})


def transform_job_request(settings: Settings, job_name: str, model_name: str, input_uri: str) -> dict:
    return {
        "TransformJobName": job_name,
        "ModelName": model_name,
        "MaxConcurrentTransforms": settings.max_concurrent,
        "MaxPayloadInMB": settings.max_payload_mb,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"{settings.output_uri.rstrip('/')}/{job_name}/",
            "Accept": "text/csv",
            "AssembleWith": "Line",
            "KmsKeyId": settings.kms_key_arn,
        },
        "TransformResources": _transform_resources(settings),
        # Each output line is the input row (after the filter) followed by its prediction.
        "DataProcessing": {"InputFilter": settings.input_filter, "JoinSource": "Input"},
    }


def _transform_resources(settings: Settings) -> dict:
    resources = {"InstanceType": settings.instance_type, "InstanceCount": settings.instance_count}
    # TransformResources.VolumeKmsKeyId: "You can't request a VolumeKmsKeyId when using an instance type with local
    # storage"; that storage is encrypted by a hardware module on the instance.
    if not settings.instance_storage:
        resources["VolumeKmsKeyId"] = settings.kms_key_arn
    return resources


def _tags(package: dict, trigger: str) -> list[dict]:
    return [
        {"Key": "scoreline:model-package-arn", "Value": package["ModelPackageArn"]},
        {"Key": "scoreline:trigger", "Value": trigger},
    ]


def _job_status(sagemaker, job_name: str) -> str:
    """The job's status, or "" when no job has that name. moto does not reject duplicate names: look first."""
    try:
        return sagemaker.describe_transform_job(TransformJobName=job_name)["TransformJobStatus"]
    except ClientError as error:
        if registry.error_code(error) in registry.ABSENT:
            return ""
        raise


def _job_model(sagemaker, job_name: str) -> str:
    return sagemaker.describe_transform_job(TransformJobName=job_name)["ModelName"]


# --- S3, SNS, logs -----------------------------------------------------------------------------------------------


def input_listing(uri: str) -> list[list[str]]:
    """[key, ETag] of every object under the input prefix, by key. ListObjectsV2 returns up to 1,000 objects a
    request, sorted by key: the paginator follows NextContinuationToken to the last page.

    Folder markers are left out: the S3 console "implements folder object creation by creating a zero-byte object
    with the folder prefix and delimiter value as the key" (S3 User Guide, "Naming Amazon S3 objects"), so a key
    ending in / is a folder someone created, not data."""
    bucket, prefix = _split_s3_uri(uri, "scoring input")
    listing = []
    for page in _client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        listing += [[item["Key"], item["ETag"]] for item in page.get("Contents", []) if not item["Key"].endswith("/")]
    return sorted(listing)


def _split_s3_uri(uri: str, what: str) -> tuple[str, str]:
    match = re.match(r"^s3://([^/]+)/(.*)$", uri)
    if not match:
        raise ConfigurationError(f"{what} must be an S3 URI such as s3://bucket/prefix/, got {uri!r}")
    return match.group(1), match.group(2)


def _alert(settings: Settings, request: Request, version, job_name, kind: str, reason: str) -> dict:
    """Publishes the alert unless a delivery of the same run has already sent one for this kind of reason."""
    bucket, key = _split_s3_uri(f"{settings.sent_alerts_uri}{kind}/{request.run_key}.json", "SENT_ALERTS_URI")
    record = json.dumps({"trigger": request.trigger, "run_key": request.run_key, "reason": reason})
    if not _record_once(bucket, key, record):
        return log_decision(request.trigger, version, job_name, "already_alerted", reason)
    try:
        _client("sns").publish(
            TopicArn=settings.alert_topic_arn,
            Subject="Scoreline: scoring did not start",
            Message=f"Scoring triggered by {request.trigger} ({request.run_key}) did not start: {reason}.",
        )
    except Exception:
        _client("s3").delete_object(Bucket=bucket, Key=key)  # not sent: Lambda's retry of this event sends it
        raise
    return log_decision(request.trigger, version, job_name, "alerted", reason)


def _record_once(bucket: str, key: str, body: str) -> bool:
    """True when this call created the object; False when it exists. With IfNoneMatch="*" S3 writes the object only
    if the key does not exist and answers 412 Precondition Failed otherwise (S3 User Guide, "How to prevent object
    overwrites with conditional writes"), so of concurrent deliveries exactly one gets True."""
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            _client("s3").put_object(
                Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json", IfNoneMatch="*"
            )
            return True
        except ClientError as error:
            code = registry.error_code(error)
            if code == "PreconditionFailed":
                return False
            if code != "ConditionalRequestConflict" or attempt == RECORD_ATTEMPTS:
                raise


def log_decision(trigger: str, version, job_name, action: str, reason: str, idle_instances: int = 0) -> dict:
    """One JSON line per decision; the dashboard queries these fields (idle_instances only when above 0)."""
    line = {"trigger": trigger, "version": version, "job_name": job_name, "action": action, "reason": reason}
    if idle_instances:
        line["idle_instances"] = idle_instances
    print(json.dumps(line))
    return line


def _client(service: str):
    return boto3.client(service, config=BOTO_CONFIG)  # per invocation: honours AWS_ENDPOINT_URL set later
