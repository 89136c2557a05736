"""Lambda execution environments: each deployed function runs in its own Python process with only its own
environment (its variables, the region, and credentials of its execution role), kept warm between invocations as
Lambda keeps an environment ("Understanding the Lambda execution environment lifecycle"). Its AWS calls reach the
local cloud signed as its role, so the role's policies decide them.

The parent side is `ExecutionEnvironment`; run as a script, this file is the runtime inside the process: it imports
the handler once (the init phase), then answers one invocation per line on stdin with one JSON line on the result
pipe; the function's own output (print, logging) goes to its log file, as it goes to CloudWatch Logs.

LIMITATIONS: one environment per function, so invocations of one function run one at a time (no concurrency
scaling); no timeout or memory limit is enforced; the Python is this machine's, not the function's runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any


class ExecutionEnvironment:
    """One function's warm process. `invoke` returns (result, error); error is "Type: message" or None."""

    def __init__(self, name: str, arn: str, code_dir: Path, handler: str, environment: dict[str, str], log: Path):
        self.name, self.arn = name, arn
        self._command = [sys.executable, "-u", str(Path(__file__).resolve()), str(code_dir.resolve()), handler]
        self._environment = environment
        self._log = log
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._results = None

    def start(self) -> None:
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._log.parent.mkdir(parents=True, exist_ok=True)
        read_end, write_end = os.pipe()
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [*self._command, str(write_end)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._environment,
                pass_fds=(write_end,),
                cwd=self._command[3],
            )
        os.close(write_end)
        self._results = os.fdopen(read_end, "r")

    def invoke(self, event: Any, source: str) -> tuple[Any, str | None]:
        with self._lock:
            self._start()
            with self._log.open("a") as log:
                log.write(f"START {source} {json.dumps(event)[:2000]}\n")
            request = {"event": event, "request_id": str(uuid.uuid4()), "arn": self.arn, "name": self.name}
            try:
                self._process.stdin.write((json.dumps(request) + "\n").encode())
                self._process.stdin.flush()
                line = self._results.readline()
            except (BrokenPipeError, OSError):
                line = ""
            answer = json.loads(line) if line else {"error": "Runtime.ExitError: the function's process exited"}
            with self._log.open("a") as log:
                log.write(f"END {'error: ' + answer['error'] if answer.get('error') else 'ok'}\n")
            return answer.get("result"), answer.get("error")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()


class _Context:
    """The parts of Lambda's context object functions commonly read."""

    def __init__(self, request: dict):
        self.function_name = request["name"]
        self.invoked_function_arn = request["arn"]
        self.aws_request_id = request["request_id"]
        self.memory_limit_in_mb = 256

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def _main(code_dir: str, handler: str, result_fd: int) -> None:
    import importlib
    import traceback

    sys.path[0] = code_dir  # the function's folder, as Lambda's LAMBDA_TASK_ROOT, not local_mode's
    results = os.fdopen(result_fd, "w")
    module_name, function_name = handler.rsplit(".", 1)
    try:
        entry, init_error = getattr(importlib.import_module(module_name), function_name), None
    except Exception as error:  # Lambda reports an init failure on every invocation
        entry, init_error = None, f"Runtime.ImportModuleError: {type(error).__name__}: {error}"
        traceback.print_exc(file=sys.stdout)
    for line in sys.stdin:
        request = json.loads(line)
        if init_error:
            answer = {"error": init_error}
        else:
            try:
                answer = {"result": entry(request["event"], _Context(request))}
                json.dumps(answer)
            except Exception as error:  # the function's failure is reported like Lambda reports it
                traceback.print_exc(file=sys.stdout)
                answer = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.flush()
        results.write(json.dumps(answer, default=str) + "\n")
        results.flush()


if __name__ == "__main__":
    import logging

    logging.basicConfig(stream=sys.stdout, format="[%(levelname)s] %(name)s: %(message)s")
    _main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
