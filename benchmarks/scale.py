"""Scale curves: seconds and peak memory of Preprocess, Train (each flavour) and Transform as the rows grow.

Rows are drawn from the demo data with noise, made on the fly. Each measurement is its own process, as each job
runs on its own instance: the shipped container scripts for Preprocess and Train, and for Transform the serial
chain through both containers' handlers over the input file in 6 MB mini-batches split on lines (what Batch
Transform sends with SplitType=Line, BatchStrategy=MultiRecord, MaxPayloadInMB=6). Peak memory is the process's
maximum resident set (ru_maxrss from wait4): what the instance must hold, libraries included. Training runs a fixed
amount of work per row (fixed boosting iterations, fixed epochs), so its seconds grow with the rows alone.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.artifacts import CODE, REPO_ROOT, TARGET, housing

SIZES = (20_000, 200_000, 2_000_000)
NOISE = 0.05  # Gaussian noise, as a fraction of each column's standard deviation
# Fixed work per row, so time follows the rows: 50 boosting iterations (scikit-learn, XGBoost: early stopping never
# cuts them short); one PyTorch epoch (the default 60 epochs at 2M rows would take hours on a shared 2-core machine).
TRAINING_HYPERPARAMETERS = {
    "sklearn": {"max-iter": "50", "n-iter-no-change": "50"},
    "pytorch": {"epochs": "1", "patience": "1"},
    "xgboost": {"num-round": "50", "early-stopping-rounds": "50"},
}
MINI_BATCH_BYTES = 6 * 1024 * 1024
# Memory of the instance types (SageMaker AI pricing, "Instance details": ml.m5 has 4 GiB per vCPU); the defaults
# are ml.m5.xlarge. Sizing leaves a tenth for the operating system and the container's own processes.
INSTANCE_MEMORY_GIB = {"ml.m5.large": 8, "ml.m5.xlarge": 16, "ml.m5.2xlarge": 32, "ml.m5.4xlarge": 64}
USABLE_MEMORY = 0.9


def synthetic_rows(rows: int, seed: int = 0) -> pd.DataFrame:
    """`rows` rows drawn with replacement from California housing, each value moved by Gaussian noise."""
    demo = housing()
    generator = np.random.default_rng(seed)
    picked = demo.iloc[generator.integers(0, len(demo), rows)].reset_index(drop=True)
    noise = generator.standard_normal(picked.shape) * (demo.std().to_numpy() * NOISE)
    return (picked + noise).astype(np.float64)


# Linux keeps the peak of the memory a process replaces at exec in its ru_maxrss, so a job started straight from
# this (large) process would report at least this process's peak. A small launcher starts it instead and reports
# the job's own rusage: seconds and peak kilobytes, on its stdout.
_LAUNCHER = """
import os, subprocess, sys, time
started = time.perf_counter()
job = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(job.pid, 0)
print(time.perf_counter() - started, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def measured_run(command: list, environment: dict[str, str] | None = None) -> tuple[float, int]:
    """(seconds, peak resident bytes) of one job process."""
    process = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, sys.executable, *map(str, command)],
        env={**os.environ, **(environment or {})},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    seconds, peak_kb, status = process.stdout.split()
    if process.returncode != 0 or status != "0":
        raise RuntimeError(f"{Path(str(command[0])).name} failed: {process.stderr.strip()[-2000:]}")
    return float(seconds), int(peak_kb) * 1024  # Linux reports kilobytes


def _preprocess(work: Path) -> tuple[float, int]:
    return measured_run(
        [CODE / "features" / "preprocess.py", "--target-column", TARGET, "--categorical-columns", ""]
        + ["--input-dir", work / "input", "--output-dir", work / "processed"]
        + ["--serving-code-dir", work / "serving-code", "--message-file", work / "preprocess-message"]
    )


def _train(flavour: str, work: Path) -> tuple[float, int]:
    model_dir = work / f"{flavour}-model"
    arguments = [part for key, value in TRAINING_HYPERPARAMETERS[flavour].items() for part in (f"--{key}", value)]
    environment = {
        "SM_MODEL_DIR": str(model_dir),
        "SM_CHANNEL_TRAIN": str(work / "processed" / "train"),
        "SM_CHANNEL_VALIDATION": str(work / "processed" / "validation"),
        "SM_OUTPUT_DATA_DIR": str(work / f"{flavour}-output"),
    }
    return measured_run([CODE / f"{flavour}_model" / "train.py", *arguments], environment)


def _transform(flavour: str, work: Path) -> tuple[float, int]:
    return measured_run(
        ["-m", "benchmarks.scale", "transform", flavour, work / "features", work / f"{flavour}-model"]
        + [work / "scoring.csv", work / f"{flavour}-scored.csv"]
    )


def measure_size(rows: int, work: Path, flavours: tuple[str, ...]) -> dict:
    """Every stage at one size: {stage: {"seconds": s, "peak_mb": m}}."""
    import tarfile

    from benchmarks.artifacts import _tar

    data = synthetic_rows(rows)
    (work / "input").mkdir(parents=True, exist_ok=True)
    data.to_csv(work / "input" / "data.csv", index=False)
    data.drop(columns=[TARGET]).to_csv(work / "scoring.csv", index=False, header=False)
    del data
    (work / "serving-code").mkdir(exist_ok=True)
    _tar(CODE / "features", work / "serving-code" / "features-code.tar.gz")
    figures = {"preprocess": _preprocess(work)}
    with tarfile.open(work / "processed" / "model" / "model.tar.gz") as archive:
        archive.extractall(work / "features", filter="data")
    for flavour in flavours:
        figures[f"train_{flavour}"] = _train(flavour, work)
        figures[f"transform_{flavour}"] = _transform(flavour, work)
    return {stage: {"seconds": round(s, 2), "peak_mb": round(peak / 2**20, 1)} for stage, (s, peak) in figures.items()}


