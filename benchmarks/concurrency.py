"""Batch transform rows per second of one instance through the local transform path (local_mode/sagemaker/
transform.py: MultiRecord mini-batches of MaxPayloadInMB, MaxConcurrentTransforms of them in flight, each container a
model server whose worker processes start with the container's Environment), per flavour, for three settings of the
same job on this machine:

- today's default: 1 request in flight, the model servers' default workers (one per core) and the libraries' default
  threads (all cores), what scoring ran before the app sized its model servers;
- one single-threaded worker: 1 in flight, SAGEMAKER_MODEL_SERVER_WORKERS=1, OMP_NUM_THREADS=1;
- the defaults' pairing: what the app's sizing (scoreline/model_servers.py) gives the default transform type's family
  at this machine's size (2 cores: ml.m5.large, 2 in flight, 2 workers x 1 thread in each container),

beside P1's one-process limit (throughput.Handlers.limit: both containers' handlers called in this process on the
same requests, no hand-off, the libraries' default threads), and for the scikit-learn flavour the toolkit's default CSV
path as users would deploy it: the same transformer and model as one Pipeline in one container with model_fn only,
so the model server's default handlers decode the CSV with np.genfromtxt and encode with np.savetxt (the scikit-learn
container's defaults, throughput.toolkit_pipeline), 1 request in flight, default workers and threads.

The input is `batches` copies of one ~6 MB request of California housing rows (MaxPayloadInMB 6, the scoring job's
default); each setting transforms it once before the clock starts, so every worker it uses has started and loaded
its model. The settings and the limit run one after another in each round, `repeats` rounds; a figure is the mean over
the rounds with its range, a ratio the mean (range) of the per-round ratios.

Cost per million rows: throughput per instance is taken to grow with its vCPUs as the defaults' pairing grew here (per
core), an assumption beyond the cores measured; a price per hour is not given (no documented on-demand price was found
in the sources this project can read), so the figure is instance-seconds per million rows: multiply by the price per
second. The PyTorch handler predicts on the GPU of the g families, which is not measured here."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import statistics
import sys
import tempfile
from pathlib import Path

import joblib
import numpy as np

from benchmarks.artifacts import Artifacts
from benchmarks.throughput import REQUEST_BYTES, Handlers, load_handlers, request_body, toolkit_estimator
from benchmarks.timing import rounds
from local_mode.sagemaker.transform import Unpacked, model_servers, transform_object
from local_mode.sagemaker.workspace import Workspace
from scoreline.instance_types import is_gpu, vcpus
from scoreline.model_servers import ModelServer, transform_serving
from scoreline.settings import load_settings

# The transform instance families the project names (scoreline/instance_types.py: storage and GPU facts; the GPU
# PyTorch image for g and p types), at the default size.
INSTANCE_TYPES = ("ml.m5.xlarge", "ml.c5.xlarge", "ml.g4dn.xlarge", "ml.g5.xlarge")


# The toolkit's default path: model_fn alone, so the model server's default input_fn, predict_fn and output_fn
# (local_mode/sagemaker/model_server.py, the scikit-learn container's) decode, predict and encode.
TOOLKIT_PROGRAM = """import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "pipeline.joblib"))
"""


def settings(flavour: str, cores: int) -> dict[str, tuple[int, list[dict[str, str]]]]:
    """{name: (MaxConcurrentTransforms, what each container's Environment adds)}: the defaults' pairing is what the
    app's sizing (scoreline/model_servers.py) gives the default transform type's family at this machine's size."""
    serving = transform_serving(load_settings({"model_flavour": flavour, "transform_instance_type": _like_here(cores)}))
    one = ModelServer(workers=1, threads=1).environment()
    return {
        "today_default": (1, [{}, {}]),
        "single_thread_worker": (1, [one, one]),
        "defaults_pairing": (serving.concurrency, serving.container_environments()),
    }


def _like_here(cores: int) -> str:
    """The default transform type's family in the size whose vCPUs are this machine's cores (2: ml.m5.large)."""
    family = load_settings({}).transform_instance_type.rsplit(".", 1)[0]
    sizes = ("large", "xlarge", *(f"{count}xlarge" for count in (2, 4, 8, 12, 16, 24)))
    same = [f"{family}.{size}" for size in sizes if vcpus(f"{family}.{size}") == cores]
    if not same:
        raise RuntimeError(f"no {family} size has {cores} vCPUs, this machine's cores")
    return same[0]


def measure(artifacts: Artifacts, repeats: int = 5, batches: int = 4, max_bytes: int = REQUEST_BYTES) -> dict:
    cores, load_before = os.cpu_count() or 1, os.getloadavg()[0]
    chosen = settings(artifacts.flavour, cores)
    body, rows_per_request = request_body(max_bytes)
    data = body * batches
    handlers = load_handlers(artifacts)
    expected = np.loadtxt(io.BytesIO(handlers.limit(body) * batches), delimiter=",", ndmin=1)
    job = {
        "TransformInput": {"ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"Accept": "text/csv", "AssembleWith": "Line"},
        "MaxPayloadInMB": -(-max_bytes // (1024 * 1024)),
    }
    with tempfile.TemporaryDirectory() as work, contextlib.ExitStack() as stack:
        setups = {
            name: (in_flight, _containers(artifacts, environments))
            for name, (in_flight, environments) in chosen.items()
        }
        if artifacts.flavour == "sklearn":
            setups["toolkit_default"] = (1, [_toolkit_container(handlers, Path(work) / "toolkit")])
        running = {}
        for name, (in_flight, containers) in setups.items():
            workspace = Workspace(Path(work) / name, Path(work) / f"{name}.log")
            running[name] = (in_flight, stack.enter_context(model_servers(containers, workspace)))

        def transform(name: str) -> bytes:
            in_flight, containers = running[name]
            return transform_object({**job, "MaxConcurrentTransforms": in_flight}, containers, data, "rows.csv")[0]

        for name in running:  # once, untimed: the workers warm, and each setting answers as the handlers do (float32
            # matrix products differ in the last bits with the thread count and the rows in a request)
            answers = np.loadtxt(io.BytesIO(transform(name)), delimiter=",", ndmin=1)
            assert answers.shape == expected.shape, name
            # The toolkit casts raw values to float32 before scaling, which moves some rows across a tree's split
            # (throughput._compare_with_toolkit); the others compute the same predictions.
            assert name == "toolkit_default" or np.allclose(answers, expected, rtol=1e-5), name
        contenders = {name: functools.partial(transform, name) for name in running}
        contenders["one_process_limit"] = lambda: [handlers.limit(body) for _ in range(batches)]
        seconds = rounds(contenders, repeats)
    per_second = {name: [rows_per_request * batches / value for value in values] for name, values in seconds.items()}
    defaults = per_second["defaults_pairing"]
    per_core = statistics.fmean(defaults) / cores
    return {
        "rows": rows_per_request * batches,
        "requests": batches,
        "request_mb": round(len(body) / 1024 / 1024, 2),
        "repeats": repeats,
        "cores": cores,
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # before, after
        "rows_per_s": {name: _spread(values) for name, values in per_second.items()},
        "defaults_over_single_thread_worker": _ratio(defaults, per_second["single_thread_worker"]),
        "defaults_over_today_default": _ratio(defaults, per_second["today_default"]),
        "defaults_over_one_process_limit": _ratio(defaults, per_second["one_process_limit"]),
        **(
            {"defaults_over_toolkit_default": _ratio(defaults, per_second["toolkit_default"])}
            if "toolkit_default" in per_second
            else {}
        ),
        "defaults_pairing": {
            "instance_type": _like_here(cores),
            "in_flight": chosen["defaults_pairing"][0],
            "environments": chosen["defaults_pairing"][1],
        },
        "instance_seconds_per_million_rows": {
            instance: None
            if artifacts.flavour == "pytorch" and is_gpu(instance)  # predicts on the GPU there: not measured
            else round(1e6 / (per_core * vcpus(instance)), 2)
            for instance in INSTANCE_TYPES
        },
    }


def _containers(artifacts: Artifacts, environments: list[dict[str, str]]) -> list[Unpacked]:
    """The two serving containers as the registered model has them (code under code/ in each model folder), with
    `environments` merged over their Environment as the scoring function merges them at CreateModel."""
    code = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    folders = (artifacts.features_dir, artifacts.model_dir)
    return [
        Unpacked(sys.executable, folder / "code" / "inference.py", folder, {**code, **environment})
        for folder, environment in zip(folders, environments, strict=True)
    ]


def _toolkit_container(handlers: Handlers, folder: Path) -> Unpacked:
    """One container serving the transformer and model as one Pipeline through the default handlers, with the
    image's default workers and threads."""
    folder.mkdir()
    joblib.dump(toolkit_estimator(handlers.transformer, handlers.model.estimator), folder / "pipeline.joblib")
    (folder / "inference.py").write_text(TOOLKIT_PROGRAM)
    code = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(folder)}
    return Unpacked(sys.executable, folder / "inference.py", folder, code)


def _spread(values: list[float], digits: int | None = None) -> dict:
    """Mean, min and max, rounded to `digits` (None: whole numbers)."""
    return {
        key: round(function(values), digits)
        for key, function in (("mean", statistics.fmean), ("min", min), ("max", max))
    }


def _ratio(numerators: list[float], denominators: list[float]) -> dict:
    """The mean and range of the per-round ratios."""
    return _spread([a / b for a, b in zip(numerators, denominators, strict=True)], 2)


def table_rows(results: dict) -> list[tuple[str, str, str]]:
    rows = []
    for flavour, figures in results.items():
        if "rows_per_s" not in figures:  # "machine"
            continue
        cores, speeds = figures["cores"], figures["rows_per_s"]
        per_million = figures["instance_seconds_per_million_rows"]
        pairing = figures["defaults_pairing"]
        workers, threads = (
            pairing["environments"][0][name] for name in ("SAGEMAKER_MODEL_SERVER_WORKERS", "OMP_NUM_THREADS")
        )
        labels = {
            "today_default": f"1 in flight, {cores} workers, default threads (today)",
            "single_thread_worker": "1 in flight, 1 worker x 1 thread",
            "defaults_pairing": f"{pairing['in_flight']} in flight, {workers} workers x {threads} thread "
            f"({pairing['instance_type']}'s defaults)",
            "one_process_limit": "P1: one-process limit",
            "toolkit_default": f"toolkit default CSV, one Pipeline, 1 in flight, {cores} workers, default threads",
        }
        rows += [
            (f"transform {flavour}, {label}: rows/s", _format(speeds[name]), "")
            for name, label in labels.items()
            if name in speeds
        ]
        rows += [
            (
                "  defaults' pairing / 1 single-threaded worker",
                _format(figures["defaults_over_single_thread_worker"]),
                ">= 1.9",
            ),
            ("  defaults' pairing / today's default", _format(figures["defaults_over_today_default"]), "> 1"),
            ("  defaults' pairing / P1's limit", _format(figures["defaults_over_one_process_limit"]), ""),
            *(
                [("  defaults' pairing / toolkit's default", _format(figures["defaults_over_toolkit_default"]), ">= 2")]
                if "defaults_over_toolkit_default" in figures
                else []
            ),
            (
                f"  instance-s per million rows ({' / '.join(per_million)})",
                " / ".join("-" if value is None else f"{value:.2f}" for value in per_million.values()),
                "",
            ),
        ]
    return rows


def _format(spread: dict) -> str:
    if isinstance(spread["mean"], int):
        return f"{spread['mean']:,} ({spread['min']:,}-{spread['max']:,})"
    return f"{spread['mean']:.2f} ({spread['min']:.2f}-{spread['max']:.2f})"
