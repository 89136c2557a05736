"""What moto's SageMaker stand-in lacks for local mode: jobs and pipeline executions that start InProgress and
are handed to local runners, events on model package changes, step listings and failure reasons.

moto's server runs in this process, so patching its backend class reaches both the AWS CLI's requests and
boto3's. The patches call a listener (the local cloud) after moto has stored the request."""

from __future__ import annotations

import functools
from typing import Any, Protocol

from moto.core.responses import ActionResult
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from local_mode.moto_additions import add_stop_transform_job


class Listener(Protocol):
    def job_created(self, kind: str, name: str) -> None: ...

    def execution_started(self, execution_arn: str) -> None: ...

    def model_package_changed(self, arn: str, approval_status: str) -> None: ...

    def execution_steps(self, execution_arn: str) -> list[dict[str, Any]]: ...

    def object_created(self, bucket: str, key: Any) -> None: ...


_listener: Listener | None = None
_JOB_STATUS = {
    "processing": "processing_job_status",
    "training": "training_job_status",
    "transform": "transform_job_status",
}


def set_listener(listener: Listener | None) -> None:
    global _listener
    _listener = listener


def _after(method_name: str, notify):
    original = getattr(SageMakerModelBackend, method_name)

    @functools.wraps(original)
    def wrapper(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if _listener is not None:
            notify(self, result, _listener)
        return result

    setattr(SageMakerModelBackend, method_name, wrapper)


def _keep_metric_definitions(original):
    """moto replaces a training job's metric definitions with its own sample; keep the request's."""

    @functools.wraps(original)
    def create_training_job(self, *args, **kwargs):
        requested = list((kwargs.get("algorithm_specification") or {}).get("MetricDefinitions", []))
        job = original(self, *args, **kwargs)
        job.algorithm_specification["MetricDefinitions"] = requested
        return job

    return create_training_job


def _job_started(kind: str):
    def notify(backend: SageMakerModelBackend, job: Any, listener: Listener) -> None:
        setattr(job, _JOB_STATUS[kind], "InProgress")
        if kind == "training":
            job.secondary_status = "Starting"
            job.final_metric_data_list = []
        name = getattr(job, f"{kind}_job_name")
        listener.job_created(kind, name)

    return notify


def _execution_started(backend: SageMakerModelBackend, result: dict, listener: Listener) -> None:
    listener.execution_started(result["PipelineExecutionArn"])


def _package_changed(backend: SageMakerModelBackend, arn: str, listener: Listener) -> None:
    listener.model_package_changed(arn, backend.model_packages[arn].model_approval_status)


def _describe_execution_with_reason(original):
    @functools.wraps(original)
    def describe(self, pipeline_execution_arn: str) -> dict:
        response = original(self, pipeline_execution_arn)
        execution = _execution(self, pipeline_execution_arn)
        if execution is not None and execution.pipeline_execution_failure_reason:
            response["FailureReason"] = execution.pipeline_execution_failure_reason
        return response

    return describe


def _execution(backend: SageMakerModelBackend, execution_arn: str):
    for pipeline in backend.pipelines.values():
        if execution_arn in pipeline.pipeline_executions:
            return pipeline.pipeline_executions[execution_arn]
    return None


def _list_pipeline_execution_steps(self: SageMakerResponse) -> ActionResult:
    steps = _listener.execution_steps(self._get_param("PipelineExecutionArn")) if _listener else []
    if self._get_param("SortOrder", "Descending") == "Ascending":
        steps = list(reversed(steps))
    return ActionResult({"PipelineExecutionSteps": steps})


def _send_object_created_events() -> None:
    """S3 sends "Object Created" to EventBridge for every new object of a bucket whose notification configuration
    has EventBridgeConfiguration (S3, "Using EventBridge"); moto's PutObject (also behind copies and multipart
    completions) tells the listener, which emits the event through the deployed rules."""
    from moto.s3.models import S3Backend

    original = S3Backend.put_object

    @functools.wraps(original)
    def put_object(self, bucket_name: str, key_name: str, *args, **kwargs):
        key = original(self, bucket_name, key_name, *args, **kwargs)
        configuration = self.get_bucket(bucket_name).notification_configuration
        if _listener is not None and configuration is not None and configuration.event_bridge is not None:
            _listener.object_created(bucket_name, key)
        return key

    S3Backend.put_object = put_object


@functools.cache
def install() -> None:
    """Patch moto once per process; `set_listener` chooses who hears about new work."""
    add_stop_transform_job()
    SageMakerModelBackend.create_training_job = _keep_metric_definitions(SageMakerModelBackend.create_training_job)
    for kind in _JOB_STATUS:
        _after(f"create_{kind}_job", _job_started(kind))
    _after("start_pipeline_execution", _execution_started)
    _after("create_model_package", _package_changed)
    _after("update_model_package", _package_changed)
    SageMakerModelBackend.describe_pipeline_execution = _describe_execution_with_reason(
        SageMakerModelBackend.describe_pipeline_execution
    )
    SageMakerResponse.list_pipeline_execution_steps = _list_pipeline_execution_steps
    _send_object_created_events()


def backend(account: str, region: str) -> SageMakerModelBackend:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account][region]


def find_execution(account: str, region: str, execution_arn: str):
    return _execution(backend(account, region), execution_arn)
