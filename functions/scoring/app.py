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
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

STATE_CHANGE = "SageMaker Model Package State Change"
# CreateTransformJob TransformJobName: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}; CreateModel ModelName is looser.
NAME_RULE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
DIGEST_LENGTH = 12
MAX_ATTEMPTS = 3  # jobs per input and model: the first and two re-runs after a Failed or Stopped one
ENDED_WITHOUT_OUTPUT = ("Failed", "Stopping", "Stopped")
BOTO_CONFIG = Config(retries={"mode": "standard"})
ABSENT = ("ValidationException", "ResourceNotFound")  # what Describe* answers for a name that does not exist
# What CreateModel copies from each package container. Batch transform accepts model data only as ModelDataUrl
# (a model.tar.gz); ModelDataSource is for endpoints (SageMaker API: ContainerDefinition, ModelDataSource).
CONTAINER_FIELDS = ("ContainerHostname", "Image", "ModelDataUrl", "Environment")

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
    "input_filter": "INPUT_FILTER",
    "alert_topic_arn": "ALERT_TOPIC_ARN",
}
WHOLE_NUMBERS = ("instance_count", "max_payload_mb", "max_concurrent")


class MalformedEvent(ValueError):
    """The event lacks a field the function needs, or the field is unreadable: retrying cannot fix it."""


class ConfigurationError(RuntimeError):
    """The function's settings are missing or unusable: a deployment problem that retrying cannot fix."""


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
    max_concurrent: int
    input_filter: str
    alert_topic_arn: str


@dataclass(frozen=True)
class Request:
    """What one event asks for."""

    trigger: str  # "approval" (model package state change) or "schedule"
    run_key: str  # event id or scheduled time, named in alerts
    run_date: str  # YYYY-MM-DD, replaces {date} in the scoring input prefix
    group: str = ""
    status: str = ""
    version: int | None = None
    package_arn: str = ""


def handler(event, context):
    settings = load_settings()
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
    return _score(sagemaker, settings, request, _describe_package(sagemaker, request.package_arn))


# --- settings and events ---------------------------------------------------------------------------------------


def _trigger_of(event) -> str:
    if not isinstance(event, dict):
        return "unknown"
    return str(event.get("trigger") or ("approval" if "detail-type" in event else "unknown"))


def load_settings() -> Settings:
    values = {}
    for field, name in ENVIRONMENT.items():
        value = os.environ.get(name, "")
        if not value:
            raise ConfigurationError(f"environment variable {name} is not set")
        if field in WHOLE_NUMBERS:
            if not value.isdigit() or int(value) < 1:
                raise ConfigurationError(f"environment variable {name} must be a whole number >= 1, got {value!r}")
            value = int(value)
        if field == "instance_storage":
            if value not in ("true", "false"):
                raise ConfigurationError(f"environment variable {name} must be true or false, got {value!r}")
            value = value == "true"
        values[field] = value
    for name in ("SCORING_INPUT_URI", "SCORING_OUTPUT_URI"):
        _split_s3_uri(os.environ[name], name)
    return Settings(**values)


def parse_event(event) -> Request:
    if not isinstance(event, dict):
        raise MalformedEvent(f"event must be a JSON object, got {type(event).__name__}")
    if "trigger" in event:
        return _parse_schedule(event)
    if "detail-type" in event:
        return _parse_state_change(event)
    raise MalformedEvent(
        "event has neither 'detail-type' (a model package state change) nor 'trigger' (the schedule payload)"
    )


def _parse_schedule(event: dict) -> Request:
    if event["trigger"] != "schedule":
        raise MalformedEvent(f"event field 'trigger' must be \"schedule\", got {event['trigger']!r}")
    scheduled = _timestamp(event.get("scheduled_time"), "scheduled_time")
    return Request("schedule", scheduled.strftime("%Y%m%dT%H%M%SZ"), scheduled.date().isoformat())


def _parse_state_change(event: dict) -> Request:
    if event["detail-type"] != STATE_CHANGE:
        raise MalformedEvent(f"event field 'detail-type' must be {STATE_CHANGE!r}, got {event['detail-type']!r}")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise MalformedEvent("event field 'detail' is missing or not an object")
    version = detail.get("ModelPackageVersion")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise MalformedEvent(f"event field 'detail.ModelPackageVersion' must be a whole number >= 1, got {version!r}")
    return Request(
        trigger="approval",
        run_key=_text(event, "id", "id"),
        run_date=_timestamp(event.get("time"), "time").date().isoformat(),
        group=_text(detail, "ModelPackageGroupName", "detail.ModelPackageGroupName"),
        status=_text(detail, "ModelApprovalStatus", "detail.ModelApprovalStatus"),
        version=version,
        package_arn=_text(detail, "ModelPackageArn", "detail.ModelPackageArn"),
    )


def _text(container: dict, key: str, field: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"event field '{field}' must be a non-empty string, got {value!r}")
    return value


