"""The serving function (functions/serving/app.py) against moto: approval deploys, rejection rolls back, the
endpoint's state changes continue or report a rollout, and duplicate events change nothing."""

from __future__ import annotations

import json

import boto3
import pytest

from local_mode.moto_patches import install as install_moto_patches
from tests.functions.conftest import (
    ACCOUNT,
    REGION,
    SETTINGS,
    as_served,
    load_event,
    load_function,
    on_request,
    two_containers,
    variables_the_stack_passes,
)

ENDPOINT = "scoreline-realtime"
# What the serving stack passes for ml.m5.large (2 vCPUs): two single-threaded workers in each container.
TWO_WORKERS = {"OMP_NUM_THREADS": "1", "SAGEMAKER_MODEL_SERVER_WORKERS": "2"}
SERVING_SETTINGS = {
    "MODEL_PACKAGE_GROUP_NAME": SETTINGS["MODEL_PACKAGE_GROUP_NAME"],
    "EXECUTION_ROLE_ARN": SETTINGS["EXECUTION_ROLE_ARN"],
    "SERVING_NAME_PREFIX": "scoreline-serving",
    "SERVING_ENDPOINT_NAME": ENDPOINT,
    "KMS_KEY_ARN": SETTINGS["KMS_KEY_ARN"],
    "SERVING_INSTANCE_TYPE": "ml.m5.large",
    "SERVING_INSTANCE_STORAGE": "false",
    "SERVING_INSTANCE_COUNT": "1",
    "SERVING_CONTAINER_ENVIRONMENT": json.dumps([TWO_WORKERS, TWO_WORKERS]),
    "SERVING_MIN_INSTANCES": "1",
    "SERVING_MAX_INSTANCES": "3",
    "SERVING_INVOCATIONS_PER_INSTANCE": "700",
    "SERVING_CANARY_PERCENT": "0",
    "SERVING_BAKING_SECONDS": "600",
    "SERVING_LATENCY_ALARM_MS": "800",
    "SERVING_ERRORS_ALARM_NAME": "scoreline-serving-new-fleet-errors",
    "SERVING_LATENCY_ALARM_NAME": "scoreline-serving-new-fleet-latency",
}


def endpoint_state_change(status: str = "IN_SERVICE") -> dict:
    """'SageMaker Endpoint State Change' as "Events that Amazon SageMaker AI sends to Amazon EventBridge" shows it."""
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}"
    return {
        "version": "0",
        "id": "d2921b5a-b0ad-cace-a8e3-0f159d018e06",
        "detail-type": "SageMaker Endpoint State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2026-11-25T10:02:00Z",
        "region": REGION,
        "resources": [arn],
        "detail": {"EndpointName": ENDPOINT, "EndpointArn": arn, "EndpointStatus": status},
    }


def rejected(version: int) -> dict:
    event = load_event("model_package_approved", version)
    event["detail"]["ModelApprovalStatus"] = "Rejected"
    return event


@pytest.fixture(scope="session")
def serving():
    """The shipped function, loaded as Lambda loads it: its folder (with model_registry.py) on the path."""
    return load_function("serving", "serving_app")


@pytest.fixture
def registry(world, monkeypatch):
    install_moto_patches("update_endpoint", "deregister_scalable_target")
    for name, value in {**SERVING_SETTINGS, "ALERT_TOPIC_ARN": world.topic_arn}.items():
        monkeypatch.setenv(name, value)
    return world


@pytest.fixture
def updates() -> list[dict]:
    """Every UpdateEndpoint request the function sends."""
    calls = []
    on_request("provide-client-params.sagemaker.UpdateEndpoint", lambda params, **_: calls.append(params))
    return calls


def endpoint() -> dict:
    return boto3.client("sagemaker", region_name=REGION).describe_endpoint(EndpointName=ENDPOINT)


def served_model(version: int) -> list[dict]:
    """The version's containers as the endpoint's model has them: the stack's model servers merged in."""
    return as_served(two_containers(version), [TWO_WORKERS, TWO_WORKERS])


def served_containers() -> list[dict]:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint()["EndpointConfigName"])
    [variant] = config["ProductionVariants"]
    return sagemaker.describe_model(ModelName=variant["ModelName"])["Containers"]


