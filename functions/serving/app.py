"""Serving function: keeps the real-time endpoint on the version the registry says, with a guarded rollout.

Triggers (EventBridge rules of the serving stack):
- "SageMaker Model Package State Change" of this app's group: Approved asks for that version; Rejected of the
  version the endpoint serves (or is asked to serve) asks for the newest version still approved.
- "SageMaker Endpoint State Change" of this app's endpoint: a deployment ended (or could not start earlier because
  the endpoint was busy): converge, and alert when SageMaker rolled a deployment back.
Runs on the Lambda python3.12 runtime: stdlib and boto3 only.

The endpoint's tags hold what was asked: `scoreline:requested-config` (the configuration it should serve) and
`scoreline:deployed-config` (the last configuration handed to CreateEndpoint/UpdateEndpoint). Each event compares
them with what DescribeEndpoint says serves, so duplicate or late events change nothing, and a configuration that
SageMaker rolled back is alerted once and not deployed again until another approval asks for it.

Models are built as the scoring function builds them (model_registry.py, shared with it and linked into this folder):
the package's containers, in order, as one serial-inference model with network isolation, named by a digest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import boto3
import model_registry as registry
import teardown
from botocore.config import Config
from botocore.exceptions import ClientError

PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
ENDPOINT_STATE_CHANGE = "SageMaker Endpoint State Change"
VARIANT = "AllTraffic"  # blue/green needs the same variant name in the old and new configurations (Exclusions)
REQUESTED, DEPLOYED, ALERTED = "scoreline:requested-config", "scoreline:deployed-config", "scoreline:alerted-config"
BUSY = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
# DescribeEndpoint EndpointStatus: "Failed: Endpoint could not be created, updated, or re-scaled ... DeleteEndpoint is
# the only operation that can be performed on a failed endpoint."
FAILED = "Failed"
BOTO_CONFIG = Config(retries={"mode": "standard"})
# Application Auto Scaling: SageMaker variants scale on this predefined metric (invocations per instance per minute).
SCALING_METRIC = "SageMakerVariantInvocationsPerInstance"

ENVIRONMENT = {
    "group": "MODEL_PACKAGE_GROUP_NAME",
    "execution_role_arn": "EXECUTION_ROLE_ARN",
    "name_prefix": "SERVING_NAME_PREFIX",
    "endpoint_name": "SERVING_ENDPOINT_NAME",
    "kms_key_arn": "KMS_KEY_ARN",
    "instance_type": "SERVING_INSTANCE_TYPE",
    "instance_storage": "SERVING_INSTANCE_STORAGE",
    "instance_count": "SERVING_INSTANCE_COUNT",
    "container_environments": "SERVING_CONTAINER_ENVIRONMENT",
    "min_instances": "SERVING_MIN_INSTANCES",
    "max_instances": "SERVING_MAX_INSTANCES",
    "invocations_per_instance": "SERVING_INVOCATIONS_PER_INSTANCE",
    "canary_percent": "SERVING_CANARY_PERCENT",
    "baking_seconds": "SERVING_BAKING_SECONDS",
    "latency_alarm_ms": "SERVING_LATENCY_ALARM_MS",
    "errors_alarm_name": "SERVING_ERRORS_ALARM_NAME",
    "latency_alarm_name": "SERVING_LATENCY_ALARM_NAME",
    "alert_topic_arn": "ALERT_TOPIC_ARN",
}
NUMBERS = (
    "instance_count",
    "min_instances",
    "max_instances",
    "invocations_per_instance",
    "canary_percent",
    "baking_seconds",
    "latency_alarm_ms",
)


class RetryLater(Exception):
    """The endpoint cannot take this request yet (it is being deleted): Lambda retries the event (asynchronous
    invocation: twice, one and then two minutes later), and the event lands in the failed-invocations queue if it
    still cannot."""


@dataclass(frozen=True)
class Settings:
    group: str
    execution_role_arn: str
    name_prefix: str
    endpoint_name: str
    kms_key_arn: str
    instance_type: str
    instance_storage: bool
    instance_count: int
    # Merged over each container's Environment at CreateModel: its model server's workers and threads for the
    # instance type, chosen by the stack (scoreline/model_servers.py).
    container_environments: tuple[dict[str, str], ...]
    min_instances: int
    max_instances: int
    invocations_per_instance: int
    canary_percent: int
    baking_seconds: int
    latency_alarm_ms: int
    errors_alarm_name: str
    latency_alarm_name: str
    alert_topic_arn: str


def handler(event, context):
    settings = load_settings()
    sagemaker = _client("sagemaker")
    if teardown.is_stack_event(event):  # the serving stack is being created, updated or deleted
        return teardown.answer_stack_event(event, lambda: remove_endpoint(sagemaker, settings))
    detail_type = event.get("detail-type") if isinstance(event, dict) else None
    if detail_type == PACKAGE_STATE_CHANGE:
        return _on_package_change(sagemaker, settings, event)
    if detail_type == ENDPOINT_STATE_CHANGE:
        return converge(sagemaker, settings, "endpoint_state")
    raise registry.MalformedEvent(
        f"event field 'detail-type' must be {PACKAGE_STATE_CHANGE!r} or {ENDPOINT_STATE_CHANGE!r}, got {detail_type!r}"
    )


def load_settings() -> Settings:
    return Settings(**registry.read_environment(ENVIRONMENT, NUMBERS, least=0))


# --- what the registry asks for -------------------------------------------------------------------------------


def _on_package_change(sagemaker, settings: Settings, event: dict) -> dict:
    request = registry.parse_state_change(event)
    if request.group != settings.group:
        return log_decision("ignored", request.version, f"model package group {request.group!r} is not this app's")
    package = sagemaker.describe_model_package(ModelPackageName=request.package_arn)
    status = package["ModelApprovalStatus"]  # events arrive late or twice: act on the status now
    if status == "Approved":
        return _request_version(sagemaker, settings, package, "approval")
    if status != "Rejected":
        return log_decision("ignored", request.version, f"version {request.version} is {status}")
    if request.version not in _versions_in_play(sagemaker, settings):
        return log_decision("ignored", request.version, f"version {request.version} is not being served")
    newest = registry.newest_approved(sagemaker, settings.group)
    if newest is None:
        reason = f"version {request.version} was rejected and no other version is approved: it keeps serving"
        return _alert(settings, request.version, reason)
    return _request_version(sagemaker, settings, newest, "rollback")


def _request_version(sagemaker, settings: Settings, package: dict, trigger: str) -> dict:
    containers, refused = registry.model_containers(package, settings.container_environments)
    if refused:
        return _alert(settings, package["ModelPackageVersion"], refused)
    model = registry.model_request(settings.name_prefix, settings.execution_role_arn, package, containers)
    config = endpoint_config_request(settings, model["ModelName"], package)
    registry.ensure_model(sagemaker, model)
    _ensure_endpoint_config(sagemaker, config)
    endpoint = _endpoint(sagemaker, settings)
    if endpoint is None:
        return _create_endpoint(sagemaker, settings, config["EndpointConfigName"], trigger)
    if endpoint["EndpointStatus"] == FAILED:
        _delete_endpoint(sagemaker, settings)
    if endpoint["EndpointStatus"] in (FAILED, "Deleting"):
        raise RetryLater(
            f"endpoint {settings.endpoint_name} is being deleted; version {package['ModelPackageVersion']}"
            " is deployed when Lambda retries this event"
        )
    _tag_endpoint(sagemaker, settings, {REQUESTED: config["EndpointConfigName"]})
    return converge(sagemaker, settings, trigger)


def _versions_in_play(sagemaker, settings: Settings) -> set[int]:
    endpoint = _endpoint(sagemaker, settings)
    if endpoint is None:
        return set()
    tags = _endpoint_tags(sagemaker, endpoint)
    names = {endpoint["EndpointConfigName"], tags.get(REQUESTED, "")}
    return {version_of(name, settings) for name in names if version_of(name, settings)}


# --- converging the endpoint on the request -------------------------------------------------------------------


def converge(sagemaker, settings: Settings, trigger: str) -> dict:
    """One step towards the requested configuration; the endpoint's next state change brings the next step."""
    endpoint = _endpoint(sagemaker, settings)
    if endpoint is None:
        return log_decision("none", None, f"endpoint {settings.endpoint_name} does not exist yet", trigger)
    tags = _endpoint_tags(sagemaker, endpoint)
    serving, requested = endpoint["EndpointConfigName"], tags.get(REQUESTED, endpoint["EndpointConfigName"])
    status = endpoint["EndpointStatus"]
    version = version_of(requested, settings)
    if status in BUSY:
        return log_decision("busy", version, f"endpoint is {status}; continues at its next state change", trigger)
    if status == FAILED:
        return _replace_failed_endpoint(sagemaker, settings, endpoint, requested)
    if status != "InService":  # UpdateRollbackFailed: SageMaker's FailureReason says why
        return _alert_once(sagemaker, settings, endpoint, tags, requested, f"endpoint is {status}")
    if serving == requested:
        _ensure_autoscaling(settings)
        return log_decision("serving", version, f"endpoint serves {serving}", trigger)
    if tags.get(DEPLOYED) == requested:  # handed to SageMaker, and the endpoint is back on another configuration
        return _alert_once(sagemaker, settings, endpoint, tags, requested, "the deployment was rolled back")
    return _update_endpoint(sagemaker, settings, serving, requested, trigger)