def _timestamp(value, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise MalformedEvent(
            f"event field '{field}' must be an ISO 8601 time such as 2026-11-25T06:00:00Z, got {value!r}"
        ) from None
    if parsed.tzinfo is None:
        raise MalformedEvent(f"event field '{field}' has no time zone: {value!r}")
    return parsed.astimezone(UTC)


def _reason_to_ignore(request: Request, settings: Settings) -> str:
    if request.group != settings.group:
        return f"model package group {request.group!r} is not this app's group {settings.group!r}"
    if request.status not in ("Approved", "Rejected"):
        return f"approval status {request.status!r} needs no action"
    return ""


# --- triggers ----------------------------------------------------------------------------------------------------


def _score_newest_approved(sagemaker, settings: Settings, request: Request) -> list[dict]:
    package = newest_approved(sagemaker, settings.group)
    if package is None:
        reason = f"model package group {settings.group!r} has no approved version to score with"
        return [_alert(settings, request, None, None, reason)]
    return _score(sagemaker, settings, request, package)


def newest_approved(sagemaker, group: str) -> dict | None:
    """The newest approved version's description (the serving function uses it too), or None."""
    # ListModelPackages sorts ascending unless told otherwise: ask for the newest first, explicitly.
    summaries = sagemaker.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )["ModelPackageSummaryList"]
    return _describe_package(sagemaker, summaries[0]["ModelPackageArn"]) if summaries else None


def _score(sagemaker, settings: Settings, request: Request, package: dict) -> list[dict]:
    version = package["ModelPackageVersion"]
    if package["ModelApprovalStatus"] != "Approved":  # a late approval event for a since-rejected version
        reason = f"version {version} is {package['ModelApprovalStatus']} now"
        return [log_decision(request.trigger, version, None, "ignored", reason)]
    containers, refused = model_containers(package)
    if refused:
        return [_alert(settings, request, version, None, refused)]
    model = model_request(settings, package, containers)
    input_uri = settings.input_uri.replace("{date}", request.run_date)
    listing = input_listing(input_uri)
    if not listing:
        return [_alert(settings, request, version, None, f"no scoring input under {input_uri}")]
    base_name = _name(settings.name_prefix, f"v{version}", work_digest(model["ModelName"], listing))
    job_name, status = _free_job_name(sagemaker, base_name)
    if status:
        return [log_decision(request.trigger, version, job_name, "job_exists", f"job already {status}")]
    if not job_name:
        reason = f"the last {MAX_ATTEMPTS} jobs for this input and version ({base_name}...) ended Failed or Stopped"
        return [_alert(settings, request, version, base_name, reason)]
    _ensure_model(sagemaker, model)
    job = transform_job_request(settings, job_name, model["ModelName"], input_uri)
    try:
        sagemaker.create_transform_job(**job, Tags=_tags(package, request.trigger))
    except ClientError as error:
        if _code(error) != "ResourceInUse":  # a concurrent event for the same work created it first
            raise
        return [log_decision(request.trigger, version, job_name, "job_exists", _message(error))]
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
    package = _describe_package(sagemaker, request.package_arn)
    if package["ModelApprovalStatus"] != "Rejected":
        reason = (
            f"version {request.version} is {package['ModelApprovalStatus']} now: a late Rejected event stops nothing"
        )
        return [log_decision(request.trigger, request.version, None, "ignored", reason)]
    containers, refused = model_containers(package)
    model_name = model_request(settings, package, containers)["ModelName"] if not refused else ""
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
        if _code(error) != "ValidationException":  # the job ended between listing and stopping
            raise
        return log_decision(request.trigger, request.version, job_name, "none", _message(error))
    reason = f"version {request.version} rejected"
    return log_decision(request.trigger, request.version, job_name, "stopped_job", reason)


# --- SageMaker requests ----------------------------------------------------------------------------------------


def _name(*parts: str) -> str:
    name = "-".join(parts)
    if len(name) > 63 - len(f"-r{MAX_ATTEMPTS}") or not NAME_RULE.match(name):
        raise ConfigurationError(
            f"name {name!r} breaks SageMaker's name rule (letters, digits and hyphens, at most 63 characters with "
            "its re-run suffix); shorten NAME_PREFIX"
        )
    return name


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:DIGEST_LENGTH]


def work_digest(model_name: str, listing: list[list[str]]) -> str:
    """Names the work: this model on these input objects (keys and ETags; a rewritten object has a new ETag)."""
    return _digest({"model": model_name, "input": listing})


def model_request(settings: Settings, package: dict, containers: list[dict]) -> dict:
    """The CreateModel request for the package's containers, in order, as one serial-inference model.

    Its name carries a digest of the request, so a model is reused only for the same containers (images, model
    data, environments, in order) and role: a recreated group's version 1 gets its own model, not the stale one.
    """
    request = {
        "Containers": containers,
        "InferenceExecutionConfig": {"Mode": "Serial"},
        "ExecutionRoleArn": settings.execution_role_arn,
        "EnableNetworkIsolation": True,
    }
    name = _name(settings.name_prefix, f"v{package['ModelPackageVersion']}", _digest(request))
    return {
        "ModelName": name,
        **request,
        "Tags": [{"Key": "scoreline:model-package-arn", "Value": package["ModelPackageArn"]}],
    }


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