def test_first_approval_creates_the_endpoint_with_that_versions_serial_model(serving, registry, capsys):
    registry.add_version("Approved")

    decision = serving.handler(load_event("model_package_approved"), None)

    assert decision["action"] == "created_endpoint" and decision["version"] == 1
    assert served_containers() == served_model(1)
    config = boto3.client("sagemaker", region_name=REGION).describe_endpoint_config(
        EndpointConfigName=endpoint()["EndpointConfigName"]
    )
    assert config["KmsKeyId"] == SETTINGS["KMS_KEY_ARN"]
    assert config["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["action"] == "created_endpoint"


def test_the_endpoint_model_gets_the_model_servers_the_stack_chose(serving, registry, monkeypatch):
    """Each container's Environment at CreateModel has the stack's workers and threads merged over the package's."""
    gpu_model_server = {"SAGEMAKER_MODEL_SERVER_WORKERS": "1", "OMP_NUM_THREADS": "1"}
    monkeypatch.setenv("SERVING_CONTAINER_ENVIRONMENT", json.dumps([TWO_WORKERS, gpu_model_server]))
    registry.add_version("Approved")

    serving.handler(load_event("model_package_approved"), None)

    assert served_containers() == as_served(two_containers(1), [TWO_WORKERS, gpu_model_server])


def test_an_unreadable_container_environment_is_named(serving, registry, monkeypatch):
    monkeypatch.setenv("SERVING_CONTAINER_ENVIRONMENT", '{"OMP_NUM_THREADS": "1"}')

    with pytest.raises(serving.registry.ConfigurationError, match="SERVING_CONTAINER_ENVIRONMENT must be a JSON list"):
        serving.handler(load_event("model_package_approved"), None)


def test_in_service_endpoint_gets_target_tracking_autoscaling(serving, registry):
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved"), None)

    decision = serving.handler(endpoint_state_change(), None)

    assert decision["action"] == "serving"
    autoscaling = boto3.client("application-autoscaling", region_name=REGION)
    [target] = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert target["ResourceId"] == f"endpoint/{ENDPOINT}/variant/AllTraffic"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    [policy] = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 700
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"


def test_next_approval_updates_with_blue_green_guardrails_on_the_new_fleet(serving, registry, updates):
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved"), None)
    registry.add_version("Approved")

    decision = serving.handler(load_event("model_package_approved", 2), None)

    assert decision["action"] == "updated_endpoint" and decision["version"] == 2
    [update] = updates
    new_config = update["EndpointConfigName"]
    assert new_config.startswith("scoreline-serving-v2-")
    assert update["RetainAllVariantProperties"] is True
    assert update["DeploymentConfig"] == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
            "TerminationWaitInSeconds": 600,
            "MaximumExecutionTimeoutInSeconds": 3000,
        },
        "AutoRollbackConfiguration": {
            "Alarms": [
                {"AlarmName": "scoreline-serving-new-fleet-errors"},
                {"AlarmName": "scoreline-serving-new-fleet-latency"},
            ]
        },
    }
    assert served_containers() == served_model(2)
    alarms = boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"]
    by_metric = {alarm["MetricName"]: alarm for alarm in alarms}
    assert set(by_metric) == {"Invocation5XXErrors", "ModelLatency"}
    for alarm in alarms:  # the new fleet only: its configuration is a dimension
        assert {"Name": "EndpointConfigName", "Value": new_config} in alarm["Dimensions"]
    assert by_metric["ModelLatency"]["Threshold"] == 800_000  # microseconds


def test_canary_setting_shifts_that_share_first(serving, registry, updates, monkeypatch):
    monkeypatch.setenv("SERVING_CANARY_PERCENT", "25")
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved"), None)
    registry.add_version("Approved")

    serving.handler(load_event("model_package_approved", 2), None)

    assert updates[0]["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25},
        "WaitIntervalInSeconds": 600,
    }


def test_duplicate_events_update_once(serving, registry, updates):
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved"), None)
    registry.add_version("Approved")
    event = load_event("model_package_approved", 2)

    decisions = [serving.handler(event, None) for _ in range(3)] + [serving.handler(endpoint_state_change(), None)]

    assert [decision["action"] for decision in decisions] == ["updated_endpoint", "serving", "serving", "serving"]
    assert len(updates) == 1


def test_rejecting_the_serving_version_rolls_back_to_the_newest_still_approved(serving, registry, updates):
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved"), None)
    second = registry.add_version("Approved")
    serving.handler(load_event("model_package_approved", 2), None)
    registry.set_status(second, "Rejected")

    decision = serving.handler(rejected(2), None)

    assert decision["action"] == "updated_endpoint" and decision["version"] == 1
    assert served_containers() == served_model(1)
    assert len(updates) == 2


def test_rejecting_a_version_not_served_changes_nothing(serving, registry, updates):
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved"), None)
    second = registry.add_version("Approved")
    registry.set_status(second, "Rejected")

    decision = serving.handler(rejected(2), None)

    assert decision["action"] == "ignored"
    assert served_containers() == served_model(1) and updates == []


def test_rejecting_the_only_approved_version_alerts_and_keeps_serving(serving, registry):
    first = registry.add_version("Approved")
    serving.handler(load_event("model_package_approved"), None)
    registry.set_status(first, "Rejected")

    decision = serving.handler(rejected(1), None)

    assert decision["action"] == "alerted"
    assert served_containers() == served_model(1)
    assert registry.alerts() == [
        f"Endpoint {ENDPOINT}: version 1 was rejected and no other version is approved: it keeps serving."
    ]


def test_a_busy_endpoint_is_updated_at_its_next_state_change(serving, registry, updates):
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved"), None)
    registry.add_version("Approved")
    registry.backend.endpoints[ENDPOINT].endpoint_status = "Updating"  # say, autoscaling at work

    busy = serving.handler(load_event("model_package_approved", 2), None)
    registry.backend.endpoints[ENDPOINT].endpoint_status = "InService"
    resumed = serving.handler(endpoint_state_change(), None)

    assert (busy["action"], resumed["action"]) == ("busy", "updated_endpoint")
    assert served_containers() == served_model(2) and len(updates) == 1