def measure(sizes: tuple[int, ...] = SIZES, work: Path | None = None, flavours=tuple(TRAINING_HYPERPARAMETERS)) -> dict:
    import tempfile

    by_size = {}
    for rows in sizes:
        with tempfile.TemporaryDirectory(dir=work) as folder:
            by_size[rows] = measure_size(rows, Path(folder), flavours)
    stages = list(by_size[sizes[0]])
    return {
        "training_hyperparameters": {flavour: TRAINING_HYPERPARAMETERS[flavour] for flavour in flavours},
        "stages": {stage: _curve(sizes, [by_size[rows][stage] for rows in sizes]) for stage in stages},
    }


def _curve(sizes, points: list[dict]) -> dict:
    """The measured points (two sizes at least), the exponent of seconds ~ rows^k (least squares on logs) and the
    memory line peak = base + bytes_per_row * rows (least squares)."""
    rows = np.array(sizes, dtype=float)
    seconds = np.array([point["seconds"] for point in points])
    peak = np.array([point["peak_mb"] for point in points]) * 2**20
    exponent = np.polyfit(np.log(rows), np.log(seconds), 1)[0]
    # Between the two largest sizes only: the process's fixed start (imports, model loading) weighs least there.
    largest = np.log(seconds[-1] / seconds[-2]) / np.log(rows[-1] / rows[-2])
    bytes_per_row, base = np.polyfit(rows, peak, 1)
    return {
        "rows": [int(count) for count in sizes],
        "seconds": seconds.tolist(),
        "peak_mb": [point["peak_mb"] for point in points],
        "time_exponent": round(float(exponent), 2),
        "time_exponent_largest": round(float(largest), 2),
        "bytes_per_row": round(float(bytes_per_row)),
        "base_mb": round(float(base) / 2**20, 1),
    }


def sizing(curves: dict) -> dict:
    """Rows that fit in each instance type's usable memory, per stage whose memory grows with the rows."""
    table = {}
    for stage, curve in curves.items():
        per_row = curve["bytes_per_row"]
        if stage.startswith("transform") or not per_row or per_row <= 0 or math.isnan(per_row):
            continue  # flat in the input size: bounded by the mini-batch, not the rows
        table[stage] = {
            instance: max(0, int((gib * 2**30 * USABLE_MEMORY - curve["base_mb"] * 2**20) / per_row))
            for instance, gib in INSTANCE_MEMORY_GIB.items()
        }
    return table


def plot(scale: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for stage, curve in scale["stages"].items():
        label = f"{stage} (k={curve['time_exponent']})"
        left.plot(curve["rows"], curve["seconds"], marker="o", label=label)
        right.plot(curve["rows"], curve["peak_mb"], marker="o", label=stage)
    for axis, title, unit in ((left, "Seconds (time ~ rows^k)", "seconds"), (right, "Peak memory", "MB (max RSS)")):
        axis.set(xscale="log", yscale="log", xlabel="rows", ylabel=unit, title=title)
        axis.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def table(scale: dict) -> str:
    lines = [f"{'stage':<18}{'rows':>10}{'seconds':>10}{'peak MB':>10}  exponent (largest two)  bytes/row"]
    for stage, curve in scale["stages"].items():
        for index, (rows, s, m) in enumerate(zip(curve["rows"], curve["seconds"], curve["peak_mb"], strict=True)):
            fitted = f"{curve['time_exponent']} ({curve['time_exponent_largest']})  {curve['bytes_per_row']:>9,}"
            lines.append(
                f"{stage if index == 0 else '':<18}{rows:>10,}{s:>10.1f}{m:>10.0f}  {fitted if index == 0 else ''}"
            )
    for stage, fits in scale["sizing"].items():
        lines.append(f"rows that fit, {stage}: " + ", ".join(f"{k} {v:,}" for k, v in fits.items()))
    return "\n".join(lines)


# --- the Transform measurement's own process -------------------------------------------------------------------


def mini_batches(path: Path, limit: int = MINI_BATCH_BYTES):
    """Whole lines of `path`, at most `limit` bytes a batch. Batch Transform fails a record above MaxPayloadInMB;
    so does this."""
    with open(path, "rb") as handle:
        carry = b""
        while chunk := carry + handle.read(limit - len(carry)):
            cut = chunk.rfind(b"\n") + 1
            if cut == 0 and len(chunk) == limit:
                raise ValueError(f"a line of {path} is longer than the {limit}-byte mini-batch")
            cut = cut or len(chunk)  # the last line, without a newline
            yield chunk[:cut]
            carry = chunk[cut:]


def _run_transform(flavour: str, features_dir: str, model_dir: str, source: str, destination: str) -> None:
    from benchmarks.throughput import _module

    features = _module(CODE / "features" / "inference.py", "scale_features_inference")
    model_code = _module(CODE / f"{flavour}_model" / "inference.py", f"scale_{flavour}_inference")
    transformer, model = features.model_fn(features_dir), model_code.model_fn(model_dir)
    with open(destination, "wb") as output:
        for body in mini_batches(Path(source)):
            matrix, content_type = features.output_fn(
                features.predict_fn(features.input_fn(body, "text/csv"), transformer), "application/x-npy"
            )
            predictions = model_code.predict_fn(model_code.input_fn(matrix, content_type), model)
            output.write(model_code.output_fn(predictions, "text/csv")[0])


if __name__ == "__main__" and sys.argv[1:2] == ["transform"]:
    _run_transform(*sys.argv[2:7])