def model_containers(package: dict) -> tuple[list[dict], str]:
    """CreateModel containers for batch transform, or the reason this package cannot be scored."""
    containers = package.get("InferenceSpecification", {}).get("Containers") or []
    if not containers:
        return [], f"model package {package['ModelPackageArn']} has no InferenceSpecification.Containers"
    result = []
    for position, container in enumerate(containers, start=1):
        model_data_url, refused = _model_data_url(container)
        if refused:
            return [], f"container {position} of version {package['ModelPackageVersion']} {refused}"
        copied = {key: container[key] for key in CONTAINER_FIELDS if key in container}
        if model_data_url:
            copied["ModelDataUrl"] = model_data_url
        result.append(copied)
    return result, ""


def _model_data_url(container: dict) -> tuple[str, str]:
    """(ModelDataUrl, refusal). A ModelDataSource that names one gzip-compressed object is that same tar.gz."""
    if "ModelDataUrl" in container or "ModelDataSource" not in container:
        return container.get("ModelDataUrl", ""), ""
    source = container["ModelDataSource"].get("S3DataSource") or {}
    if source.get("S3DataType") == "S3Object" and source.get("CompressionType") == "Gzip":
        return source["S3Uri"], ""
    kind = f"S3DataType={source.get('S3DataType')}, CompressionType={source.get('CompressionType')}"
    return "", (
        f"has only a ModelDataSource ({kind}); batch transform needs a gzip-compressed model.tar.gz "
        "(ModelDataUrl): register the version with one"
    )


def _tags(package: dict, trigger: str) -> list[dict]:
    return [
        {"Key": "scoreline:model-package-arn", "Value": package["ModelPackageArn"]},
        {"Key": "scoreline:trigger", "Value": trigger},
    ]


def _ensure_model(sagemaker, model: dict) -> None:
    """Creates the model unless it exists: a model of that name has these very containers (see model_request)."""
    if _model_exists(sagemaker, model["ModelName"]):
        return
    try:
        sagemaker.create_model(**model)
    except ClientError as error:
        if "already exist" not in _message(error):  # created by a concurrent event for the same version
            raise


def _model_exists(sagemaker, model_name: str) -> bool:
    try:
        sagemaker.describe_model(ModelName=model_name)
    except ClientError as error:
        if _code(error) in ABSENT:
            return False
        raise
    return True


def _job_status(sagemaker, job_name: str) -> str:
    """The job's status, or "" when no job has that name. moto does not reject duplicate names: look first."""
    try:
        return sagemaker.describe_transform_job(TransformJobName=job_name)["TransformJobStatus"]
    except ClientError as error:
        if _code(error) in ABSENT:
            return ""
        raise


def _job_model(sagemaker, job_name: str) -> str:
    return sagemaker.describe_transform_job(TransformJobName=job_name)["ModelName"]


def _describe_package(sagemaker, package_arn: str) -> dict:
    return sagemaker.describe_model_package(ModelPackageName=package_arn)  # by ARN: moto rejects group/version


# --- S3, SNS, logs -----------------------------------------------------------------------------------------------


def input_listing(uri: str) -> list[list[str]]:
    """[key, ETag] of every object under the input prefix, by key. ListObjectsV2 returns up to 1,000 objects a
    request, sorted by key: the paginator follows NextContinuationToken to the last page."""
    bucket, prefix = _split_s3_uri(uri, "scoring input")
    listing = []
    for page in _client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        listing += [[item["Key"], item["ETag"]] for item in page.get("Contents", [])]
    return sorted(listing)


def _split_s3_uri(uri: str, what: str) -> tuple[str, str]:
    match = re.match(r"^s3://([^/]+)/(.*)$", uri)
    if not match:
        raise ConfigurationError(f"{what} must be an S3 URI such as s3://bucket/prefix/, got {uri!r}")
    return match.group(1), match.group(2)


def _alert(settings: Settings, request: Request, version, job_name, reason: str) -> dict:
    _client("sns").publish(
        TopicArn=settings.alert_topic_arn,
        Subject="Scoreline: scoring did not start",
        Message=f"Scoring triggered by {request.trigger} ({request.run_key}) did not start: {reason}.",
    )
    return log_decision(request.trigger, version, job_name, "alerted", reason)


def log_decision(trigger: str, version, job_name, action: str, reason: str, idle_instances: int = 0) -> dict:
    """One JSON line per decision; the dashboard queries these fields (idle_instances only when above 0)."""
    line = {"trigger": trigger, "version": version, "job_name": job_name, "action": action, "reason": reason}
    if idle_instances:
        line["idle_instances"] = idle_instances
    print(json.dumps(line))
    return line


def _client(service: str):
    return boto3.client(service, config=BOTO_CONFIG)  # per invocation: honours AWS_ENDPOINT_URL set later


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _message(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Message", "")
