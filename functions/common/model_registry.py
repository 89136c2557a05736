"""The model registry and serial-inference models, as the scoring, serving and training-data functions use them.

One file, linked into each function's folder (functions/<name>/model_registry.py -> ../common/model_registry.py);
the stacks build those functions with follow_symlinks, so the asset holds a copy (stacks/python_function.py).
Runs on the Lambda python3.12 runtime: stdlib and boto3 only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import ClientError

STATE_CHANGE = "SageMaker Model Package State Change"
# CreateTransformJob TransformJobName: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}; CreateModel ModelName is looser.
NAME_RULE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
DIGEST_LENGTH = 12
MAX_ATTEMPTS = 3  # transform jobs per input and model: names keep room for the re-run suffix -r<attempt>
ABSENT = ("ValidationException", "ResourceNotFound")  # what Describe* answers for a name that does not exist
# What CreateModel copies from each package container. Batch transform accepts model data only as ModelDataUrl
# (a model.tar.gz); ModelDataSource is for endpoints (SageMaker API: ContainerDefinition, ModelDataSource).
CONTAINER_FIELDS = ("ContainerHostname", "Image", "ModelDataUrl", "Environment")


class MalformedEvent(ValueError):
    """The event lacks a field the function needs, or the field is unreadable: retrying cannot fix it."""


class ConfigurationError(RuntimeError):
    """The function's settings are missing or unusable: a deployment problem that retrying cannot fix."""


# --- the registry ------------------------------------------------------------------------------------------------


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


def parse_state_change(event: dict) -> Request:
    """A "SageMaker Model Package State Change" event, each field checked."""
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
        run_date=timestamp(event.get("time"), "time").date().isoformat(),
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


def timestamp(value, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise MalformedEvent(
            f"event field '{field}' must be an ISO 8601 time such as 2026-11-25T06:00:00Z, got {value!r}"
        ) from None
    if parsed.tzinfo is None:
        raise MalformedEvent(f"event field '{field}' has no time zone: {value!r}")
    return parsed.astimezone(UTC)


def newest_approved(sagemaker, group: str) -> dict | None:
    """The newest approved version's description, or None."""
    # ListModelPackages sorts ascending unless told otherwise: ask for the newest first, explicitly.
    summaries = sagemaker.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )["ModelPackageSummaryList"]
    return describe_package(sagemaker, summaries[0]["ModelPackageArn"]) if summaries else None


def describe_package(sagemaker, package_arn: str) -> dict:
    return sagemaker.describe_model_package(ModelPackageName=package_arn)  # by ARN: moto rejects group/version


# --- the serial-inference model ----------------------------------------------------------------------------------


def model_containers(package: dict, environments: Sequence[dict[str, str]] = ()) -> tuple[list[dict], str]:
    """CreateModel containers, in the package's order, or the reason this package cannot be served. The n-th of
    `environments` (the model servers' workers and threads the stack chose for the instance type, see
    scoreline/model_servers.py) is merged over the n-th container's own Environment; a container beyond them keeps its
    own."""
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
        if position <= len(environments):
            copied["Environment"] = {**container.get("Environment", {}), **environments[position - 1]}
        result.append(copied)
    return result, ""


def read_environment(names: dict[str, str], whole_numbers: tuple[str, ...], least: int) -> dict:
    """Each field's value from the environment variable the stack sets for it (`names`: field -> variable): set and
    not empty; a whole number >= `least` for the fields in `whole_numbers`; true or false for instance_storage; the
    container environments decoded."""
    values = {}
    for field, name in names.items():
        value = os.environ.get(name, "")
        if not value:
            raise ConfigurationError(f"environment variable {name} is not set")
        if field in whole_numbers:
            if not value.isdigit() or int(value) < least:
                raise ConfigurationError(
                    f"environment variable {name} must be a whole number >= {least}, got {value!r}"
                )
            value = int(value)
        elif field == "instance_storage":
            if value not in ("true", "false"):
                raise ConfigurationError(f"environment variable {name} must be true or false, got {value!r}")
            value = value == "true"
        elif field == "container_environments":
            value = container_environments(value, name)
        values[field] = value
    return values


def container_environments(value: str, variable: str) -> tuple[dict[str, str], ...]:
    """The JSON list of container environments (one object of strings per container, in order) the stack passes."""
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if not isinstance(parsed, list) or not all(
        isinstance(environment, dict) and all(isinstance(item, str) for pair in environment.items() for item in pair)
        for environment in parsed
    ):
        raise ConfigurationError(
            f"environment variable {variable} must be a JSON list of objects of strings, one per container, "
            f"got {value!r}"
        )
    return tuple(parsed)


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


def model_request(name_prefix: str, execution_role_arn: str, package: dict, containers: list[dict]) -> dict:
    """The CreateModel request for the package's containers, in order, as one serial-inference model.

    Its name carries a digest of the request, so a model is reused only for the same containers (images, model
    data, environments, in order) and role: a recreated group's version 1 gets its own model, not the stale one.
    """
    request = {
        "Containers": containers,
        "InferenceExecutionConfig": {"Mode": "Serial"},
        "ExecutionRoleArn": execution_role_arn,
        "EnableNetworkIsolation": True,
    }
    model_name = name(name_prefix, f"v{package['ModelPackageVersion']}", digest(request))
    return {
        "ModelName": model_name,
        **request,
        "Tags": [{"Key": "scoreline:model-package-arn", "Value": package["ModelPackageArn"]}],
    }


def ensure_model(sagemaker, model: dict) -> None:
    """Creates the model unless it exists: a model of that name has these very containers (see model_request)."""
    if _model_exists(sagemaker, model["ModelName"]):
        return
    try:
        sagemaker.create_model(**model)
    except ClientError as error:
        if "already exist" not in error_message(error):  # created by a concurrent event for the same version
            raise


def _model_exists(sagemaker, model_name: str) -> bool:
    try:
        sagemaker.describe_model(ModelName=model_name)
    except ClientError as error:
        if error_code(error) in ABSENT:
            return False
        raise
    return True


# --- names and errors --------------------------------------------------------------------------------------------


def name(*parts: str) -> str:
    joined = "-".join(parts)
    if len(joined) > 63 - len(f"-r{MAX_ATTEMPTS}") or not NAME_RULE.match(joined):
        raise ConfigurationError(
            f"name {joined!r} breaks SageMaker's name rule (letters, digits and hyphens, at most 63 characters with "
            "its re-run suffix); shorten NAME_PREFIX"
        )
    return joined


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:DIGEST_LENGTH]


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def error_message(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Message", "")
