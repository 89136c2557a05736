"""Batch transform as serial inference: each container a model server with its worker processes
(model_server.py), records split into MultiRecord mini-batches within MaxPayloadInMB, MaxConcurrentTransforms of them
in flight (unset or 0: 1, the API's default for a container without an execution-parameters endpoint), each passed
container 1 -> container 2 in the content types they return, a free worker of each container answering it,
DataProcessing filters and the join applied in input order, `<input>.out` written.

SageMaker sends up to MaxConcurrentTransforms mini-batch requests at a time to an instance ("the maximum number of
parallel requests that can be sent to each instance in a transform job"), and serial inference passes each response
to the next container; the framework images' model servers answer with their worker processes (model_server.py).
`load_model` loads the containers' handlers in this process instead, for the real-time endpoint (endpoints.py).

LIMITATIONS: one instance (InstanceCount is not applied) whose vCPUs are this machine's cores; a custom image's
handlers run on the interpreter SCORELINE_LOCAL_IMAGES maps it to, the framework images' on this machine's Python;
the model server's limits are model_server.py's."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from local_mode import storage
from local_mode.modules import load_module
from local_mode.sagemaker.images import python_for
from local_mode.sagemaker.model_server import Container, ModelServer, TransformError, serve, worker_command
from local_mode.sagemaker.workspace import Workspace


class NetworkIsolationError(TransformError):
    """A network-isolated container told to download its code: the message is the job's FailureReason."""


class Serving(Protocol):
    """A container as the transform calls it: a model server, or handlers loaded in this process."""

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]: ...


@dataclass(frozen=True)
class Unpacked:
    """A serving container's code and model where its image finds them, the interpreter that stands in for the
    image, and the container's Environment."""

    python: str
    program: Path
    model_dir: Path
    environment: dict[str, str]


@contextmanager
def serve_model(model: dict, workspace: Workspace, s3=None) -> Iterator[list[ModelServer]]:
    """A DescribeModel response's containers in order (serial inference), each unpacked and a model server."""
    unpacked = [
        _unpack(definition, workspace.root, index, _isolated(model), s3)
        for index, definition in enumerate(_definitions(model))
    ]
    with model_servers(unpacked, workspace) as servers:
        yield servers


@contextmanager
def model_servers(containers: list[Unpacked], workspace: Workspace) -> Iterator[list[ModelServer]]:
    """One model server per container, whose workers start with its Environment (workspace.child_environment) and
    log to the job's log, each container's first worker loading its model at the same time; stopped afterwards."""
    servers = []
    try:
        for position, container in enumerate(containers, start=1):
            name = f"container {position}"
            command = worker_command(container.python, name, container.program, container.model_dir)
            environment = workspace.child_environment(container.environment)
            servers.append(ModelServer(name, command, environment, container.model_dir.parent, workspace.log_file))
            servers[-1].start()
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def load_model(model: dict, root: Path, s3=None) -> list[Container]:
    """A DescribeModel response's containers, loaded in this process in order (serial inference) as its network
    isolation allows."""
    return [
        load_container(definition, root, index, _isolated(model), s3)
        for index, definition in enumerate(_definitions(model))
    ]


def load_container(definition: dict, root: Path, index: int, network_isolated: bool = False, s3=None) -> Container:
    """Unpack the model artifact and the code as the framework serving container would, then call model_fn."""
    unpacked = _unpack(definition, root, index, network_isolated, s3)
    module = load_module(unpacked.program, f"scoreline_serving_{root.name}_{index}".replace("-", "_"))
    return serve(module, unpacked.program.name, f"container {index + 1}", unpacked.model_dir)


def _definitions(model: dict) -> list[dict]:
    return model.get("Containers") or [model["PrimaryContainer"]]


def _isolated(model: dict) -> bool:
    return bool(model.get("EnableNetworkIsolation"))


