"""What both model containers share: hyperparameter arguments, training channels, failure reports, the serving
code shipped in the model artifact, the request and response formats. One file, symlinked into sklearn_model/ and
pytorch_model/ so each folder still ships on its own."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

NPY = "application/x-npy"
# The serving handlers, copied into the model artifact under code/.
SERVING_FILES = ("inference.py", "model_io.py")


class InputError(Exception):
    """A problem with the job's data or hyperparameters: reported as one sentence, exit status 2."""


def hyperparameter_parser(description: str):
    """An argument parser with the SageMaker folders, and `option(name, ...)` for hyperparameters.

    SageMaker passes hyperparameter names as the user wrote them, so `option` accepts --a-b and --a_b."""
    parser = argparse.ArgumentParser(description=description)
    env = os.environ.get

    def option(name, **kwargs):
        parser.add_argument(*sorted({f"--{name}", f"--{name.replace('-', '_')}"}), **kwargs)

    option("model-dir", type=Path, default=Path(env("SM_MODEL_DIR", "/opt/ml/model")))
    option("train", type=Path, default=Path(env("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")))
    option("validation", type=Path, default=Path(env("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")))
    option("output-data-dir", type=Path, default=Path(env("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data")))
    return parser, option


def report_failure(output_data_dir: Path, sentence: str) -> None:
    """The sentence on stderr (the job log) and in <output>/failure, next to the output data folder: SageMaker
    returns the first 1024 characters of /opt/ml/output/failure as DescribeTrainingJob's FailureReason ("How Amazon
    SageMaker AI Processes Training Output"), and the framework images' toolkit (sagemaker-training >= 4.0.1) keeps
    a failure file the script wrote instead of writing its own."""
    print(sentence, file=sys.stderr)
    failure = output_data_dir.parent / "failure"
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(sentence + "\n", encoding="utf-8")


def run_training(train, args) -> int:
    """Exit status of `train(args)`: an InputError becomes the job's failure reason and status 2."""
    try:
        train(args)
    except InputError as error:
        report_failure(args.output_data_dir, f"train: {error}")
        return 2
    return 0


def ship_serving_code(model_dir: Path, code_dir: Path) -> None:
    """Copy the serving handlers into <model dir>/code: the model artifact then carries its own code, which a
    network-isolated serving container reads from SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code."""
    (model_dir / "code").mkdir(parents=True, exist_ok=True)
    for name in SERVING_FILES:
        shutil.copyfile(code_dir / name, model_dir / "code" / name)  # a symlinked file is copied as its content


def read_channel(folder: Path):
    """All CSV files in a channel folder (no header, target first): (features float32, target float64)."""
    paths = sorted(path for path in folder.glob("*") if path.is_file()) if folder.is_dir() else []
    if not paths:
        raise InputError(f"no data files in channel folder {folder}")
    data = pd.concat([pd.read_csv(path, header=None, dtype=np.float64) for path in paths]).to_numpy()
    return data[:, 1:].astype(np.float32), data[:, 0]


def write_summary(output_data_dir: Path, **summary) -> None:
    """training_summary.json among the job's output data: the best round and its validation RMSE."""
    output_data_dir.mkdir(parents=True, exist_ok=True)
    (output_data_dir / "training_summary.json").write_text(json.dumps(summary), encoding="utf-8")


def rmse(predictions: np.ndarray, target: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predictions - target) ** 2)))


def input_fn(request_body, request_content_type: str) -> np.ndarray:
    """Features from container 1 (.npy float32), or CSV rows of already transformed features."""
    content_type = request_content_type.split(";")[0].strip()
    body = request_body.encode("utf-8") if isinstance(request_body, str) else bytes(request_body)
    if content_type == NPY:
        return np.load(io.BytesIO(body), allow_pickle=False)
    if content_type == "text/csv":
        return np.loadtxt(io.BytesIO(body), delimiter=",", dtype=np.float32, ndmin=2)
    raise ValueError(f"unsupported content type {request_content_type!r}: send {NPY} or text/csv")


def output_fn(prediction: np.ndarray, accept: str):
    """One prediction a line, in request order. 17 significant digits round-trip a float64 exactly, and one
    %-format over the whole column was the fastest formatting measured (faster than repr, savetxt, pandas)."""
    values = np.asarray(prediction, dtype=np.float64).ravel().tolist()
    return (("%.17g\n" * len(values)) % tuple(values)).encode("ascii"), "text/csv"
