"""SageMaker: the work moto only records. moto_patches.py hands new jobs, pipeline executions, model package changes
and endpoints to this provider (the SageMaker backend's `listener`); it runs jobs (local_mode/sagemaker/jobs.py,
transform.py), tuning jobs (tuning.py) and pipeline executions (pipelines.py) on worker threads, writes their
outcome into moto's objects and puts SageMaker's state change events on the event bus, as SageMaker sends them to
EventBridge.

SageMaker assumes a job's role (its trust policy, with the job as aws:SourceArn) and the job reads and writes S3 with
it; a pipeline execution runs with the pipeline's role, which starts the jobs, registers versions and invokes the
Lambda steps' functions.

LIMITATIONS: two jobs and four pipeline executions run at a time; a job's scripts inherit this process's
environment variables other than AWS_* ones; a role that SageMaker cannot assume fails
the job when it runs, where AWS refuses the CreateX call; StopProcessingJob and StopTrainingJob are moto's (they do
not stop the local work); see jobs.py, pipelines.py, transform.py and endpoints.py for each kind of work."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.sagemaker.models import SageMakerModelBackend

from local_mode.clients import Clients
from local_mode.events.bus import EventBus, _guarded
from local_mode.iam.evaluator import AccessDenied, Authorizer, Request
from local_mode.model import Deployment
from local_mode.moto_patches import find_execution
from local_mode.sagemaker import tuning
from local_mode.sagemaker.endpoints import LocalEndpoints
from local_mode.sagemaker.jobs import JobResult, run_processing, run_training
from local_mode.sagemaker.model_server import HandlerFailed
from local_mode.sagemaker.pipelines import PipelineRun, StepCache, StepFailed
from local_mode.sagemaker.transform import NetworkIsolationError, run_transform, serve_model
from local_mode.sagemaker.workspace import Workspace
from local_mode.store import LocalStore
from scoreline.names import SERVING

log = logging.getLogger("local_mode")


class SageMaker:
    def __init__(
        self,
        backend: SageMakerModelBackend,
        bus: EventBus,
        store: LocalStore,
        clients: Clients,
        authorizer: Authorizer,
        deployment: Deployment,
        home: Path,
    ):
        self._backend, self._bus, self._store = backend, bus, store
        self._clients, self._authorizer, self._deployment, self._home = clients, authorizer, deployment, home
        self._jobs = ThreadPoolExecutor(max_workers=2, thread_name_prefix="local-job")
        self._executions = ThreadPoolExecutor(max_workers=4, thread_name_prefix="local-pipeline")
        self.endpoints = self._real_time_endpoints()

    def _real_time_endpoints(self) -> LocalEndpoints | None:
        """Endpoints served in this process when the app has the serving stack (realtime=true): CreateEndpoint and
        UpdateEndpoint load the model in the background, then send "SageMaker Endpoint State Change"."""
        if not any(SERVING["endpoint_name"] in f.environment for f in self._deployment.functions.values()):
            return None
        return LocalEndpoints(
            self._home / "endpoints",
            self._clients.client("sagemaker"),
            self._backend,
            self._endpoint_event,
            self._bus.later,
            # CreateModel ExecutionRoleArn: "the IAM role that SageMaker can assume to access model artifacts".
            s3_for_role=lambda role_arn: self._clients.client("s3", role_arn),
        )

    def stop(self) -> None:
        for pool in (self._executions, self._jobs):
            pool.shutdown(wait=False, cancel_futures=True)

    # moto_patches.Listener ----------------------------------------------------------------------------------------
    def job_created(self, kind: str, name: str) -> None:
        self._jobs.submit(_guarded, self._run_job, _JOBS[kind], name)

    def tuning_job_created(self, name: str) -> None:
        """A tuning job waits for its trials, which run on the job workers: it runs beside the pipeline executions."""
        self._executions.submit(_guarded, self._run_tuning, name)

    def execution_started(self, execution_arn: str) -> None:
        find_execution(self._backend, execution_arn).pipeline_execution_status = "Executing"
        self._executions.submit(_guarded, self._run_execution, execution_arn)

    def model_package_changed(self, arn: str, approval_status: str) -> None:
        """A new version, or a new approval status: updating a version to the status it has is no change."""
        if self._store.approvals_seen.get(arn) != approval_status:
            self._store.approvals_seen[arn] = approval_status
            self._bus.later(self._model_package_event, arn)

    def execution_steps(self, execution_arn: str) -> list[dict]:
        run = self._store.runs.get(execution_arn)
        return [step.as_api() for step in run.steps] if run else []

    # Jobs ---------------------------------------------------------------------------------------------------------
    def _run_job(self, kind: _JobKind, name: str) -> None:
        job = kind.stored(self._backend)[name]
        request = kind.describe(self._clients.client("sagemaker"), name)
        role = request.get("RoleArn")  # processing and training scripts; a transform runs in this process
        workspace = Workspace(
            self._home / "jobs" / kind.name / name,
            self._home / "logs" / kind.name / f"{name}.log",
            self._clients.environment(role) if role else {},
        )
        if kind.name == "training":
            job.secondary_status = "Training"
        try:
            result = kind.run(self, request, workspace, job)
        except Exception as error:  # a job that cannot even start fails with the reason, like in AWS
            result = JobResult(f"{type(error).__name__}: {error}")
            log.debug("job %s failed", name, exc_info=True)
        if getattr(job, kind.status_field) != "Stopped":  # a stopped job keeps its status
            setattr(job, kind.status_field, "Failed" if result.failure_reason else "Completed")
        if result.failure_reason:
            job.failure_reason = result.failure_reason
        if result.exit_message:
            job.exit_message = result.exit_message  # moto's DescribeProcessingJob returns it as ExitMessage
        if kind.name == "training":
            now = datetime.now(UTC)
            job.final_metric_data_list = [
                {"MetricName": metric, "Value": value, "Timestamp": now} for metric, value in result.metrics.items()
            ]
            job.secondary_status = job.training_job_status
        job.last_modified_time = datetime.now(UTC)
        setattr(job, kind.end_time_field, job.last_modified_time)
        self._bus.later(self._job_event, kind, name)

    def _run_tuning(self, name: str) -> None:
        """SageMaker's tuning service starts the trials (training jobs with the definition's role, which each job
        assumes when it runs, as any training job does)."""
        tuning.run(self._backend.hyper_parameter_tuning_jobs[name], self._clients.client("sagemaker"))

    def _job_clients(self, role_arn: str, job_arn: str):
        """SageMaker assumes the job's role (its trust policy, with the job as aws:SourceArn) and the job reads and
        writes S3 with it."""
        self._authorizer.assume(role_arn, "sagemaker.amazonaws.com", job_arn)
        return self._clients.client("s3", role_arn)

    def _run_processing(self, request: dict, workspace: Workspace, job) -> JobResult:
        return run_processing(request, workspace, self._job_clients(request["RoleArn"], request["ProcessingJobArn"]))

    def _run_training(self, request: dict, workspace: Workspace, job) -> JobResult:
        return run_training(request, workspace, self._job_clients(request["RoleArn"], request["TrainingJobArn"]))

    def _run_transform(self, request: dict, workspace: Workspace, job) -> JobResult:
        model = self._clients.client("sagemaker").describe_model(ModelName=request["ModelName"])
        s3 = self._job_clients(model["ExecutionRoleArn"], request["TransformJobArn"])
        try:
            with serve_model(model, workspace, s3) as containers:
                records = run_transform(request, containers, lambda: job.transform_job_status == "Stopped", s3)
        except (NetworkIsolationError, HandlerFailed) as refusal:
            return JobResult(str(refusal))  # the job fails with this reason, as it would on AWS
        with workspace.log_file.open("a") as log_stream:
            workers = ", ".join(f"{server.name}: {server.workers} workers" for server in containers)
            in_flight = request.get("MaxConcurrentTransforms") or 1
            log_stream.write(f"scored {records} records ({workers}; {in_flight} requests in flight)\n")
        return JobResult()

    # Pipeline executions ------------------------------------------------------------------------------------------
    def _run_execution(self, execution_arn: str) -> None:
        execution = find_execution(self._backend, execution_arn)
        pipeline_name = execution_arn.split(":pipeline/", 1)[1].split("/", 1)[0]
        cache = self._store.step_caches.setdefault(pipeline_name, StepCache())
        definition = json.loads(execution.pipeline_definition_for_execution)
        role = self._clients.client("sagemaker").describe_pipeline(PipelineName=pipeline_name)["RoleArn"]
        run = PipelineRun(
            execution_arn,
            definition,
            execution.pipeline_parameters,
            cache,
            invoke=functools.partial(self._invoke_for_pipeline, role),
            sagemaker=self._clients.client("sagemaker", role),
            s3=self._clients.client("s3", role),
        )
        self._store.runs[execution_arn] = run
        self._bus.later(self._execution_event, execution_arn, "Executing", "")
        try:
            # SageMaker runs the execution with the pipeline's role (its trust policy names the execution).
            self._authorizer.assume(role, "sagemaker.amazonaws.com", execution_arn)
            run.run()
            status = "Succeeded"
        except StepFailed as failure:
            status = "Failed"
            execution.pipeline_execution_failure_reason = f"Step {failure.step} failed: {failure.reason}"
        except AccessDenied as denial:
            status = "Failed"
            execution.pipeline_execution_failure_reason = str(denial)
        execution.pipeline_execution_status = status
        execution.last_modified_time = datetime.now(UTC)
        self._bus.later(self._execution_event, execution_arn, status, "Executing")

    def _invoke_for_pipeline(self, role_arn: str, function_arn: str, payload: dict, step_name: str) -> dict:
        """A pipeline's Lambda step: the pipeline role invokes the deployed function and gets its response."""
        function = self._deployment.functions.get(function_arn)
        if function is None:
            raise StepFailedError(f"no deployed function {function_arn}")
        try:
            self._authorizer.authorize(role_arn, Request("lambda:InvokeFunction", function_arn), "SageMaker")
        except AccessDenied as denial:
            raise StepFailedError(f"AccessDeniedException: {denial}") from None
        result, error = self._bus.functions.call(function, payload, f"pipeline step {step_name}")
        if error:
            raise StepFailedError(f"the function {function.name} failed: {error}")
        if not isinstance(result, dict):
            raise StepFailedError(f"the function {function.name} returned {type(result).__name__}, not a JSON object")
        return result

    # Events, as SageMaker sends them to EventBridge ---------------------------------------------------------------
    def _model_package_event(self, arn: str) -> None:
        detail = self._clients.client("sagemaker").describe_model_package(ModelPackageName=arn)
        detail.pop("ResponseMetadata", None)
        self._bus.put_event("aws.sagemaker", "SageMaker Model Package State Change", detail, [arn])

    def _job_event(self, kind: _JobKind, name: str) -> None:
        label = kind.name.capitalize()
        detail = kind.describe(self._clients.client("sagemaker"), name)
        detail.pop("ResponseMetadata", None)
        self._bus.put_event("aws.sagemaker", f"SageMaker {label} Job State Change", detail, [detail[f"{label}JobArn"]])

    def _execution_event(self, execution_arn: str, status: str, previous: str) -> None:
        pipeline_arn = execution_arn.split("/execution/", 1)[0]
        run = self._store.runs.get(execution_arn)
        detail = {
            "pipelineExecutionArn": execution_arn,
            "pipelineArn": pipeline_arn,
            "currentPipelineExecutionStatus": status,
            "previousPipelineExecutionStatus": previous,
            "executionStartTime": run.started if run else None,
        }
        self._bus.put_event(
            "aws.sagemaker",
            "SageMaker Model Building Pipeline Execution Status Change",
            detail,
            [pipeline_arn, execution_arn],
        )

    def _endpoint_event(self, endpoint_name: str, status: str) -> None:
        endpoint = self._clients.client("sagemaker").describe_endpoint(EndpointName=endpoint_name)
        detail = {
            "EndpointName": endpoint_name,
            "EndpointArn": endpoint["EndpointArn"],
            "EndpointConfigName": endpoint["EndpointConfigName"],
            "EndpointStatus": status,
        }
        self._bus.put_event("aws.sagemaker", "SageMaker Endpoint State Change", detail, [endpoint["EndpointArn"]])


