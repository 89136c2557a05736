"""The local cloud: moto's server on 127.0.0.1, the synthesized app deployed into it, and runners that do the
work AWS would do (jobs, pipeline executions, transforms, events, schedules)."""

from __future__ import annotations

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

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from local_mode import service
from local_mode.assembly import AssemblyError
from local_mode.deploy import Deployment, deploy
from local_mode.events import EventBus, OneTimeSchedules, Scheduler
from local_mode.jobs import Workspace, run_processing, run_training
from local_mode.pipelines import PipelineRun, StepCache, StepFailed
from local_mode.serving import NetworkIsolationError, load_container, record_network_isolation, run_transform

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
        self._scheduler: Scheduler | None = None
        self._one_time_schedules: OneTimeSchedules | None = None
        self.deployment: Deployment | None = None
        self.bus: EventBus | None = None
        self.endpoint = ""
        self._saved_environment: dict[str, str | None] = {}

    # Lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> LocalCloud:
        service.install()
        record_network_isolation()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per API request
        self._server = _Server(self, ip_address="127.0.0.1", port=self._port, verbose=False)
        self._server.start()
        if self._server.start_error:
            raise OSError(self._server.start_error)
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # moto keeps its state per process: a new local cloud starts empty, like a new account.
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")).close()
        # Every AWS client in this process (the scoring function included) talks to the local cloud.
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
        service.set_listener(self)
        return self

    def deploy(self, cdk_out: Path) -> Deployment:
        self.deployment = deploy(cdk_out, ACCOUNT, self.region)
        self._set_function_environment(self.deployment)
        self.bus = EventBus(self.deployment, self.home / "logs")
        return self.deployment

    def _set_function_environment(self, deployment: Deployment) -> None:
        """Functions run in this process and read os.environ: their variables are set once, here, because
        changing os.environ while job threads read it is not thread-safe."""
        variables: dict[str, str] = {}
        for function in deployment.functions.values():
            for name, value in function.environment.items():
                if variables.setdefault(name, value) != value:
                    raise AssemblyError(
                        f"local mode runs every function in one process, and two functions set {name} differently"
                    )
        self._saved_environment.update({name: os.environ.get(name) for name in variables})
        os.environ.update(variables)

    def start_schedules(self) -> None:
        self._scheduler = Scheduler(self.bus, self.deployment)
        self._scheduler.start()
        self._one_time_schedules = OneTimeSchedules(self.bus)  # created at run time, e.g. by the retrain debounce
        self._one_time_schedules.start()

    def stop(self) -> None:
        service.set_listener(None)
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

    # service.Listener ------------------------------------------------------------------------------------
    def job_created(self, kind: str, name: str) -> None:
        self._jobs.submit(self._guarded, self._run_job, kind, name)

    def execution_started(self, execution_arn: str) -> None:
        execution = service.find_execution(ACCOUNT, self.region, execution_arn)
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
        backend = service.backend(ACCOUNT, self.region)
        job = getattr(backend, f"{kind}_jobs")[name]
        status_attribute = f"{kind}_job_status"
        workspace = Workspace(self.home / "jobs" / kind / name, self.home / "logs" / kind / f"{name}.log")
        describe = getattr(boto3.client("sagemaker"), f"describe_{kind}_job")
        request = describe(**{f"{kind.capitalize()}JobName": name})
        if kind == "training":
            job.secondary_status = "Training"
        try:
            if kind == "transform":
                reason = self._run_transform(request, workspace, job)
            else:
                result = (run_processing if kind == "processing" else run_training)(request, workspace)
                reason = result.failure_reason
                if result.exit_message:
                    job.exit_message = result.exit_message  # moto's DescribeProcessingJob returns it as ExitMessage
                if kind == "training":
                    self._record_training(job, result.metrics)
        except Exception as error:  # a job that cannot even start fails with the reason, like in AWS
            reason = f"{type(error).__name__}: {error}"
            log.debug("job %s failed", name, exc_info=True)
        if getattr(job, status_attribute) != "Stopped":  # a stopped job keeps its status
            setattr(job, status_attribute, "Failed" if reason else "Completed")
        if reason:
            job.failure_reason = reason
        if kind == "training":
            job.secondary_status = getattr(job, status_attribute)
        job.last_modified_time = datetime.now(UTC)
        for attribute in ("processing_end_time", "training_end_time", "transform_end_time"):
            if hasattr(job, attribute):
                setattr(job, attribute, job.last_modified_time)
        self._emit_later(self._job_event, kind, name)

    def _run_transform(self, request: dict, workspace: Workspace, job) -> str:
        model = boto3.client("sagemaker").describe_model(ModelName=request["ModelName"])
        definitions = model.get("Containers") or [model["PrimaryContainer"]]
        isolated = bool(model.get("EnableNetworkIsolation"))
        try:
            containers = [
                load_container(definition, workspace.root, index, isolated)
                for index, definition in enumerate(definitions)
            ]
        except NetworkIsolationError as refusal:
            return str(refusal)  # the job fails with this reason, as it would on AWS
        records = run_transform(request, containers, should_stop=lambda: job.transform_job_status == "Stopped")
        with workspace.log_file.open("a") as log_stream:
            log_stream.write(f"scored {records} records with {len(containers)} containers\n")
        return ""

    def _record_training(self, job, metrics: dict[str, float]) -> None:
        now = datetime.now(UTC)
        job.final_metric_data_list = [
            {"MetricName": name, "Value": value, "Timestamp": now} for name, value in metrics.items()
        ]

    def _run_execution(self, execution_arn: str) -> None:
        execution = service.find_execution(ACCOUNT, self.region, execution_arn)
        pipeline_name = execution_arn.split(":pipeline/", 1)[1].split("/", 1)[0]
        cache = self._caches.setdefault(pipeline_name, StepCache())
        definition = json.loads(execution.pipeline_definition_for_execution)
        run = PipelineRun(
            execution_arn, definition, execution.pipeline_parameters, cache, invoke=self._invoke_for_pipeline
        )
        self._runs[execution_arn] = run
        self._emit_later(self._execution_event, execution_arn, "Executing", "")
        try:
            run.run()
            status = "Succeeded"
        except StepFailed as failure:
            status = "Failed"
            execution.pipeline_execution_failure_reason = f"Step {failure.step} failed: {failure.reason}"
        execution.pipeline_execution_status = status
        execution.last_modified_time = datetime.now(UTC)
        self._emit_later(self._execution_event, execution_arn, status, "Executing")

    def _invoke_for_pipeline(self, function_arn: str, payload: dict, step_name: str) -> dict:
        """A pipeline's Lambda step: invoke the deployed function in this process and return its response."""
        function = self.deployment.functions.get(function_arn)
        if function is None:
            raise StepFailedError(f"no deployed function {function_arn}")
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
        detail = boto3.client("sagemaker").describe_model_package(ModelPackageName=arn)
        detail.pop("ResponseMetadata", None)
        self.bus.put_event("aws.sagemaker", "SageMaker Model Package State Change", detail, [arn])

    def _job_event(self, kind: str, name: str) -> None:
        label = kind.capitalize()
        detail = getattr(boto3.client("sagemaker"), f"describe_{kind}_job")(**{f"{label}JobName": name})
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
                return app(environ, start_response)
            name = match.group(1)
            schedules = self._cloud.deployment.schedules if self._cloud.deployment else {}
            if name not in schedules:
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [f"no schedule {name}; deployed: {', '.join(schedules) or 'none'}\n".encode()]
            self._cloud._emit_later(self._cloud.fire_schedule, name)
            start_response("202 Accepted", [("Content-Type", "text/plain")])
            return [f"schedule {name} fired\n".encode()]

        return application
