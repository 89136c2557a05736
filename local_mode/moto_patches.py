"""Every change local mode makes to moto 5.2.5, in one idiom: `@replaces(Class, "method")` names the moto method a
function replaces; the function receives the original method (None when moto lacks it) and the moto object, then the
call's arguments. `install()` applies them all once per process; patching the classes reaches both `mock_aws()` and a
ThreadedMotoServer in the same process, so the AWS CLI's requests and boto3's meet the same behaviour.

What the patches add: jobs and pipeline executions start InProgress and are handed to the local cloud, model package
changes and new objects of EventBridge-enabled buckets become events, StopTransformJob, ListPipelineExecutionSteps,
an execution's FailureReason, the request's training metric definitions and a model's EnableNetworkIsolation;
UpdateEndpoint, endpoints that load their model in the background, and InvokeEndpoint answered by the loaded model;
DescribeStacks answered with the deployed app's stacks and their outputs (what the README's commands query).

Who hears about new work is an attribute the local cloud sets on the moto backends it serves (moto keeps one backend
per account and region): `listener` (the SageMaker provider; the event bus for S3) and, on the SageMaker backend,
`local_endpoints`; the CloudFormation backend's `deployed_stacks`; no module state decides who is notified.
Without them the patched methods behave as moto's.

LIMITATIONS: only the moto behaviour this app needs is changed; everything else is moto's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from moto.applicationautoscaling.models import ApplicationAutoscalingBackend, applicationautoscaling_backends
from moto.cloudformation.exceptions import ValidationError as StackNotFound
from moto.cloudformation.models import CloudFormationBackend
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.s3.models import S3Backend
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeTransformJob, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse


class Listener(Protocol):
    def job_created(self, kind: str, name: str) -> None: ...

    def tuning_job_created(self, name: str) -> None: ...

    def execution_started(self, execution_arn: str) -> None: ...

    def model_package_changed(self, arn: str, approval_status: str) -> None: ...

    def execution_steps(self, execution_arn: str) -> list[dict[str, Any]]: ...

    def object_created(self, bucket: str, key: Any) -> None: ...


_PATCHES: list[tuple[type, str, Callable]] = []
_INSTALLED: set[tuple[type, str]] = set()


def replaces(cls: type, method_name: str):
    """Register `function(original, self, *args, **kwargs)` as `cls.method_name`."""

    def register(function: Callable) -> Callable:
        _PATCHES.append((cls, method_name, function))
        return function

    return register


def install(*only: str) -> None:
    """Apply every patch (or those of the methods named in `only`, say "stop_transform_job" for the functions' tests
    with `mock_aws()`) once per process."""
    for cls, name, function in _PATCHES:
        if (cls, name) in _INSTALLED or (only and name not in only):
            continue
        original = getattr(cls, name, None)

        def method(self, *args, _function=function, _original=original, **kwargs):
            return _function(_original, self, *args, **kwargs)

        method.__name__ = name
        method.__doc__ = function.__doc__
        setattr(cls, name, method)
        _INSTALLED.add((cls, name))


def listener_of(backend: Any) -> Listener | None:
    return getattr(backend, "listener", None)


def find_execution(backend: SageMakerModelBackend, execution_arn: str):
    for pipeline in backend.pipelines.values():
        if execution_arn in pipeline.pipeline_executions:
            return pipeline.pipeline_executions[execution_arn]
    return None


# Jobs start InProgress and run on the local cloud (moto would call them Completed at once) -------------------------
@replaces(SageMakerModelBackend, "create_processing_job")
def _create_processing_job(original, backend, *args, **kwargs):
    job = original(backend, *args, **kwargs)
    if listener_of(backend) is not None:
        job.processing_job_status = "InProgress"
        listener_of(backend).job_created("processing", job.processing_job_name)
    return job


@replaces(SageMakerModelBackend, "create_training_job")
def _create_training_job(original, backend, *args, **kwargs):
    """moto replaces a training job's metric definitions with its own sample; keep the request's."""
    requested = list((kwargs.get("algorithm_specification") or {}).get("MetricDefinitions", []))
    job = original(backend, *args, **kwargs)
    job.algorithm_specification["MetricDefinitions"] = requested
    if listener_of(backend) is not None:
        job.training_job_status, job.secondary_status, job.final_metric_data_list = "InProgress", "Starting", []
        listener_of(backend).job_created("training", job.training_job_name)
    return job


@replaces(SageMakerModelBackend, "create_hyper_parameter_tuning_job")
def _create_hyper_parameter_tuning_job(original, backend, *args, **kwargs):
    """moto calls a new tuning job Completed with a sample best job; the local cloud runs its trials. What SageMaker
    refuses at the call is refused here too (local_mode/sagemaker/tuning.py)."""
    from local_mode.sagemaker.tuning import invalid_request

    problem = invalid_request(kwargs["hyper_parameter_tuning_job_name"], kwargs["hyper_parameter_tuning_job_config"])
    if problem:
        raise ValidationError(message=problem)
    arn = original(backend, *args, **kwargs)
    if listener_of(backend) is not None:
        job = backend.hyper_parameter_tuning_jobs[kwargs["hyper_parameter_tuning_job_name"]]
        job.hyper_parameter_tuning_job_status, job.hyper_parameter_tuning_end_time = "InProgress", None
        job.best_training_job = job.OverallBestTrainingJob = None
        job.local_trials = []
        listener_of(backend).tuning_job_created(job.hyper_parameter_tuning_job_name)
    return arn


@replaces(SageMakerResponse, "list_training_jobs_for_hyper_parameter_tuning_job")
def _list_training_jobs_for_hyper_parameter_tuning_job(original, response) -> ActionResult:
    """moto 5.2.5 lacks it: a tuning job's trials, sorted by SortBy (default Name) in SortOrder (default Ascending);
    by FinalObjectiveMetricValue only the trials that returned the objective are listed (API reference,
    ListTrainingJobsForHyperParameterTuningJob). Up to MaxResults (default 10); no NextToken paging."""
    from local_mode.sagemaker.tuning import ranked

    name = response._get_param("HyperParameterTuningJobName")
    job = response.sagemaker_backend.hyper_parameter_tuning_jobs.get(name)
    if job is None:
        raise ValidationError(message=f"Could not find hyper parameter tuning job '{name}'.")
    trials = list(getattr(job, "local_trials", []))
    sort_by, order = response._get_param("SortBy", "Name"), response._get_param("SortOrder", "Ascending")
    if sort_by == "FinalObjectiveMetricValue":
        trials = ranked(trials, "Minimize")  # those with an objective, by ascending value
    else:
        field = {"Name": "TrainingJobName", "CreationTime": "CreationTime", "Status": "TrainingJobStatus"}[sort_by]
        trials = sorted(trials, key=lambda trial: trial[field])
    if order == "Descending":
        trials.reverse()
    return ActionResult({"TrainingJobSummaries": trials[: response._get_int_param("MaxResults", 10)]})


@replaces(SageMakerModelBackend, "create_transform_job")
def _create_transform_job(original, backend, *args, **kwargs):
    job = original(backend, *args, **kwargs)
    if listener_of(backend) is not None:
        job.transform_job_status = "InProgress"
        listener_of(backend).job_created("transform", job.transform_job_name)
    return job


@replaces(SageMakerModelBackend, "stop_transform_job")
def _stop_transform_job(original, backend, transform_job_name: str) -> None:
    """moto 5.2.5 lacks StopTransformJob; a finished job keeps its final status."""
    job = backend.transform_jobs.get(transform_job_name)
    if job is None:
        arn = FakeTransformJob.arn_formatter(transform_job_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find transform job '{arn}'.")
    if job.transform_job_status in ("InProgress", "Stopping"):
        job.transform_job_status = "Stopped"
        job.transform_end_time = job.last_modified_time = utcnow()


@replaces(SageMakerResponse, "stop_transform_job")
def _stop_transform_job_response(original, response):
    response.sagemaker_backend.stop_transform_job(response._get_param("TransformJobName"))
    return EmptyResult()


@replaces(SageMakerResponse, "create_model")
def _create_model(original, response):
    """moto 5.2.5 drops CreateModel's EnableNetworkIsolation (its model always says False): keep the request's value,
    so DescribeModel returns it as AWS does and transform jobs can honour it."""
    result = original(response)
    model = response.sagemaker_backend._models[response._get_param("ModelName")]
    model.enable_network_isolation = bool(response._get_param("EnableNetworkIsolation", False))
    return result


# Pipelines and the model registry ---------------------------------------------------------------------------------
@replaces(SageMakerModelBackend, "start_pipeline_execution")
def _start_pipeline_execution(original, backend, *args, **kwargs):
    result = original(backend, *args, **kwargs)
    if listener_of(backend) is not None:
        listener_of(backend).execution_started(result["PipelineExecutionArn"])
    return result


@replaces(SageMakerModelBackend, "describe_pipeline_execution")
def _describe_pipeline_execution(original, backend, pipeline_execution_arn: str) -> dict:
    response = original(backend, pipeline_execution_arn)
    execution = find_execution(backend, pipeline_execution_arn)
    if execution is not None and execution.pipeline_execution_failure_reason:
        response["FailureReason"] = execution.pipeline_execution_failure_reason
    return response


@replaces(SageMakerResponse, "list_pipeline_execution_steps")
def _list_pipeline_execution_steps(original, response) -> ActionResult:
    listener = listener_of(response.sagemaker_backend)
    steps = listener.execution_steps(response._get_param("PipelineExecutionArn")) if listener else []
    if response._get_param("SortOrder", "Descending") == "Ascending":
        steps = list(reversed(steps))
    return ActionResult({"PipelineExecutionSteps": steps})


def _package_changed(backend: SageMakerModelBackend, arn: str) -> str:
    if listener_of(backend) is not None:
        listener_of(backend).model_package_changed(arn, backend.model_packages[arn].model_approval_status)
    return arn


@replaces(SageMakerModelBackend, "create_model_package")
def _create_model_package(original, backend, *args, **kwargs):
    return _package_changed(backend, original(backend, *args, **kwargs))


@replaces(SageMakerModelBackend, "update_model_package")
def _update_model_package(original, backend, *args, **kwargs):
    return _package_changed(backend, original(backend, *args, **kwargs))


# S3 ---------------------------------------------------------------------------------------------------------------
@replaces(S3Backend, "put_object")
def _put_object(original, backend, bucket_name: str, key_name: str, *args, **kwargs):
    """S3 sends "Object Created" to EventBridge for every new object of a bucket whose notification configuration
    has EventBridgeConfiguration (S3, "Using EventBridge"); PutObject is also behind copies and multipart
    completions."""
    key = original(backend, bucket_name, key_name, *args, **kwargs)
    configuration = backend.get_bucket(bucket_name).notification_configuration
    listener = listener_of(backend)
    if listener is not None and configuration is not None and configuration.event_bridge is not None:
        listener.object_created(bucket_name, key)
    return key


# Real-time endpoints ----------------------------------------------------------------------------------------------
# UpdateEndpoint of an endpoint in progress: AWS answers ValidationException "Cannot update in-progress endpoint".
# DescribeEndpoint EndpointStatus: "Failed: ... DeleteEndpoint is the only operation that can be performed on a failed
# endpoint": updates, re-scaling and tagging of a Failed endpoint are refused (the reads are not operations on it).


def _refuse_if_failed(backend: SageMakerModelBackend, endpoint_name: str) -> None:
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is not None and endpoint.endpoint_status == "Failed":
        raise ValidationError(
            message=f"Endpoint {endpoint.arn} is Failed: DeleteEndpoint is the only operation on a failed endpoint."
        )


def _endpoint_name_of(arn: str) -> str | None:
    return arn.split(":endpoint/", 1)[1] if ":endpoint/" in arn else None


@replaces(SageMakerModelBackend, "add_tags")
def _add_tags(original, backend, arn: str, tags):
    _refuse_if_failed(backend, _endpoint_name_of(arn) or "")
    return original(backend, arn, tags)


@replaces(SageMakerModelBackend, "delete_tags")
def _delete_tags(original, backend, arn: str, tag_keys):
    _refuse_if_failed(backend, _endpoint_name_of(arn) or "")
    return original(backend, arn, tag_keys)


@replaces(SageMakerModelBackend, "update_endpoint_weights_and_capacities")
def _update_weights_and_capacities(original, backend, endpoint_name: str, *args, **kwargs):
    _refuse_if_failed(backend, endpoint_name)
    return original(backend, endpoint_name, *args, **kwargs)


@replaces(SageMakerModelBackend, "delete_endpoint")
def _delete_endpoint(original, backend, endpoint_name: str) -> None:
    """The local endpoint stops serving with it (DeleteEndpoint takes minutes on AWS, Deleting; here it is at once)."""
    original(backend, endpoint_name)
    endpoints = getattr(backend, "local_endpoints", None)
    if endpoints is not None:
        endpoints.forget(endpoint_name)


def _loads_in_background(backend: SageMakerModelBackend, endpoint: FakeEndpoint, status: str) -> FakeEndpoint:
    """With local endpoints, a new or updated endpoint is Creating or Updating until its model has loaded."""
    endpoints = getattr(backend, "local_endpoints", None)
    if endpoints is not None:
        endpoint.endpoint_status = status
        endpoints.run_later(endpoints.deployed, endpoint.endpoint_name)
    return endpoint


@replaces(SageMakerModelBackend, "create_endpoint")
def _create_endpoint(original, backend, *args, **kwargs):
    return _loads_in_background(backend, original(backend, *args, **kwargs), "Creating")


@replaces(SageMakerModelBackend, "update_endpoint")
def _update_endpoint(original, backend, endpoint_name: str, endpoint_config_name: str, deployment_config) -> Any:
    """moto 5.2.5 lacks UpdateEndpoint: the new configuration, and the DeploymentConfig it was given, as
    DescribeEndpoint returns it (LastDeploymentConfig)."""
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    _refuse_if_failed(backend, endpoint_name)
    if endpoint.endpoint_status != "InService":
        raise ValidationError(message=f"Cannot update in-progress endpoint '{endpoint.arn}'.")
    config = backend.describe_endpoint_config(endpoint_config_name)  # ValidationError when it does not exist
    _refuse_new_instance_type_while_autoscaled(backend, endpoint, config)
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
    endpoint.last_deployment_config = deployment_config
    endpoint.endpoint_status = "InService"
    endpoint.last_modified_time = utcnow()
    return _loads_in_background(backend, endpoint, "Updating")


def _refuse_new_instance_type_while_autoscaled(backend, endpoint: FakeEndpoint, config: dict) -> None:
    """ "Update endpoints that use auto scaling": "If the update would change the instance type for any model that is
    a target for auto scaling, the update fails": deregister the variant as a scalable target first."""
    current = backend.describe_endpoint_config(endpoint.endpoint_config_name)["ProductionVariants"]
    types = {variant["VariantName"]: variant["InstanceType"] for variant in current}
    scaling = applicationautoscaling_backends[backend.account_id][backend.region_name]
    registered = scaling.targets.get("sagemaker:variant:DesiredInstanceCount", {})
    for variant in config["ProductionVariants"]:
        resource_id = f"endpoint/{endpoint.endpoint_name}/variant/{variant['VariantName']}"
        if resource_id in registered and types.get(variant["VariantName"]) != variant["InstanceType"]:
            raise ValidationError(
                message=f"The update would change the instance type of variant {variant['VariantName']}, a target for"
                " auto scaling: deregister it as a scalable target first."
            )