def _replace_failed_endpoint(sagemaker, settings: Settings, endpoint: dict, requested: str) -> dict:
    """A failed endpoint never serves again and takes no update: alert with SageMaker's reason, then delete it, so
    that the next approval (or a retry of the event that asked while it was deleted) creates it anew."""
    version = version_of(requested, settings)
    reason = (
        f"endpoint is Failed: version {version} ({requested}) is not serving"
        f" (SageMaker: {endpoint.get('FailureReason') or 'no reason given'}); the endpoint is deleted and the next"
        " approval creates it again"
    )
    _publish_alert(settings, reason)
    _delete_endpoint(sagemaker, settings)
    return log_decision("deleted_failed_endpoint", version, reason, "endpoint_state")


def _delete_endpoint(sagemaker, settings: Settings) -> None:
    """DeleteEndpoint, after removing the variant's scalable target (with its scaling policy and alarms) if there is
    one ("Delete endpoints configured for auto scaling")."""
    _deregister_scalable_target(settings)
    try:
        sagemaker.delete_endpoint(EndpointName=settings.endpoint_name)
    except ClientError as error:
        if registry.error_code(error) not in registry.ABSENT:
            raise


def remove_endpoint(sagemaker, settings: Settings) -> str:
    """Everything this function created: the endpoint (after its scalable target, whose deregistration removes the
    target-tracking policy and its alarms), the rollback alarms, the endpoint configurations and the models."""
    _delete_endpoint(sagemaker, settings)
    _client("cloudwatch").delete_alarms(AlarmNames=[settings.errors_alarm_name, settings.latency_alarm_name])
    configs = teardown.delete_endpoint_configs(sagemaker, settings.name_prefix)
    models = teardown.delete_models(sagemaker, settings.name_prefix)
    return (
        f"deleted endpoint {settings.endpoint_name}, its rollback alarms, {len(configs)} endpoint configurations"
        f" and {len(models)} models"
    )


