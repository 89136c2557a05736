"""A serving container's model server, as the framework images run it: the handler rules, and worker processes.

Handlers follow the framework containers' rules (sagemaker-inference-toolkit's Transformer, the scikit-learn
container's default handler): model_fn is required (the scikit-learn container has no default); input_fn,
predict_fn and output_fn are each optional with the defaults below, or one transform_fn replaces all three (defining
it with any of them is an error); a text/csv or application/json body reaches the handler as a decoded string.

Workers: the images' model servers start SAGEMAKER_MODEL_SERVER_WORKERS worker processes, else one per vCPU
(sagemaker-containers' ServingEnv: `int(os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS", num_cpus()))`, num_cpus
being multiprocessing.cpu_count()). `ModelServer` runs up to that many processes for one container, each running
this file as its main program with the container's environment only (workspace.Workspace.child_environment: a
container's variables, then the container's Environment), so OMP_NUM_THREADS and the like are set before its
libraries load; each imports the user module as the toolkit does (its folder first on sys.path), calls model_fn
once, then answers one request at a time. `invoke` hands a request to a free worker, waiting for one when all are
busy, as the model server queues requests. A handler's exception is answered as "Type: message", the text a handler
loaded in the local cloud's own process gave the job's FailureReason.

This file imports only the standard library at its top, as a worker's main program must: numpy loads only inside
the default handlers, after the container's environment is in place.

LIMITATIONS: the instance's vCPUs are this machine's (os.cpu_count()), whatever the instance type; a worker starts
when a request finds the others busy (the images start them all at once); requests reach a worker over a pipe, not
HTTP (no /ping, /execution-parameters, request timeouts or size limits); the PyTorch container's default model_fn
and predict_fn (TorchScript) are not emulated (a module without model_fn fails); a handler taking the toolkit's
extra `context` argument is not supported."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import queue
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_UTF8_TYPES = ("text/csv", "application/json")  # sagemaker_inference.content_types.UTF8_TYPES
WORKERS_VARIABLE = "SAGEMAKER_MODEL_SERVER_WORKERS"


class TransformError(RuntimeError):
    pass


class HandlerFailed(TransformError):
    """A container's handler failed in a worker process: the message is "Type: message", the job's FailureReason."""


def default_input_fn(body: str | bytes, content_type: str):
    """The scikit-learn container's default: the body decoded to a numpy array (float32 for CSV and JSON)."""
    import numpy as np

    kind = content_type.split(";")[0].strip()
    if kind == "text/csv":
        return np.genfromtxt(io.StringIO(body), delimiter=",").astype(np.float32)
    if kind == "application/json":
        return np.array(json.loads(body)).astype(np.float32)
    if kind == "application/x-npy":
        return np.load(io.BytesIO(body), allow_pickle=False)
    raise TransformError(f"the default input_fn cannot decode {content_type!r} (text/csv, application/json, npy)")


def default_predict_fn(data, model):
    """The scikit-learn container's default: model.predict(data)."""
    return model.predict(data)


def default_output_fn(prediction, accept: str):
    """The default encoders: CSV (numpy.savetxt, fmt %s), JSON (a list) or npy, in the accepted type."""
    import numpy as np

    array, kind = np.asarray(prediction), accept.split(";")[0].strip()
    if kind == "text/csv":
        stream = io.StringIO()
        np.savetxt(stream, array, delimiter=",", fmt="%s")
        return stream.getvalue(), accept
    if kind == "application/json":
        return json.dumps(array.tolist()), accept
    if kind == "application/x-npy":
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue(), accept
    raise TransformError(f"the default output_fn cannot encode {accept!r} (text/csv, application/json, npy)")


@dataclass
class Container:
    """One serving container: its request handler (transform_fn, or input_fn -> predict_fn -> output_fn with the
    defaults for those it lacks) and the loaded model."""

    name: str
    transform_fn: Callable[[Any, Any, str, str], Any]
    model: Any

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        if content_type.split(";")[0].strip() in _UTF8_TYPES:
            body = body.decode("utf-8")  # as the toolkit's Transformer.transform does
        result = self.transform_fn(self.model, body, content_type, accept)
        body, returned_type = result if isinstance(result, tuple) else (result, accept)
        return (body.encode() if isinstance(body, str) else bytes(body)), returned_type


def handlers_of(module: Any, program: str) -> Callable[[Any, Any, str, str], Any]:
    """The request handler the framework container builds from the user module (Transformer.
    _validate_user_module_and_set_functions)."""
    transform_fn = getattr(module, "transform_fn", None)
    steps = [getattr(module, name, None) for name in ("input_fn", "predict_fn", "output_fn")]
    if transform_fn and any(steps):
        raise TransformError(
            f"{program}: Cannot use transform_fn implementation in conjunction with input_fn, predict_fn, and/or "
            "output_fn implementation"
        )
    if transform_fn:
        return transform_fn
    defaults = (default_input_fn, default_predict_fn, default_output_fn)
    input_fn, predict_fn, output_fn = (step or default for step, default in zip(steps, defaults, strict=True))

    def default_transform_fn(model, body, content_type: str, accept: str):
        return output_fn(predict_fn(input_fn(body, content_type), model), accept)

    return default_transform_fn