@replaces(SageMakerResponse, "update_endpoint")
def _update_endpoint_response(original, response) -> ActionResult:
    endpoint = response.sagemaker_backend.update_endpoint(
        response._get_param("EndpointName"),
        response._get_param("EndpointConfigName"),
        response._get_param("DeploymentConfig"),
    )
    return ActionResult({"EndpointArn": endpoint.arn})


@replaces(SageMakerRuntimeResponse, "invoke_endpoint")
def _invoke_endpoint(original, response):
    """InvokeEndpoint answered by the local endpoint (moto's returns canned data), for the AWS CLI and SDKs."""
    endpoints = getattr(sagemaker_backends[response.current_account][response.region], "local_endpoints", None)
    if endpoints is None:
        return original(response)
    answer = endpoints.invoke(
        # raw_body: the request's bytes (moto decodes `body` to text, which would break npy bodies)
        response.path.split("/")[2],
        response.raw_body or b"",
        response.headers.get("Content-Type") or "",
        response.headers.get("Accept") or "text/csv",
    )
    headers = {"Content-Type": answer.content_type, "status": answer.status}  # moto reads the status here
    if answer.status != 200:
        headers["x-amzn-ErrorType"] = "ModelError" if answer.status == 424 else answer.json().get("__type", "")
    return answer.status, headers, answer.body


