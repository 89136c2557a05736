"""Batch transform as serial inference: each container's handlers loaded from its code and model artifact,
records split into MultiRecord mini-batches within MaxPayloadInMB, each batch passed container 1 -> container 2
in the content types they return, DataProcessing filters and the join applied, `<input>.out` written.

Handlers follow the framework containers' rules (sagemaker-inference-toolkit's Transformer, the scikit-learn
container's default handler): model_fn is required (the scikit-learn container has no default); input_fn,
predict_fn and output_fn are each optional with the defaults below, or one transform_fn replaces all three (defining
it with any of them is an error); a text/csv or application/json body reaches the handler as a decoded string.

LIMITATIONS: the handlers run in this process on this machine's Python; the PyTorch container's default model_fn
and predict_fn (TorchScript) are not emulated (a module without model_fn fails); a handler taking the toolkit's
extra `context` argument is not supported."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_mode import storage
from local_mode.modules import load_module
from local_mode.sagemaker.images import python_for

_UTF8_TYPES = ("text/csv", "application/json")  # sagemaker_inference.content_types.UTF8_TYPES


class TransformError(RuntimeError):
    pass


class NetworkIsolationError(TransformError):
    """A network-isolated container told to download its code: the message is the job's FailureReason."""


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


def load_model(model: dict, root: Path, s3=None) -> list[Container]:
    """A DescribeModel response's containers, loaded in order (serial inference) as its network isolation allows."""
    definitions = model.get("Containers") or [model["PrimaryContainer"]]
    isolated = bool(model.get("EnableNetworkIsolation"))
    return [load_container(definition, root, index, isolated, s3) for index, definition in enumerate(definitions)]


def load_container(definition: dict, root: Path, index: int, network_isolated: bool = False, s3=None) -> Container:
    """Unpack the model artifact and the code as the framework serving container would, then call model_fn."""
    python_for(definition["Image"])  # fails with a clear reason for an image local mode cannot run
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
    module = _import(code_dir / program, f"scoreline_serving_{root.name}_{index}".replace("-", "_"))
    if not hasattr(module, "model_fn"):  # the scikit-learn container's default_model_fn raises NotImplementedError
        raise TransformError(f"container {index + 1} ({program}) defines no model_fn, and the container has no default")
    transform_fn = handlers_of(module, program)
    return Container(name=f"container {index + 1}", transform_fn=transform_fn, model=module.model_fn(str(model_dir)))


def _isolation_refusal(index: int, code_location: str) -> str:
    """AWS documents the rule, not the wording of the failure: CreateModel's EnableNetworkIsolation "Isolates the
    model container. No inbound or outbound network calls can be made to or from the model container", so the
    serving toolkit's S3 download of SAGEMAKER_SUBMIT_DIRECTORY fails inside the container."""
    return (
        f"ClientError: container {index + 1} cannot download its inference code from {code_location}: the model was "
        "created with EnableNetworkIsolation=True, so its containers have no network access. Put the code in "
        "model.tar.gz under code/ and set SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code."
    )


def _import(path: Path, module_name: str):
    if not path.exists():
        raise TransformError(f"{path.name} is not in the container's code ({path.parent})")
    return load_module(path, module_name)


def run_transform(job: dict, containers: list[Container], should_stop: Callable[[], bool], s3=None) -> int:
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
        body = storage.read_object(f"s3://{bucket}/{key}", s3)
        records = _records(body, job["TransformInput"].get("SplitType", "None"))
        output = _transform_records(job, containers, records, key, should_stop)
        relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
        out_uri = f"{job['TransformOutput']['S3OutputPath'].rstrip('/')}/{relative}.out"
        storage.write_object(out_uri, _assemble(output, job["TransformOutput"].get("AssembleWith", "None")), s3)
        scored += len(records)
    return scored


def _records(body: bytes, split_type: str) -> list[bytes]:
    if split_type == "Line":
        return [line for line in body.splitlines() if line.strip()]
    if split_type == "None":
        return [body]
    raise TransformError(f"SplitType {split_type} is not supported in local mode (Line or None)")


def _transform_records(
    job: dict, containers: list[Container], records: list[bytes], key: str, should_stop
) -> list[bytes]:
    processing = job.get("DataProcessing", {})
    input_filter = _json_path(processing.get("InputFilter", "$"))
    output_filter = _json_path(processing.get("OutputFilter", "$"))
    join = processing.get("JoinSource", "None") == "Input"
    content_type = job["TransformInput"].get("ContentType", "text/csv")
    accept = job["TransformOutput"].get("Accept", "text/csv")
    limit = int(job.get("MaxPayloadInMB", 6)) * 1024 * 1024
    single = job.get("BatchStrategy", "MultiRecord") == "SingleRecord"
    results: list[bytes] = []
    filtered = [input_filter(record) for record in records]
    for start, batch in _batches(filtered, limit, single, key):
        if should_stop():
            raise TransformError("the job was stopped")
        body, current_type = b"\n".join(batch) + b"\n", content_type
        for container in containers:
            body, current_type = container.invoke(body, current_type, accept)
        predictions = [line for line in body.splitlines() if line.strip()]
        if len(predictions) != len(batch):
            raise TransformError(
                f"{key}: the model returned {len(predictions)} predictions for {len(batch)} records "
                f"(records {start + 1} to {start + len(batch)})"
            )
        for offset, prediction in enumerate(predictions):
            line = records[start + offset] + b"," + prediction if join else prediction
            results.append(output_filter(line))
    return results


def _batches(records: list[bytes], limit: int, single: bool, key: str) -> Iterator[tuple[int, list[bytes]]]:
    """MultiRecord mini-batches: as many whole records as fit in MaxPayloadInMB."""
    start, batch, size = 0, [], 0
    for index, record in enumerate(records):
        if len(record) + 1 > limit:
            raise TransformError(f"{key}: record {index + 1} is larger than MaxPayloadInMB")
        if batch and (single or size + len(record) + 1 > limit):
            yield start, batch
            start, batch, size = index, [], 0
        batch.append(record)
        size += len(record) + 1
    if batch:
        yield start, batch


def _json_path(expression: str) -> Callable[[bytes], bytes]:
    """The JSONPath subset batch transform applies to CSV records: $, $[i], $[i,j], $[a:b] (columns)."""
    if expression == "$":
        return lambda record: record
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


def _assemble(lines: list[bytes], assemble_with: str) -> bytes:
    if assemble_with == "Line":
        return b"".join(line + b"\n" for line in lines)
    return b"".join(lines)