def _unpack(definition: dict, root: Path, index: int, network_isolated: bool, s3) -> Unpacked:
    """The model artifact and the code where the framework serving container puts them."""
    python = python_for(definition["Image"])  # fails with a clear reason for an image local mode cannot run
    environment = definition.get("Environment", {})
    program = environment.get("SAGEMAKER_PROGRAM", "inference.py")
    code_location = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "/opt/ml/model/code")
    if network_isolated and code_location.startswith("s3://"):
        raise NetworkIsolationError(_isolation_refusal(index, code_location))
    model_dir = root / f"container-{index}" / "model"
    storage.extract_tarball(storage.read_object(definition["ModelDataUrl"], s3), model_dir)
    if code_location.startswith("s3://"):
        code_dir = root / f"container-{index}" / "code"
        storage.extract_tarball(storage.read_object(code_location, s3), code_dir)
    else:  # code inside the model artifact, as the PyTorch container reads it
        code_dir = model_dir / code_location.removeprefix("/opt/ml/model").lstrip("/")
    if not (code_dir / program).exists():
        raise TransformError(f"{program} is not in the container's code ({code_dir})")
    return Unpacked(python, code_dir / program, model_dir, environment)


def _isolation_refusal(index: int, code_location: str) -> str:
    """AWS documents the rule, not the wording of the failure: CreateModel's EnableNetworkIsolation "Isolates the
    model container. No inbound or outbound network calls can be made to or from the model container", so the
    serving toolkit's S3 download of SAGEMAKER_SUBMIT_DIRECTORY fails inside the container."""
    return (
        f"ClientError: container {index + 1} cannot download its inference code from {code_location}: the model was "
        "created with EnableNetworkIsolation=True, so its containers have no network access. Put the code in "
        "model.tar.gz under code/ and set SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code."
    )


def run_transform(job: dict, containers: list[Serving], should_stop: Callable[[], bool], s3=None) -> int:
    """Score every object under the input prefix with the job's role (`s3`); returns the number of records scored."""
    source = job["TransformInput"]["DataSource"]["S3DataSource"]
    if source.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise TransformError("local mode reads S3Prefix transform inputs only")
    keys = storage.keys_under(source["S3Uri"], s3)
    if not keys:
        raise TransformError(f"no input objects under {source['S3Uri']}")
    bucket, prefix = storage.split_uri(source["S3Uri"])
    scored = 0
    for key in keys:
        output, records = transform_object(
            job, containers, storage.read_object(f"s3://{bucket}/{key}", s3), key, should_stop
        )
        relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
        storage.write_object(f"{job['TransformOutput']['S3OutputPath'].rstrip('/')}/{relative}.out", output, s3)
        scored += records
    return scored


def transform_object(
    job: dict, containers: list[Serving], body: bytes, key: str, should_stop: Callable[[], bool] = lambda: False
) -> tuple[bytes, int]:
    """One input object's `.out` body and its number of records: its mini-batches sent MaxConcurrentTransforms at a
    time, the output in input order."""
    records = _records(body, job["TransformInput"].get("SplitType", "None"))
    return _assemble(
        _transform_records(job, containers, records, key, should_stop),
        job["TransformOutput"].get("AssembleWith", "None"),
    ), len(records)


def _records(body: bytes, split_type: str) -> list[bytes]:
    if split_type == "Line":
        return _lines(body)
    if split_type == "None":
        return [body]
    raise TransformError(f"SplitType {split_type} is not supported in local mode (Line or None)")


