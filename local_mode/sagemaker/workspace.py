"""A job's instance: its stand-in for /opt/ml, its log file and the environment its scripts get (jobs.py runs a job
in one, training_cluster.py a training job in one per instance)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from local_mode.modules import runtime_environment

LIMIT = 1024  # FailureReason and ExitMessage carry the first 1 KB


class Workspace:
    """The job's stand-in for /opt/ml and its log file, and the AWS credentials its scripts get (the job role's:
    CreateProcessingJob, CreateTrainingJob RoleArn, "an IAM role that Amazon SageMaker can assume to perform tasks on
    your behalf"), so their own AWS calls (say Evaluate reading the champion's artifacts) are signed as that role."""

    def __init__(self, root: Path, log_file: Path, aws_environment: dict[str, str] | None = None):
        self.root = root
        self.aws_environment = aws_environment or {}
        self.opt_ml = root / "opt" / "ml"
        self.log_file = log_file
        self.opt_ml.mkdir(parents=True, exist_ok=True)
        log_file.parent.mkdir(parents=True, exist_ok=True)

    def local(self, path: str) -> str:
        """/opt/ml/... as a path inside this job's folder; anything else unchanged."""
        return re.sub(r"(?<![\w/])/opt/ml(?=/|$)", str(self.opt_ml), path)

    def run(self, command: list[str], environment: dict[str, str], timeout: int) -> int | None:
        """The script's exit code, or None when it ran past MaxRuntimeInSeconds (then it is killed)."""
        process = self.start(command, environment)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return None

    def start(self, command: list[str], environment: dict[str, str], own_session: bool = False) -> subprocess.Popen:
        """The script as a child process in this job's folder, its output appended to the job's log."""
        with self.log_file.open("ab") as log:
            return subprocess.Popen(
                command,
                cwd=self.root,
                env=self.child_environment(environment),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=own_session,
            )

    def child_environment(self, environment: dict[str, str]) -> dict[str, str]:
        """A script's variables: a container's (none of this machine's: no AWS profile or keys, no thread
        settings; a home of its own, not this machine's user's), the job role's credentials, then the job's own
        (SM_* and the user's)."""
        container = {**runtime_environment(), "LC_ALL": "C.UTF-8", "HOME": str(self.root)}
        return {**container, **self.aws_environment, **environment, "PYTHONUNBUFFERED": "1"}

    def output_text(self, name: str) -> str:
        """The first 1 KB of /opt/ml/output/<name> (UTF-8), or "" when the script wrote none."""
        path = self.opt_ml / "output" / name
        return path.read_bytes()[:LIMIT].decode("utf-8", errors="replace").strip() if path.is_file() else ""

    def last_log_line(self) -> str:
        lines = [line.strip() for line in self.log_file.read_text(errors="replace").splitlines() if line.strip()]
        return lines[-1] if lines else ""