def _create_endpoint(sagemaker, settings: Settings, config_name: str, trigger: str) -> dict:
    tags = [{"Key": REQUESTED, "Value": config_name}, {"Key": DEPLOYED, "Value": config_name}]
    try:
        sagemaker.create_endpoint(EndpointName=settings.endpoint_name, EndpointConfigName=config_name, Tags=tags)
    except ClientError as error:
        if "already exist" not in registry.error_message(error):  # a concurrent event created it first
            raise
        _tag_endpoint(sagemaker, settings, {REQUESTED: config_name})
        return converge(sagemaker, settings, trigger)
    return log_decision("created_endpoint", version_of(config_name, settings), f"serving {config_name}", trigger)


def _update_endpoint(sagemaker, settings: Settings, serving: str, config_name: str, trigger: str) -> dict:
    _put_new_fleet_alarms(settings, config_name)
    # "Update endpoints that use auto scaling": changing only the model of an autoscaled variant is allowed (and
    # keeps the instance count autoscaling chose); an update that changes its instance type fails unless the variant
    # is first deregistered as a scalable target. It is registered again once the new fleet serves (converge).
    new_instance_type = _instance_type(sagemaker, serving) != _instance_type(sagemaker, config_name)
    if new_instance_type:
        _deregister_scalable_target(settings)
    sagemaker.update_endpoint(
        EndpointName=settings.endpoint_name,
        EndpointConfigName=config_name,
        RetainAllVariantProperties=not new_instance_type,
        DeploymentConfig=deployment_config(settings),
    )
    _tag_endpoint(sagemaker, settings, {DEPLOYED: config_name})
    return log_decision("updated_endpoint", version_of(config_name, settings), f"deploying {config_name}", trigger)