def _transform_records(
    job: dict, containers: list[Serving], records: list[bytes], key: str, should_stop
) -> list[bytes]:
    processing = job.get("DataProcessing", {})
    input_filter = _json_path(processing.get("InputFilter", "$"))
    output_filter = _json_path(processing.get("OutputFilter", "$"))
    join = processing.get("JoinSource", "None") == "Input"
    content_type = job["TransformInput"].get("ContentType", "text/csv")
    accept = job["TransformOutput"].get("Accept", "text/csv")
    limit = int(job.get("MaxPayloadInMB", 6)) * 1024 * 1024
    single = job.get("BatchStrategy", "MultiRecord") == "SingleRecord"

    def request(start: int, batch: list[bytes]) -> list[bytes]:
        """One mini-batch through every container in turn; its output lines."""
        if should_stop():
            raise TransformError("the job was stopped")
        body, current_type = b"\n".join(batch) + b"\n", content_type
        for container in containers:
            body, current_type = container.invoke(body, current_type, accept)
        predictions = _lines(body)
        if len(predictions) != len(batch):
            raise TransformError(
                f"{key}: the model returned {len(predictions)} predictions for {len(batch)} records "
                f"(records {start + 1} to {start + len(batch)})"
            )
        if join:
            predictions = [records[start + offset] + b"," + prediction for offset, prediction in enumerate(predictions)]
        return _selected(output_filter, predictions)

    filtered = _selected(input_filter, records)
    in_flight = int(job.get("MaxConcurrentTransforms") or 1)
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="transform-request") as requests:
        answers = []
        try:
            for start, batch in _batches(filtered, limit, single, key):
                answers.append(requests.submit(request, start, batch))
            # In input order: the first failing mini-batch fails the job, as when they ran one after another.
            return [line for answer in answers for line in answer.result()]
        except BaseException:
            for answer in answers:
                answer.cancel()  # those not yet sent; the ones in flight finish first
            raise


def _lines(body: bytes) -> list[bytes]:
    """The non-blank lines (filter runs the test in C: this process's per-line work shares the instance's cores
    with the containers' workers)."""
    return list(filter(bytes.strip, body.splitlines()))


def _batches(records: list[bytes], limit: int, single: bool, key: str) -> Iterator[tuple[int, list[bytes]]]:
    """MultiRecord mini-batches: as many whole records as fit in MaxPayloadInMB (each record and its newline)."""
    sizes = [len(record) + 1 for record in records]
    if max(sizes, default=0) > limit:
        first = next(index for index, size in enumerate(sizes) if size > limit)
        raise TransformError(f"{key}: record {first + 1} is larger than MaxPayloadInMB")
    if single:
        yield from ((index, [record]) for index, record in enumerate(records))
        return
    ends = list(itertools.accumulate(sizes))  # ends[i]: the bytes of records 0..i
    start = 0
    while start < len(records):
        before = ends[start - 1] if start else 0
        stop = bisect.bisect_right(ends, before + limit, lo=start)  # the first record that no longer fits
        yield start, records[start:stop]
        start = stop


def _whole(record: bytes) -> bytes:
    return record


def _json_path(expression: str) -> Callable[[bytes], bytes]:
    """The JSONPath subset batch transform applies to CSV records: $, $[i], $[i,j], $[a:b] (columns)."""
    if expression == "$":
        return _whole
    match = re.fullmatch(r"\$\[(.+)\]", expression.replace(" ", ""))
    if not match:
        raise TransformError(f"filter {expression!r} is not supported for CSV in local mode")
    selector = match.group(1)
    if ":" in selector:
        start, _, stop = selector.partition(":")
        window = slice(int(start) if start else None, int(stop) if stop else None)
        return lambda record: b",".join(record.split(b",")[window])
    indexes = [int(part) for part in selector.split(",")]
    return lambda record: b",".join(record.split(b",")[i] for i in indexes)


def _selected(select: Callable[[bytes], bytes], lines: list[bytes]) -> list[bytes]:
    """Each line's selected columns; "$" (the default) keeps the lines, with no pass over them."""
    return lines if select is _whole else [select(line) for line in lines]


def _assemble(lines: list[bytes], assemble_with: str) -> bytes:
    if assemble_with == "Line":
        return b"\n".join(lines) + b"\n" if lines else b""
    return b"".join(lines)
