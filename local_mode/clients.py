"""AWS clients of the local cloud's own work, each signed as the principal it acts for: the administrator (you, the
deploy) or a role (a job, the pipeline, a schedule, a function's destination), whose key the server maps back to
the role to evaluate its policies. Clients are created once per principal and service: creating one costs more
than most calls."""

from __future__ import annotations

import threading

import boto3
from botocore.config import Config

from local_mode.iam.evaluator import Roles

ADMIN_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"})  # an AccessDenied is an answer, not a retry


class Clients:
    def __init__(self, endpoint: str, region: str, roles: Roles):
        self.endpoint, self.region, self._roles = endpoint, region, roles
        self._cache: dict[tuple[str, str | None], object] = {}
        self._lock = threading.Lock()
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        # boto3's default session, whose loader has read each service's model already (the deploy used it).
        self._session = boto3.DEFAULT_SESSION

    def client(self, service: str, role_arn: str | None = None):
        with self._lock:
            key = (service, role_arn)
            if key not in self._cache:
                credentials = self._roles.register(role_arn) if role_arn else ADMIN_CREDENTIALS
                self._cache[key] = self._session.client(
                    service, endpoint_url=self.endpoint, region_name=self.region, config=_CONFIG, **credentials
                )
            return self._cache[key]

    def environment(self, role_arn: str | None = None) -> dict[str, str]:
        """The variables a process signing as `role_arn` (or the administrator) needs: a function's execution
        environment, a test's or a shell's."""
        credentials = self._roles.register(role_arn) if role_arn else ADMIN_CREDENTIALS
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": credentials["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_CONFIG_FILE": "/dev/null",  # nothing from this machine's AWS configuration
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