def serve(module: Any, program: str, name: str, model_dir: Path) -> Container:
    """The user module's handlers with its model loaded (model_fn), as the container serves them."""
    if not hasattr(module, "model_fn"):  # the scikit-learn container's default_model_fn raises NotImplementedError
        raise TransformError(f"{name} ({program}) defines no model_fn, and the container has no default")
    transform_fn = handlers_of(module, program)
    return Container(name=name, transform_fn=transform_fn, model=module.model_fn(str(model_dir)))


def server_workers(environment: dict[str, str]) -> int:
    """How many workers the container's model server starts (see the module's docstring)."""
    value = environment.get(WORKERS_VARIABLE)
    if value is None:
        return os.cpu_count() or 1
    if not value.strip().isdigit() or int(value) < 1:
        raise TransformError(f"{WORKERS_VARIABLE} must be a positive whole number, got {value!r}")
    return int(value)


class ModelServer:
    """One container's worker processes; `invoke` is thread-safe and has Container.invoke's signature.

    The images' servers start all their workers at once; here the first starts with the server (so a model that
    cannot load fails the job before any request) and another only when a request finds every started one busy, up to
    `workers`: the same requests run at once, and a small job does not wait for workers it would never use."""

    def __init__(self, name: str, command: list[str], environment: dict[str, str], cwd: Path, log_file: Path):
        """`command` runs a worker (worker_command); `environment` is the container's, which says how many."""
        self.name = name
        self.workers = server_workers(environment)
        self._command, self._environment, self._cwd, self._log_file = command, environment, cwd, log_file
        self._started: list[_Worker] = []
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._first: _Worker | None = None

    def start(self) -> None:
        """Start the first worker; `wait_ready` waits for its model."""
        self._first = self._launch()

    def wait_ready(self) -> None:
        """The first worker's model_fn has returned, or its failure is raised."""
        self._first.answer(self.name)
        self._idle.put(self._first)

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        worker = self._free_worker()
        try:
            return worker.invoke(self.name, body, content_type, accept)
        finally:
            self._idle.put(worker)  # FIFO: a worker that has just answered goes to the back

    def _free_worker(self) -> _Worker:
        """An idle worker; if none, a new one while fewer than `workers` are started, else the first to be free."""
        with self._lock:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                worker = self._launch() if len(self._started) < self.workers else None
        if worker is None:
            return self._idle.get()
        worker.answer(self.name)  # its model loads while the other workers go on
        return worker

    def _launch(self) -> _Worker:
        with self._log_file.open("ab") as log:
            self._started.append(_Worker(self._command, self._environment, self._cwd, log))
        return self._started[-1]

    def stop(self) -> None:
        for worker in self._started:
            worker.stop()


class _Worker:
    """One worker process: requests on its stdin, answers on a pipe of its own (its stdout and stderr are the
    job's log)."""

    def __init__(self, command: list[str], environment: dict[str, str], cwd: Path, log):
        read_end, write_end = os.pipe()
        self._answers = os.fdopen(read_end, "rb")
        try:
            self.process = subprocess.Popen(
                [*command, str(write_end)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=cwd,
                pass_fds=(write_end,),
            )
        finally:
            os.close(write_end)

    def invoke(self, name: str, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        with contextlib.suppress(OSError):  # a worker that has exited: answer() says so
            _send(self.process.stdin, {"content_type": content_type, "accept": accept}, body)
        return self.answer(name)

    def answer(self, name: str) -> tuple[bytes, str]:
        header = self._answers.readline()
        if not header:
            self.process.wait()
            raise TransformError(f"a worker of {name} exited with status {self.process.returncode} (see the job's log)")
        answer = json.loads(header)
        body = self._answers.read(answer["size"])
        if "error" in answer:
            raise HandlerFailed(answer["error"])
        return body, answer.get("content_type", "")

    def stop(self) -> None:
        """Closing its stdin ends the worker's loop."""
        with contextlib.suppress(OSError):  # already gone
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._answers.close()


def worker_command(python: str, name: str, program: Path, model_dir: Path) -> list[str]:
    """The command that runs one worker of the container `name` whose user module is `program`."""
    return [python, str(Path(__file__).resolve()), name, str(program), str(model_dir)]


def _send(stream, header: dict, body: bytes = b"") -> None:
    """One message: a JSON line with the body's size, then the body."""
    stream.write(json.dumps({**header, "size": len(body)}).encode() + b"\n" + body)
    stream.flush()


def _main(name: str, program: str, model_dir: str, answers_fd: int) -> None:
    """A worker: load the user module and its model once, then answer requests until stdin closes."""
    answers = os.fdopen(answers_fd, "wb")
    path = Path(program)
    sys.path[0] = str(path.parent)  # the code's folder, as the toolkit imports it; not local_mode's
    try:
        container = serve(importlib.import_module(path.stem), path.name, name, Path(model_dir))
    except Exception as error:
        traceback.print_exc()
        _send(answers, {"error": f"{type(error).__name__}: {error}"})
        return
    _send(answers, {"ready": True})
    requests = sys.stdin.buffer
    while header := requests.readline():
        request = json.loads(header)
        body = requests.read(request["size"])
        try:
            answer, content_type = container.invoke(body, request["content_type"], request["accept"])
        except Exception as error:  # the handler's failure, as the model server answers it
            traceback.print_exc()
            _send(answers, {"error": f"{type(error).__name__}: {error}"})
            continue
        _send(answers, {"content_type": content_type}, answer)


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
