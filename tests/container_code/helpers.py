"""Run the container scripts the way SageMaker does: a subprocess, arguments and SM_* variables, folders."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoreline.tarballs import deterministic_tarball
from tests.conftest import REPO_ROOT

CODE = REPO_ROOT / "container_code"
METRIC = re.compile(r"validation-rmse=([0-9\.]+)")  # the pipeline's metric definition regexes
LOGLOSS_METRIC = re.compile(r"validation-logloss=([0-9\.]+)")
# Each model flavour's library. The dev environment has all three; a framework image's environment (make test-images)
# has only what that image has, so the other flavours' tests skip there.
FLAVOUR_LIBRARY = {"sklearn": "sklearn", "pytorch": "torch", "xgboost": "xgboost"}


def flavours(*names: str) -> list:
    """Test parameters for these model flavours, each skipped where its library is not installed."""
    return [
        pytest.param(
            name,
            marks=pytest.mark.skipif(
                importlib.util.find_spec(FLAVOUR_LIBRARY[name]) is None,
                reason=f"{FLAVOUR_LIBRARY[name]} is not in this environment (a framework image's without it)",
            ),
        )
        for name in names
    ]


def run_script(script: str, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """`python <container_code/script> args` with the given extra environment; fails the test on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, str(CODE / script), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{script} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def preprocess(data: pd.DataFrame, work: Path, *args: str) -> Path:
    """Write `data` as the input CSV, run features/preprocess.py as the Preprocess step does (the features code
    archive as an input); returns its output folder."""
    (work / "input").mkdir(parents=True, exist_ok=True)
    data.to_csv(work / "input" / "data.csv", index=False)
    out = work / "processed"
    run_script("features/preprocess.py", *preprocess_arguments(work), "--output-dir", str(out), *args)
    return out


def preprocess_arguments(work: Path) -> list[str]:
    """--input-dir, --serving-code-dir (the features code archive, as CDK publishes it) and --message-file."""
    tar_folder(CODE / "features", work / "serving_code" / "features-code.gz")
    return [
        "--input-dir",
        str(work / "input"),
        "--serving-code-dir",
        str(work / "serving_code"),
        "--message-file",
        str(work / "output" / "message"),
    ]


def train(flavour: str, processed: Path, work: Path, *hyperparameters: str):
    """Run <flavour>_model/train.py with SageMaker's channel variables; returns (model dir, stdout, seconds)."""
    model_dir = work / f"{flavour}_model"
    env = {
        "SM_MODEL_DIR": str(model_dir),
        "SM_CHANNEL_TRAIN": str(processed / "train"),
        "SM_CHANNEL_VALIDATION": str(processed / "validation"),
        "SM_CHANNEL_SCHEMA": str(processed / "schema"),
        "SM_OUTPUT_DATA_DIR": str(work / f"{flavour}_output"),
    }
    started = time.perf_counter()
    result = run_script(f"{flavour}_model/train.py", *hyperparameters, env=env)
    return model_dir, result.stdout, time.perf_counter() - started


def tar_folder(source: Path, archive: Path) -> Path:
    """tar.gz of the folder's contents at the archive root (how code and model artifacts are shipped)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(deterministic_tarball(source))
    return archive


def evaluate(flavour: str, processed: Path, model_dir: Path, work: Path, target_column: str, *args: str) -> dict:
    """Lay out the Evaluate step's inputs as the pipeline does, run evaluation/evaluate.py, return its report."""
    inputs = work / "evaluation_input"
    (inputs / "test").mkdir(parents=True, exist_ok=True)
    (inputs / "test" / "test.csv").write_bytes((processed / "test" / "test.csv").read_bytes())
    (inputs / "train").mkdir(exist_ok=True)  # the transformed training split, for the baselines
    (inputs / "train" / "train.csv").write_bytes((processed / "train" / "train.csv").read_bytes())
    (inputs / "validation").mkdir(exist_ok=True)  # with train: the rows cross-validated on small data
    (inputs / "validation" / "validation.csv").write_bytes((processed / "validation" / "validation.csv").read_bytes())
    (inputs / "features_model").mkdir(exist_ok=True)
    (inputs / "features_model" / "model.tar.gz").write_bytes((processed / "model" / "model.tar.gz").read_bytes())
    tar_folder(model_dir, inputs / "model" / "model.tar.gz")
    output = work / "evaluation_output"
    run_script(
        "evaluation/evaluate.py",
        "--target-column",
        target_column,
        "--input-dir",
        str(inputs),
        "--output-dir",
        str(output),
        "--message-file",
        str(work / "evaluation_message"),
        *args,
    )
    return json.loads((output / "evaluation.json").read_text())


def extract_transformer(processed: Path) -> dict:
    with tarfile.open(processed / "model" / "model.tar.gz") as tar:
        return json.load(tar.extractfile("transformer.json"))


def raw_rows(frame: pd.DataFrame) -> bytes:
    """Rows as a client sends them to the features container: CSV, no header, no index."""
    buffer = io.StringIO()
    frame.to_csv(buffer, header=False, index=False)
    return buffer.getvalue().encode("utf-8")


def labelled_frame(seed: int, rows: int) -> pd.DataFrame:
    """Two numeric features and a text one; `answer` is yes/no (binary, text labels), `tier` has three labels, one
    with a comma (multiclass)."""
    rng = np.random.RandomState(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    colour = rng.choice(["red", "blue"], rows)
    answer = np.where(x1 + x2 + (colour == "red") > 0.5, "yes", "no")
    tier = np.array(["low", "mid", "high, top"])[np.digitize(x1, [-0.5, 0.5])]
    return pd.DataFrame({"x1": x1.round(3), "x2": x2.round(3), "colour": colour, "answer": answer, "tier": tier})