def deployment_config(settings: Settings) -> dict:
    """Blue/green with a baking period and automatic rollback on the new fleet's alarms (Deployment guardrails)."""
    if settings.canary_percent:
        routing = {
            "Type": "CANARY",
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": settings.canary_percent},
            "WaitIntervalInSeconds": settings.baking_seconds,
        }
    else:
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": settings.baking_seconds,  # the final baking period, old fleet still up
            # Must exceed the waits above (BlueGreenUpdatePolicy); 600 is the API's minimum.
            "MaximumExecutionTimeoutInSeconds": 1800 + 2 * settings.baking_seconds,
        },
        "AutoRollbackConfiguration": {
            "Alarms": [{"AlarmName": settings.errors_alarm_name}, {"AlarmName": settings.latency_alarm_name}]
        },
    }


def _put_new_fleet_alarms(settings: Settings, config_name: str) -> None:
    """Points the two rollback alarms at the new fleet: SageMaker publishes its metrics with the dimension
    EndpointConfigName=<new configuration> ("Auto-Rollback Configuration and Monitoring", new-fleet example)."""
    dimensions = [
        {"Name": "EndpointName", "Value": settings.endpoint_name},
        {"Name": "VariantName", "Value": VARIANT},
        {"Name": "EndpointConfigName", "Value": config_name},
    ]
    common = {
        "Namespace": "AWS/SageMaker",
        "Dimensions": dimensions,
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 2,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    cloudwatch = _client("cloudwatch")
    # Invocation5XXErrors is 1 or 0 per request, so its average is the error rate. A bad row makes the features
    # container answer 5xx too: a rate, not a count, keeps a client's mistakes from rolling a good model back.
    cloudwatch.put_metric_alarm(
        AlarmName=settings.errors_alarm_name,
        AlarmDescription=f"New fleet ({config_name}): more than 5% of requests end in a model or server error",
        MetricName="Invocation5XXErrors",
        Threshold=0.05,
        **common,
    )
    cloudwatch.put_metric_alarm(
        AlarmName=settings.latency_alarm_name,
        AlarmDescription=f"New fleet ({config_name}): model latency above {settings.latency_alarm_ms} ms",
        MetricName="ModelLatency",
        Threshold=settings.latency_alarm_ms * 1000,  # ModelLatency is in microseconds
        **common,
    )


def _ensure_autoscaling(settings: Settings) -> None:
    """Target tracking on invocations per instance; both calls create or update, so repeating them is harmless.
    The variant must exist and be in service, which is why this runs once the endpoint serves."""
    autoscaling = _client("application-autoscaling")
    target = _scalable_target(settings)
    autoscaling.register_scalable_target(
        **target, MinCapacity=settings.min_instances, MaxCapacity=settings.max_instances
    )
    autoscaling.put_scaling_policy(
        **target,
        PolicyName=f"{settings.endpoint_name}-invocations",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": float(settings.invocations_per_instance),
            "PredefinedMetricSpecification": {"PredefinedMetricType": SCALING_METRIC},
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
        },
    )


def _deregister_scalable_target(settings: Settings) -> None:
    """Removes the variant's scalable target with its scaling policy and that policy's alarms, if there is one."""
    try:
        _client("application-autoscaling").deregister_scalable_target(**_scalable_target(settings))
    except ClientError as error:
        if registry.error_code(error) != "ObjectNotFoundException":
            raise


def _scalable_target(settings: Settings) -> dict:
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{settings.endpoint_name}/variant/{VARIANT}",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }


# --- SageMaker requests ---------------------------------------------------------------------------------------


