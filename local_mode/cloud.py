"""The local cloud: moto's server on 127.0.0.1, the synthesized app deployed into it (local_mode/cloudformation/),
and one provider per service doing the work AWS would do, wired together here: SageMaker (local_mode/sagemaker/),
the event bus (events/), Lambda (lambda_/) and the Scheduler (scheduler/), sharing one store (store.py).

Every request signed by a role (a function, a job, the pipeline, a schedule) is evaluated against the role's deployed
policies before moto sees it, and a refusal is AWS's AccessDenied in the service's error format (local_mode/iam/).
Requests signed otherwise act as the account's administrator: `client(service)` gives this process such clients, and
`environment()` the variables for a process (a shell, a test's fixture) to talk to the cloud; the cloud itself
changes no environment variable of the process that embeds it.

LIMITATIONS: see each provider's docstring; one account (moto's default) and one region per cloud."""

from __future__ import annotations

import logging
import os
import re
import urllib.request
from datetime import datetime
from pathlib import Path

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from local_mode import moto_patches
from local_mode.clients import Clients
from local_mode.cloudformation.deploy import deploy
from local_mode.cloudformation.stack_operations import StackOperationFailed, create_custom_resources, delete_stack
from local_mode.events.bus import EventBus
from local_mode.iam.evaluator import AccessDenied, Authorizer
from local_mode.iam.requests import access_denied_response, call_from_environ, requests_for
from local_mode.lambda_.provider import Functions
from local_mode.model import Deployment
from local_mode.sagemaker.endpoints import LocalEndpoints
from local_mode.sagemaker.provider import SageMaker
from local_mode.scheduler.schedules import Schedules
from local_mode.store import LocalStore
from scoreline.names import SERVING

ACCOUNT = "123456789012"  # moto's default account
log = logging.getLogger("local_mode")


class LocalCloud:
    def __init__(self, home: Path, port: int = 0, region: str | None = None):
        self.home = home.resolve()  # job subprocesses run in their own folders: paths must be absolute
        # Read, not set: a cloud started from a shell with a region configured serves that region.
        self.region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self._port = port
        self._server: _Server | None = None
        self.store = LocalStore()
        self.authorizer = Authorizer(ACCOUNT, self.region)
        self.clients: Clients | None = None
        self.deployment: Deployment | None = None
        self.bus: EventBus | None = None
        self.sagemaker: SageMaker | None = None
        self._schedules: Schedules | None = None
        self.endpoint = ""

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
        self.clients = Clients(self.endpoint, self.region, self.authorizer.roles)
        return self

    def client(self, service: str):
        """A client of `service` on this cloud, signed as the account's administrator."""
        return self.clients.client(service)

    def environment(self) -> dict[str, str]:
        """The variables that point a process's AWS SDK or CLI at this cloud as its administrator."""
        return self.clients.environment()

    def deploy(self, cdk_out: Path) -> Deployment:
        self.deployment = deploy(cdk_out, ACCOUNT, self.clients)
        functions = Functions(self.deployment, self.store, self.clients, self.home / "logs" / "functions")
        functions.start()
        self.bus = EventBus(self.deployment, self.store, self.authorizer, self.clients, functions)
        create_custom_resources(self.deployment, functions, self.clients)
        backend = _sagemaker_backend(self.region)
        self.sagemaker = SageMaker(
            backend, self.bus, self.store, self.clients, self.authorizer, self.deployment, self.home
        )
        self._listen(self.sagemaker, self.bus)
        return self.deployment

    @property
    def endpoints(self) -> LocalEndpoints | None:
        """The real-time endpoints, when the app has the serving stack (realtime=true)."""
        return self.sagemaker.endpoints if self.sagemaker else None

    def real_time_endpoint_name(self) -> str:
        variable = SERVING["endpoint_name"]
        return self.deployment.environment_of_function_setting(variable)[variable]

    def start_schedules(self) -> None:
        self._schedules = Schedules(self.bus, self.deployment, self.clients)
        self._schedules.start()

    def stop(self) -> None:
        self._listen(None, None)
        if self._schedules:
            self._schedules.stop()
        if self.sagemaker:
            self.sagemaker.stop()
        if self.bus:
            self.bus.functions.stop()
            self.bus.close()
        if self._server:
            self._server.stop()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _listen(self, sagemaker: SageMaker | None, bus: EventBus | None) -> None:
        """moto tells the providers about new work through its backends (local_mode/moto_patches.py)."""
        from moto.cloudformation.models import cloudformation_backends
        from moto.s3.models import s3_backends

        backend = _sagemaker_backend(self.region)
        backend.listener = sagemaker
        backend.local_endpoints = sagemaker.endpoints if sagemaker else None
        s3_backends[ACCOUNT]["global"].listener = bus
        deployed = self.deployment.stacks if sagemaker and self.deployment else None
        cloudformation = cloudformation_backends[ACCOUNT][self.region]
        cloudformation.deployed_stacks = deployed
        cloudformation.delete_deployed_stack = self._delete_stack_quietly if deployed is not None else None

    def delete_stack(self, name: str) -> None:
        """DeleteStack of a deployed stack (`aws cloudformation delete-stack`); StackOperationFailed says why not."""
        delete_stack(self.deployment, name, self.bus.functions, self.clients)

    def _delete_stack_quietly(self, name: str) -> None:
        try:
            self.delete_stack(name)
        except StackOperationFailed as error:  # DescribeStacks shows it (DELETE_FAILED and the reason)
            log.warning("stack %s: DELETE_FAILED: %s", name, error)

    # What users trigger besides the API --------------------------------------------------------------------
    def fire_schedule(self, name: str, scheduled_time: datetime | None = None) -> None:
        """Run a deployed schedule's target now, as if its scheduled time had come."""
        self.bus.fire_schedule(name, scheduled_time)

    def alarm(self, name: str, reason: str = "Threshold Crossed") -> None:
        """Put a deployed alarm into ALARM now: its actions are delivered as CloudWatch would."""
        self.bus.alarm(name, reason)

    def wait_for_events(self) -> None:
        """Block until every event emitted so far has been delivered."""
        self.bus.wait()


def _sagemaker_backend(region: str):
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[ACCOUNT][region]


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
            answer = self._fire_schedule(environ) or self._refusal(environ)
            if answer is None:
                return app(environ, start_response)
            status, headers, body = answer
            start_response(status, headers)
            return [body]

        return application

    def _fire_schedule(self, environ) -> tuple[str, list, bytes] | None:
        match = re.fullmatch(r"/_local/schedules/([^/]+)/fire", environ.get("PATH_INFO", ""))
        if not match or environ.get("REQUEST_METHOD") != "POST":
            return None
        name = match.group(1)
        schedules = self._cloud.deployment.schedules if self._cloud.deployment else {}
        if name not in schedules:
            return _text("404 Not Found", f"no schedule {name}; deployed: {', '.join(schedules) or 'none'}")
        try:
            self._cloud.bus.later(self._cloud.fire_schedule, name)
        except RuntimeError as error:  # the cloud is stopping: one sentence, not a traceback page
            return _text("503 Service Unavailable", f"schedule {name} cannot fire: {error}")
        return _text("202 Accepted", f"schedule {name} fired")

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


def _text(status: str, sentence: str) -> tuple[str, list, bytes]:
    return status, [("Content-Type", "text/plain")], f"{sentence}\n".encode()