def test_a_rolled_back_rollout_keeps_the_old_version_and_alerts_once(serving, registry, updates):
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved"), None)
    old_config = endpoint()["EndpointConfigName"]
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved", 2), None)
    # SageMaker's auto-rollback: an alarm tripped while baking, traffic went back to the old fleet.
    registry.backend.endpoints[ENDPOINT].endpoint_config_name = old_config

    first = serving.handler(endpoint_state_change(), None)
    again = serving.handler(endpoint_state_change(), None)
    duplicate_approval = serving.handler(load_event("model_package_approved", 2), None)

    assert first["action"] == "alerted" and first["version"] == 2
    assert [again["action"], duplicate_approval["action"]] == ["none", "none"]
    assert len(updates) == 1  # the rolled-back version is not deployed again by itself
    assert served_containers() == served_model(1)
    [alert] = registry.alerts()
    assert alert.startswith(f"Endpoint {ENDPOINT}: the deployment was rolled back: version 2 (scoreline-serving-v2-")
    assert alert.endswith(f"the endpoint serves {old_config}.")


def test_another_groups_event_is_ignored(serving, registry):
    decision = serving.handler(load_event("model_package_other_group"), None)

    assert decision["action"] == "ignored"
    assert boto3.client("sagemaker", region_name=REGION).list_endpoints()["Endpoints"] == []


def test_a_failed_endpoint_is_alerted_then_deleted_and_the_next_approval_creates_it(serving, registry):
    """DescribeEndpoint: "DeleteEndpoint is the only operation that can be performed on a failed endpoint"."""
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved"), None)
    registry.backend.endpoints[ENDPOINT].endpoint_status = "Failed"
    registry.backend.endpoints[ENDPOINT].failure_reason = "no capacity for ml.m5.large"

    decision = serving.handler(endpoint_state_change("FAILED"), None)

    assert decision["action"] == "deleted_failed_endpoint"
    assert boto3.client("sagemaker", region_name=REGION).list_endpoints()["Endpoints"] == []
    [alert] = registry.alerts()
    assert "endpoint is Failed" in alert and "SageMaker: no capacity for ml.m5.large" in alert
    registry.add_version("Approved")
    assert serving.handler(load_event("model_package_approved", 2), None)["action"] == "created_endpoint"


def test_an_approval_that_finds_a_failed_endpoint_deletes_it_and_asks_lambda_to_retry(serving, registry):
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved"), None)
    registry.backend.endpoints[ENDPOINT].endpoint_status = "Failed"
    registry.add_version("Approved")

    with pytest.raises(serving.RetryLater, match="is being deleted"):
        serving.handler(load_event("model_package_approved", 2), None)
    retried = serving.handler(load_event("model_package_approved", 2), None)  # Lambda's retry, once it is gone

    assert retried["action"] == "created_endpoint" and retried["version"] == 2


def test_a_new_instance_type_deregisters_autoscaling_first_and_registers_it_again(
    serving, registry, updates, monkeypatch
):
    """ "Update endpoints that use auto scaling": changing the instance type of an autoscaled variant fails unless it
    is deregistered first (the local patch refuses such an update, as SageMaker does)."""
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved"), None)
    serving.handler(endpoint_state_change(), None)  # serving: autoscaling registered
    monkeypatch.setenv("SERVING_INSTANCE_TYPE", "ml.c5.xlarge")
    registry.add_version("Approved")

    decision = serving.handler(load_event("model_package_approved", 2), None)

    assert decision["action"] == "updated_endpoint"
    [update] = updates
    assert update["RetainAllVariantProperties"] is False  # the new configuration's type and count
    autoscaling = boto3.client("application-autoscaling", region_name=REGION)
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    serving.handler(endpoint_state_change(), None)
    assert len(autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]) == 1


def test_the_stacks_deletion_removes_everything_the_function_created(serving, registry, cloudformation_response):
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved"), None)
    serving.handler(endpoint_state_change(), None)
    registry.add_version("Approved")
    serving.handler(load_event("model_package_approved", 2), None)  # a rollout: two configurations, alarms

    answer = serving.handler(cloudformation_response.event("Delete"), None)

    assert answer["Status"] == "SUCCESS" and cloudformation_response.received() == answer
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []
    assert boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"] == []
    autoscaling = boto3.client("application-autoscaling", region_name=REGION)
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []


def test_creating_the_stack_changes_nothing_and_is_answered(serving, registry, cloudformation_response):
    answer = serving.handler(cloudformation_response.event("Create"), None)

    assert (answer["Status"], cloudformation_response.received()) == ("SUCCESS", answer)


def test_the_function_reads_exactly_the_settings_the_serving_stack_passes(serving):
    assert variables_the_stack_passes("serving") == serving.ENVIRONMENT  # its copy of scoreline/names.py's table
