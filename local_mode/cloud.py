"""The local cloud: moto's server on 127.0.0.1, the synthesized app deployed into it, and runners that do the
work AWS would do (jobs, pipeline executions, transforms, events, schedules).

Every request signed by a role (a function, a job, the pipeline, a schedule) is evaluated against the role's deployed
policies before moto sees it, and a refusal is AWS's AccessDenied in the service's error format (local_mode/iam.py,
local_mode/api_requests.py). Requests signed otherwise (you, the demo, the tests) act as the account's administrator.

LIMITATIONS: see local_mode/iam.py (what IAM evaluation leaves out), events.py (deliveries), jobs.py and serving.py
(the work), lambda_runtime.py (functions); a role that SageMaker cannot assume fails the job when it runs, where AWS
refuses the CreateX call."""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import secrets
import traceback
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from local_mode import moto_patches
from local_mode.iam.requests import access_denied_response, call_from_environ, requests_for
from local_mode.clients import Clients
from local_mode.cloudformation.deploy import Deployment, deploy
from local_mode.sagemaker.endpoints import LocalEndpoints, attach_endpoints, detach_endpoints
from local_mode.events.bus import EventBus, OneTimeSchedules, Scheduler
from local_mode.iam.evaluator import AccessDenied, Authorizer, Request
from local_mode.sagemaker.jobs import JobResult, Workspace, run_processing, run_training
from local_mode.lambda_.runtime import ExecutionEnvironment
from local_mode.sagemaker.pipelines import PipelineRun, StepCache, StepFailed
from local_mode.sagemaker.transform import NetworkIsolationError, load_container, run_transform

ACCOUNT = "123456789012"  # moto's default account
log = logging.getLogger("local_mode")