@dataclass(frozen=True)
class _JobKind:
    """How the provider finds, describes and runs one kind of SageMaker job, and moto's names for its fields."""

    name: str
    stored: Callable[[SageMakerModelBackend], dict]
    describe: Callable[[Any, str], dict]
    run: Callable[[SageMaker, dict, Workspace, Any], JobResult]
    status_field: str
    end_time_field: str


_JOBS = {
    "processing": _JobKind(
        "processing",
        lambda backend: backend.processing_jobs,
        lambda sagemaker, name: sagemaker.describe_processing_job(ProcessingJobName=name),
        SageMaker._run_processing,
        "processing_job_status",
        "processing_end_time",
    ),
    "training": _JobKind(
        "training",
        lambda backend: backend.training_jobs,
        lambda sagemaker, name: sagemaker.describe_training_job(TrainingJobName=name),
        SageMaker._run_training,
        "training_job_status",
        "training_end_time",
    ),
    "transform": _JobKind(
        "transform",
        lambda backend: backend.transform_jobs,
        lambda sagemaker, name: sagemaker.describe_transform_job(TransformJobName=name),
        SageMaker._run_transform,
        "transform_job_status",
        "transform_end_time",
    ),
}


class StepFailedError(RuntimeError):
    """A Lambda step's invocation failed: the step fails with this message."""