def endpoint_config_request(settings: Settings, model_name: str, package: dict) -> dict:
    request = {
        "ProductionVariants": [
            {
                "VariantName": VARIANT,
                "ModelName": model_name,
                "InstanceType": settings.instance_type,
                "InitialInstanceCount": settings.instance_count,
            }
        ],
    }
    # CreateEndpointConfig KmsKeyId: not for instance types with local (NVMe) storage, which the instance's
    # hardware encrypts; the ML storage volume of the others is encrypted with the data key.
    if not settings.instance_storage:
        request["KmsKeyId"] = settings.kms_key_arn
    name = registry.name(settings.name_prefix, f"v{package['ModelPackageVersion']}", registry.digest(request))
    tags = [{"Key": "scoreline:model-package-arn", "Value": package["ModelPackageArn"]}]
    return {"EndpointConfigName": name, **request, "Tags": tags}


def version_of(config_name: str, settings: Settings) -> int | None:
    """The version a configuration of this app serves: {prefix}-v{version}-{digest}."""
    head = f"{settings.name_prefix}-v"
    if not config_name.startswith(head):
        return None
    number = config_name[len(head) :].split("-", 1)[0]
    return int(number) if number.isdigit() else None


def _instance_type(sagemaker, config_name: str) -> str:
    [variant] = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    return variant["InstanceType"]


def _ensure_endpoint_config(sagemaker, config: dict) -> None:
    try:
        sagemaker.describe_endpoint_config(EndpointConfigName=config["EndpointConfigName"])
        return  # the name is a digest of the request: an existing one is this very configuration
    except ClientError as error:
        if registry.error_code(error) not in registry.ABSENT:
            raise
    try:
        sagemaker.create_endpoint_config(**config)
    except ClientError as error:
        if "already exist" not in registry.error_message(error):
            raise


def _endpoint(sagemaker, settings: Settings) -> dict | None:
    try:
        return sagemaker.describe_endpoint(EndpointName=settings.endpoint_name)
    except ClientError as error:
        if registry.error_code(error) in registry.ABSENT:
            return None
        raise


def _endpoint_tags(sagemaker, endpoint: dict) -> dict[str, str]:
    tags = sagemaker.list_tags(ResourceArn=endpoint["EndpointArn"])["Tags"]
    return {tag["Key"]: tag["Value"] for tag in tags}


def _tag_endpoint(sagemaker, settings: Settings, values: dict[str, str]) -> None:
    arn = sagemaker.describe_endpoint(EndpointName=settings.endpoint_name)["EndpointArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": key, "Value": value} for key, value in values.items()])


# --- alerts and logs --------------------------------------------------------------------------------------------


def _alert_once(sagemaker, settings: Settings, endpoint: dict, tags: dict, requested: str, what: str) -> dict:
    version = version_of(requested, settings)
    if tags.get(ALERTED) == requested:
        return log_decision("none", version, f"{what}; already alerted", "endpoint_state")
    reason = (
        f"{what}: version {version} ({requested}) is not serving; the endpoint serves {endpoint['EndpointConfigName']}"
    )
    if endpoint.get("FailureReason"):
        reason += f" (SageMaker: {endpoint['FailureReason']})"
    _publish_alert(settings, reason)  # first: should tagging fail, the alert is out and the retry alerts again
    _tag_endpoint(sagemaker, settings, {ALERTED: requested})
    return log_decision("alerted", version, reason)


def _alert(settings: Settings, version, reason: str) -> dict:
    _publish_alert(settings, reason)
    return log_decision("alerted", version, reason)


def _publish_alert(settings: Settings, reason: str) -> None:
    _client("sns").publish(
        TopicArn=settings.alert_topic_arn,
        Subject="Scoreline: real-time endpoint not updated",
        Message=f"Endpoint {settings.endpoint_name}: {reason}.",
    )


def log_decision(action: str, version, reason: str, trigger: str = "approval") -> dict:
    """One JSON line per decision; the dashboard queries these fields."""
    line = {"trigger": trigger, "version": version, "action": action, "reason": reason}
    print(json.dumps(line))
    return line


def _client(service: str):
    return boto3.client(service, config=BOTO_CONFIG)