class LocalCloud:
    def __init__(self, home: Path, port: int = 0, region: str | None = None):
        self.home = home.resolve()  # job subprocesses run in their own folders: paths must be absolute
        self.region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self._port = port
        self._server: ThreadedMotoServer | None = None
        self._jobs = ThreadPoolExecutor(max_workers=2, thread_name_prefix="local-job")
        self._executions = ThreadPoolExecutor(max_workers=4, thread_name_prefix="local-pipeline")
        self._events = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-events")
        self._runs: dict[str, PipelineRun] = {}
        self._caches: dict[str, StepCache] = {}
        self._approval_seen: dict[str, str] = {}
        self.authorizer = Authorizer(ACCOUNT, self.region)
        self.clients: Clients | None = None
        self._environments: dict[str, ExecutionEnvironment] = {}
        self._scheduler: Scheduler | None = None
        self._one_time_schedules: OneTimeSchedules | None = None
        self.deployment: Deployment | None = None
        self.endpoints: LocalEndpoints | None = None
        self.bus: EventBus | None = None
        self.endpoint = ""
        self._saved_environment: dict[str, str | None] = {}

    # Lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> LocalCloud:
        moto_patches.install()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per API request
        self._server = _Server(self, ip_address="127.0.0.1", port=self._port, verbose=False)
        self._server.start()
        if self._server.start_error:
            raise OSError(self._server.start_error)
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # moto keeps its state per process: a new local cloud starts empty, like a new account.
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")).close()
        # Clients this process creates itself (the demo's, the tests') talk to the local cloud as its administrator;
        # functions run in their own processes with their own environments.
        local = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_PROFILE": None,
            "AWS_SESSION_TOKEN": None,
        }
        self._saved_environment = {key: os.environ.get(key) for key in local}
        _set_environment(local)
        self.clients = Clients(self.endpoint, self.region, self.authorizer.roles)
        self._listen(self)
        return self

    def _listen(self, listener: LocalCloud | None) -> None:
        """moto tells the local cloud about new work through its backends (local_mode/moto_patches.py)."""
        from moto.s3.models import s3_backends

        self._sagemaker_backend().listener = listener
        s3_backends[ACCOUNT]["global"].listener = listener

    def _sagemaker_backend(self):
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[ACCOUNT][self.region]

    def deploy(self, cdk_out: Path) -> Deployment:
        self.deployment = deploy(cdk_out, ACCOUNT, self.region)
        for function in self.deployment.functions.values():
            environment = ExecutionEnvironment(
                function.name,
                function.arn,
                function.code_dir,
                function.handler,
                self._function_environment(function),
                self.home / "logs" / "functions" / f"{function.name}.log",
            )
            environment.start()  # the init phase runs while the deploy goes on
            self._environments[function.arn] = environment
        self.bus = EventBus(self.deployment, self.home / "logs", self.authorizer, self.clients, self._environments)
        self.endpoints = self._real_time_endpoints()
        return self.deployment

    def _real_time_endpoints(self) -> LocalEndpoints | None:
        """Endpoints served in this process when the app has the serving stack (realtime=true): CreateEndpoint and
        UpdateEndpoint load the model in the background, then send "SageMaker Endpoint State Change"."""
        if not any("SERVING_ENDPOINT_NAME" in f.environment for f in self.deployment.functions.values()):
            return None
        return attach_endpoints(self.home / "endpoints", self._emit_later, self.bus.put_event)

    def real_time_endpoint_name(self) -> str:
        return self.deployment.environment_of_function_setting("SERVING_ENDPOINT_NAME")["SERVING_ENDPOINT_NAME"]

    def _function_environment(self, function) -> dict[str, str]:
        """Only what Lambda gives a function: its variables, the region, its role's credentials, its name."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            **self.clients.environment(function.role_arn),
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            **function.environment,
        }

    def start_schedules(self) -> None:
        self._scheduler = Scheduler(self.bus, self.deployment)
        self._scheduler.start()
        # One-time schedules are created at run time, e.g. by the retrain debounce function.
        self._one_time_schedules = OneTimeSchedules(self.bus, self.clients)
        self._one_time_schedules.start()

    def stop(self) -> None:
        self._listen(None)
        if self.endpoints:
            detach_endpoints()
        for environment in self._environments.values():
            environment.stop()
        for scheduler in (self._scheduler, self._one_time_schedules):
            if scheduler:
                scheduler.stop()
        for pool in (self._executions, self._jobs, self._events):
            pool.shutdown(wait=False, cancel_futures=True)
        if self._server:
            self._server.stop()
        _set_environment(self._saved_environment)

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # What users trigger besides the API --------------------------------------------------------------------
    def fire_schedule(self, name: str, scheduled_time: datetime | None = None) -> None:
        """Run a deployed schedule's target now, as if its scheduled time had come."""
        self.bus.fire_schedule(name, scheduled_time)

    def wait_for_events(self) -> None:
        """Block until every event emitted so far has been delivered."""
        self._events.submit(lambda: None).result()

    # moto_patches.Listener ------------------------------------------------------------------------------------
    def job_created(self, kind: str, name: str) -> None:
        self._jobs.submit(self._guarded, self._run_job, kind, name)

    def alarm(self, name: str, reason: str = "Threshold Crossed") -> None:
        """Put a deployed alarm into ALARM now: its actions are delivered as CloudWatch would."""
        self.bus.alarm(name, reason)

    def execution_started(self, execution_arn: str) -> None:
        execution = moto_patches.find_execution(self._sagemaker_backend(), execution_arn)
        execution.pipeline_execution_status = "Executing"
        self._executions.submit(self._guarded, self._run_execution, execution_arn)

    def model_package_changed(self, arn: str, approval_status: str) -> None:
        """A new version, or a new approval status: updating a version to the status it has is no change."""
        if self._approval_seen.get(arn) != approval_status:
            self._approval_seen[arn] = approval_status
            self._emit_later(self._model_package_event, arn)

    def execution_steps(self, execution_arn: str) -> list[dict]:
        run = self._runs.get(execution_arn)
        return [step.as_api() for step in run.steps] if run else []

    def object_created(self, bucket: str, key) -> None:
        self._emit_later(self._object_created_event, bucket, key.name, key.etag, key.size, key.version_id)

    # Work ------------------------------------------------------------------------------------------------
    def _run_job(self, kind: str, name: str) -> None:
        job = _JOBS[kind].stored(self._sagemaker_backend())[name]
        workspace = Workspace(self.home / "jobs" / kind / name, self.home / "logs" / kind / f"{name}.log")
        request = _JOBS[kind].describe(self.clients.client("sagemaker"), name)
        if kind == "training":
            job.secondary_status = "Training"
        try:
            result = _JOBS[kind].run(self, request, workspace, job)
        except Exception as error:  # a job that cannot even start fails with the reason, like in AWS
            result = JobResult(f"{type(error).__name__}: {error}")
            log.debug("job %s failed", name, exc_info=True)
        status_attribute = f"{kind}_job_status"
        if getattr(job, status_attribute) != "Stopped":  # a stopped job keeps its status
            setattr(job, status_attribute, "Failed" if result.failure_reason else "Completed")
        if result.failure_reason:
            job.failure_reason = result.failure_reason
        if result.exit_message:
            job.exit_message = result.exit_message  # moto's DescribeProcessingJob returns it as ExitMessage
        if kind == "training":
            self._record_training(job, result.metrics)
            job.secondary_status = getattr(job, status_attribute)
        job.last_modified_time = datetime.now(UTC)
        setattr(job, f"{kind}_end_time", job.last_modified_time)
        self._emit_later(self._job_event, kind, name)

    def _job_clients(self, role_arn: str, job_arn: str):
        """SageMaker assumes the job's role (its trust policy, with the job as aws:SourceArn) and the job reads and
        writes S3 with it."""
        self.authorizer.assume(role_arn, "sagemaker.amazonaws.com", job_arn)
        return self.clients.client("s3", role_arn)

    def _run_processing(self, request: dict, workspace: Workspace, job) -> JobResult:
        return run_processing(request, workspace, self._job_clients(request["RoleArn"], request["ProcessingJobArn"]))

    def _run_training(self, request: dict, workspace: Workspace, job) -> JobResult:
        return run_training(request, workspace, self._job_clients(request["RoleArn"], request["TrainingJobArn"]))

    def _run_transform(self, request: dict, workspace: Workspace, job) -> JobResult:
        model = self.clients.client("sagemaker").describe_model(ModelName=request["ModelName"])
        s3 = self._job_clients(model["ExecutionRoleArn"], request["TransformJobArn"])
        definitions = model.get("Containers") or [model["PrimaryContainer"]]
        isolated = bool(model.get("EnableNetworkIsolation"))
        try:
            containers = [
                load_container(definition, workspace.root, index, isolated, s3)
                for index, definition in enumerate(definitions)
            ]
        except NetworkIsolationError as refusal:
            return JobResult(str(refusal))  # the job fails with this reason, as it would on AWS
        records = run_transform(request, containers, lambda: job.transform_job_status == "Stopped", s3)
        with workspace.log_file.open("a") as log_stream:
            log_stream.write(f"scored {records} records with {len(containers)} containers\n")
        return JobResult()

    def _record_training(self, job, metrics: dict[str, float]) -> None:
        now = datetime.now(UTC)
        job.final_metric_data_list = [
            {"MetricName": name, "Value": value, "Timestamp": now} for name, value in metrics.items()
        ]

    def _run_execution(self, execution_arn: str) -> None:
        execution = moto_patches.find_execution(self._sagemaker_backend(), execution_arn)
        pipeline_name = execution_arn.split(":pipeline/", 1)[1].split("/", 1)[0]
        cache = self._caches.setdefault(pipeline_name, StepCache())
        definition = json.loads(execution.pipeline_definition_for_execution)
        role = self.clients.client("sagemaker").describe_pipeline(PipelineName=pipeline_name)["RoleArn"]
        run = PipelineRun(
            execution_arn,
            definition,
            execution.pipeline_parameters,
            cache,
            invoke=functools.partial(self._invoke_for_pipeline, role),
            sagemaker=self.clients.client("sagemaker", role),
            s3=self.clients.client("s3", role),
        )
        self._runs[execution_arn] = run
        self._emit_later(self._execution_event, execution_arn, "Executing", "")
        try:
            # SageMaker runs the execution with the pipeline's role (its trust policy names the execution).
            self.authorizer.assume(role, "sagemaker.amazonaws.com", execution_arn)
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
        self._emit_later(self._execution_event, execution_arn, status, "Executing")

    def _invoke_for_pipeline(self, role_arn: str, function_arn: str, payload: dict, step_name: str) -> dict:
        """A pipeline's Lambda step: the pipeline role invokes the deployed function and gets its response."""
        function = self.deployment.functions.get(function_arn)
        if function is None:
            raise StepFailedError(f"no deployed function {function_arn}")
        try:
            self.authorizer.authorize(role_arn, Request("lambda:InvokeFunction", function_arn), "SageMaker")
        except AccessDenied as denial:
            raise StepFailedError(f"AccessDeniedException: {denial}") from None
        source = f"pipeline step {step_name} {secrets.token_hex(4)}"
        error = self.bus.invoke(function, payload, source)
        if error:
            raise StepFailedError(f"the function {function.name} failed: {error}")
        result = next(item["result"] for item in reversed(self.bus.invocations) if item["source"] == source)
        if not isinstance(result, dict):
            raise StepFailedError(f"the function {function.name} returned {type(result).__name__}, not a JSON object")
        return result

    # Events ----------------------------------------------------------------------------------------------
    def _emit_later(self, build, *args) -> None:
        """Events reach rules after the API call returns, as in AWS."""
        self._events.submit(self._guarded, build, *args)

    def _model_package_event(self, arn: str) -> None:
        detail = self.clients.client("sagemaker").describe_model_package(ModelPackageName=arn)
        detail.pop("ResponseMetadata", None)
        self.bus.put_event("aws.sagemaker", "SageMaker Model Package State Change", detail, [arn])

    def _job_event(self, kind: str, name: str) -> None:
        label = kind.capitalize()
        detail = _JOBS[kind].describe(self.clients.client("sagemaker"), name)
        detail.pop("ResponseMetadata", None)
        self.bus.put_event("aws.sagemaker", f"SageMaker {label} Job State Change", detail, [detail[f"{label}JobArn"]])

    def _object_created_event(self, bucket: str, key: str, etag: str, size: int, version_id: str | None) -> None:
        """The event S3 sends to EventBridge for a new object (S3, "EventBridge event message structure")."""
        detail = {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": etag.strip('"'), "version-id": version_id},
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        }
        self.bus.put_event("aws.s3", "Object Created", detail, [f"arn:aws:s3:::{bucket}"])

    def _execution_event(self, execution_arn: str, status: str, previous: str) -> None:
        pipeline_arn = execution_arn.split("/execution/", 1)[0]
        detail = {
            "pipelineExecutionArn": execution_arn,
            "pipelineArn": pipeline_arn,
            "currentPipelineExecutionStatus": status,
            "previousPipelineExecutionStatus": previous,
            "executionStartTime": self._runs[execution_arn].started if execution_arn in self._runs else None,
        }
        self.bus.put_event(
            "aws.sagemaker",
            "SageMaker Model Building Pipeline Execution Status Change",
            detail,
            [pipeline_arn, execution_arn],
        )

    @staticmethod
    def _guarded(work, *args) -> None:
        """Background work logs its failure instead of vanishing in a thread pool."""
        try:
            work(*args)
        except Exception:
            log.error("local cloud: %s failed\n%s", getattr(work, "__name__", work), traceback.format_exc())