@replaces(CloudFormationBackend, "describe_stacks")
def _describe_deployed_stacks(original, backend, name_or_stack_id: str):
    """The local deploy creates no moto stacks (it creates the resources itself); DescribeStacks answers with what it
    deployed, so `aws cloudformation describe-stacks --query ...Outputs...` works here as on AWS."""
    stacks = getattr(backend, "deployed_stacks", None)
    if stacks is None:
        return original(backend, name_or_stack_id)
    if not name_or_stack_id:
        return list(stacks)
    found = [stack for stack in stacks if name_or_stack_id in (stack.stack_name, stack.stack_id)]
    if not found:
        raise StackNotFound(name_or_stack_id)  # "Stack with id X does not exist", as CloudFormation says
    return found


@replaces(CloudFormationBackend, "delete_stack")
def _delete_deployed_stack(original, backend, name_or_stack_id: str) -> None:
    """DeleteStack of a locally deployed stack: the local cloud deletes it (cloudformation/stack_operations.py); a
    failure shows as DELETE_FAILED with its reason in DescribeStacks, as on AWS."""
    delete = getattr(backend, "delete_deployed_stack", None)
    if delete is None:
        return original(backend, name_or_stack_id)
    delete(name_or_stack_id)


@replaces(ApplicationAutoscalingBackend, "deregister_scalable_target")
def _deregister_scalable_target(original, backend, namespace: str, resource_id: str, dimension: str) -> None:
    """As Application Auto Scaling does (moto 5.2.5 keeps the policies and answers ValidationException): an unknown
    target is ObjectNotFoundException ("For any operation that deletes or deregisters a resource, this exception is
    thrown if the resource cannot be found"), and "Deregistering a scalable target deletes the scaling policies ...
    associated with it" (DeregisterScalableTarget), with their target-tracking alarms."""
    if not backend._scalable_target_exists(resource_id, dimension):
        raise JsonRESTError(
            "ObjectNotFoundException",
            f"No scalable target registered for service namespace: {namespace}, resource ID: {resource_id},"
            f" scalable dimension: {dimension}",
        )
    for key, policy in list(backend.policies.items()):
        if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (
            namespace,
            resource_id,
            dimension,
        ):
            policy.delete_alarms(backend.account_id, backend.region_name)
            del backend.policies[key]
    original(backend, namespace, resource_id, dimension)
