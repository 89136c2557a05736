"""Trained artifacts made by the shipped container scripts, run as SageMaker runs them (subprocesses with the
standard arguments and SM_* variables): feature builder, training, evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from demo.data import california_housing
from scoreline.tarballs import deterministic_tarball

REPO_ROOT = Path(__file__).resolve().parents[1]
CODE = REPO_ROOT / "container_code"
TARGET = "MedHouseVal"


@dataclass
class Artifacts:
    flavour: str
    features_dir: Path  # extracted features model.tar.gz
    model_dir: Path  # the training job's model folder
    processed: Path  # preprocess outputs: train/, validation/, test/, model/
    train_seconds: float
    log: str = ""  # the training script's standard output (its metrics, as the job's log holds them)


def housing(rows: int | None = None) -> pd.DataFrame:
    frame = california_housing()
    return frame.head(rows) if rows else frame


def build_features(data: pd.DataFrame, work: Path, target: str = TARGET, *arguments: str) -> Path:
    """Preprocess on `data`; `arguments` are more of its options (--seed: another split)."""
    (work / "input").mkdir(parents=True, exist_ok=True)
    data.to_csv(work / "input" / "data.csv", index=False)
    processed = work / "processed"
    _tar(CODE / "features", _folder(work / "serving-code") / "features-code.tar.gz")
    _run(
        [CODE / "features" / "preprocess.py", "--target-column", target, "--categorical-columns", ""]
        + ["--input-dir", work / "input", "--output-dir", processed, "--serving-code-dir", work / "serving-code"]
        + ["--message-file", work / "preprocess-message", *arguments]
    )
    with tarfile.open(processed / "model" / "model.tar.gz") as archive:
        archive.extractall(work / "features", filter="data")
    return processed


def train(flavour: str, processed: Path, work: Path, hyperparameters: dict[str, str] | None = None) -> Artifacts:
    model_dir = work / f"{flavour}-model"
    model_dir.mkdir(parents=True, exist_ok=True)
    environment = {
        "SM_MODEL_DIR": str(model_dir),
        "SM_CHANNEL_TRAIN": str(processed / "train"),
        "SM_CHANNEL_VALIDATION": str(processed / "validation"),
        "SM_CHANNEL_SCHEMA": str(processed / "schema"),
        "SM_OUTPUT_DATA_DIR": str(work / f"{flavour}-output"),
    }
    arguments = [part for key, value in (hyperparameters or {}).items() for part in (f"--{key}", value)]
    started = time.perf_counter()
    log = _run([CODE / f"{flavour}_model" / "train.py", *arguments], environment)
    return Artifacts(flavour, work / "features", model_dir, processed, time.perf_counter() - started, log)


def evaluate(artifacts: Artifacts, work: Path, target: str = TARGET) -> dict:
    """The pipeline's Evaluate step on these artifacts: its evaluation.json."""
    inputs = work / f"{artifacts.flavour}-evaluation-input"
    for name in ("test", "train", "features_model", "model"):
        (inputs / name).mkdir(parents=True, exist_ok=True)
    (inputs / "test" / "test.csv").write_bytes((artifacts.processed / "test" / "test.csv").read_bytes())
    # The transformed training split: Evaluate fits its linear baseline on it.
    (inputs / "train" / "train.csv").write_bytes((artifacts.processed / "train" / "train.csv").read_bytes())
    (inputs / "features_model" / "model.tar.gz").write_bytes(
        (artifacts.processed / "model" / "model.tar.gz").read_bytes()
    )
    _tar(artifacts.model_dir, inputs / "model" / "model.tar.gz")
    output = work / f"{artifacts.flavour}-evaluation"
    _run(
        [CODE / "evaluation" / "evaluate.py", "--target-column", target, "--input-dir", inputs, "--output-dir", output]
        + ["--message-file", work / "evaluate-message"]
    )
    return json.loads((output / "evaluation.json").read_text())


def linear_baseline_rmse(processed: Path, features_dir: Path) -> float:
    """Linear regression on the same transformed features, scored on the same raw test split."""
    from sklearn.linear_model import LinearRegression

    sys.path.insert(0, str(CODE / "features"))
    from preprocess import parse_rows, transform  # noqa: PLC0415

    train_matrix = np.loadtxt(processed / "train" / "train.csv", delimiter=",", ndmin=2)
    model = LinearRegression().fit(train_matrix[:, 1:], train_matrix[:, 0])
    transformer = json.loads((features_dir / "transformer.json").read_text())
    test = pd.read_csv(processed / "test" / "test.csv")
    request = test.drop(columns=[TARGET]).to_csv(index=False, header=False).encode()
    predictions = model.predict(transform(parse_rows(request, transformer), transformer))
    return float(np.sqrt(np.mean((predictions - test[TARGET].to_numpy()) ** 2)))


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _tar(folder: Path, destination: Path) -> None:
    destination.write_bytes(deterministic_tarball(folder))


def _run(command: list, environment: dict[str, str] | None = None) -> str:
    process = subprocess.run(
        [sys.executable, *map(str, command)],
        env={**os.environ, **(environment or {})},
        capture_output=True,
        text=True,
    )
    if process.returncode != 0:
        raise RuntimeError(f"{Path(str(command[0])).name} failed: {process.stderr.strip()[-2000:]}")
    return process.stdout
