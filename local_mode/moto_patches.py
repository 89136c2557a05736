"""Every change local mode makes to moto 5.2.5, in one idiom: `@replaces(Class, "method")` names the moto method a
function replaces; the function receives the original method (None when moto lacks it) and the moto object, then the
call's arguments. `install()` applies them all once per process; patching the classes reaches both `mock_aws()` and a
ThreadedMotoServer in the same process, so the AWS CLI's requests and boto3's meet the same behaviour.

What the patches add: jobs and pipeline executions start InProgress and are handed to the local cloud, model package
changes and new objects of EventBridge-enabled buckets become events, StopTransformJob, ListPipelineExecutionSteps,
an execution's FailureReason, the request's training metric definitions and a model's EnableNetworkIsolation.

The local cloud that hears about new work is the `listener` attribute it sets on the moto backends it serves (moto
keeps one backend per account and region), so no module state decides who is notified.

LIMITATIONS: only the moto behaviour this app needs is changed; everything else is moto's own."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.s3.models import S3Backend
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeTransformJob, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse


class Listener(Protocol):
    def job_created(self, kind: str, name: str) -> None: ...

    def execution_started(self, execution_arn: str) -> None: ...

    def model_package_changed(self, arn: str, approval_status: str) -> None: ...

    def execution_steps(self, execution_arn: str) -> list[dict[str, Any]]: ...

    def object_created(self, bucket: str, key: Any) -> None: ...


_PATCHES: list[tuple[type, str, Callable]] = []


def replaces(cls: type, method_name: str):
    """Register `function(original, self, *args, **kwargs)` as `cls.method_name`."""

    def register(function: Callable) -> Callable:
        _PATCHES.append((cls, method_name, function))
        return function

    return register


@functools.cache
def install() -> None:
    for cls, name, function in _PATCHES:
        original = getattr(cls, name, None)

        def method(self, *args, _function=function, _original=original, **kwargs):
            return _function(_original, self, *args, **kwargs)

        method.__name__ = name
        method.__doc__ = function.__doc__
        setattr(cls, name, method)


def add_stop_transform_job() -> None:
    """StopTransformJob alone (the scoring function's tests use it with `mock_aws()`); `install` includes it."""
    for cls, name, function in _PATCHES:
        if name == "stop_transform_job" and not hasattr(cls, name):
            setattr(cls, name, lambda self, *args, _function=function, **kwargs: _function(None, self, *args, **kwargs))


def listener_of(backend: Any) -> Listener | None:
    return getattr(backend, "listener", None)


def find_execution(backend: SageMakerModelBackend, execution_arn: str):
    for pipeline in backend.pipelines.values():
        if execution_arn in pipeline.pipeline_executions:
            return pipeline.pipeline_executions[execution_arn]
    return None


# Jobs -------------------------------------------------------------------------------------------------------------
_JOB_STATUS = {"processing": "processing_job_status", "training": "training_job_status"}
_JOB_STATUS["transform"] = "transform_job_status"


def _job_started(kind: str, backend: SageMakerModelBackend, job: Any) -> Any:
    """Jobs start InProgress and run on the local cloud (moto would call them Completed at once)."""
    listener = listener_of(backend)
    if listener is not None:
        setattr(job, _JOB_STATUS[kind], "InProgress")
        if kind == "training":
            job.secondary_status = "Starting"
            job.final_metric_data_list = []
        listener.job_created(kind, getattr(job, f"{kind}_job_name"))
    return job


@replaces(SageMakerModelBackend, "create_processing_job")
def _create_processing_job(original, backend, *args, **kwargs):
    return _job_started("processing", backend, original(backend, *args, **kwargs))


@replaces(SageMakerModelBackend, "create_training_job")
def _create_training_job(original, backend, *args, **kwargs):
    """moto replaces a training job's metric definitions with its own sample; keep the request's."""
    requested = list((kwargs.get("algorithm_specification") or {}).get("MetricDefinitions", []))
    job = original(backend, *args, **kwargs)
    job.algorithm_specification["MetricDefinitions"] = requested
    return _job_started("training", backend, job)


@replaces(SageMakerModelBackend, "create_transform_job")
def _create_transform_job(original, backend, *args, **kwargs):
    return _job_started("transform", backend, original(backend, *args, **kwargs))


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