class _JobKind:
    """How the local cloud finds, describes and runs one kind of SageMaker job."""

    def __init__(self, stored, describe, run):
        self.stored, self.describe, self.run = stored, describe, run


_JOBS = {
    "processing": _JobKind(
        lambda backend: backend.processing_jobs,
        lambda sagemaker, name: sagemaker.describe_processing_job(ProcessingJobName=name),
        LocalCloud._run_processing,
    ),
    "training": _JobKind(
        lambda backend: backend.training_jobs,
        lambda sagemaker, name: sagemaker.describe_training_job(TrainingJobName=name),
        LocalCloud._run_training,
    ),
    "transform": _JobKind(
        lambda backend: backend.transform_jobs,
        lambda sagemaker, name: sagemaker.describe_transform_job(TransformJobName=name),
        LocalCloud._run_transform,
    ),
}


class StepFailedError(RuntimeError):
    """A Lambda step's invocation failed: the step fails with this message."""


def _set_environment(values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


class _Server(ThreadedMotoServer):
    """moto's server plus one local-only route, POST /_local/schedules/<name>/fire (AWS has no "run now")."""

    def __init__(self, cloud: LocalCloud, **kwargs):
        super().__init__(**kwargs)
        self._cloud = cloud

    start_error = ""

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        try:
            self._server = make_server(
                self._ip_address, self._port, self._with_local_routes(app), True, request_handler=MotoRequestHandler
            )
        except (OSError, SystemExit):  # werkzeug exits when the port is taken: report it to start() instead
            self.start_error = f"cannot listen on {self._ip_address}:{self._port} (in use?)"
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever()

    def _with_local_routes(self, app):
        def application(environ, start_response):
            match = re.fullmatch(r"/_local/schedules/([^/]+)/fire", environ.get("PATH_INFO", ""))
            if not match or environ.get("REQUEST_METHOD") != "POST":
                refusal = self._refusal(environ)
                if refusal:
                    status, headers, body = refusal
                    start_response(status, headers)
                    return [body]
                return app(environ, start_response)
            name = match.group(1)
            schedules = self._cloud.deployment.schedules if self._cloud.deployment else {}
            if name not in schedules:
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [f"no schedule {name}; deployed: {', '.join(schedules) or 'none'}\n".encode()]
            try:
                self._cloud._emit_later(self._cloud.fire_schedule, name)
            except RuntimeError as error:  # the cloud is stopping: one sentence, not a traceback page
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [f"schedule {name} cannot fire: {error}\n".encode()]
            start_response("202 Accepted", [("Content-Type", "text/plain")])
            return [f"schedule {name} fired\n".encode()]

        return application

    def _refusal(self, environ) -> tuple[str, list, bytes] | None:
        """AccessDenied for a request signed by a role whose policies do not allow it, before moto sees it."""
        parsed = call_from_environ(environ, ACCOUNT)
        if parsed is None:
            return None
        access_key, call = parsed
        role = self._cloud.authorizer.roles.role_for_key(access_key)
        if role is None:
            return None  # the administrator
        try:
            for request in requests_for(call):
                self._cloud.authorizer.authorize(role, request)
        except AccessDenied as denial:
            log.info("refused: %s", denial)
            return access_denied_response(call, denial)
        return None
