"""What every model container shares: hyperparameter arguments, training channels, the problem's schema, failure
reports, the serving code shipped in the model artifact, the request and response formats. One file, symlinked
into each model folder (sklearn_model/, pytorch_model/, ...) so each folder still ships on its own.

The schema (Preprocess's schema/schema.json, the training job's `schema` channel) says what is predicted:
{"target_column", "problem_type": "regression" | "binary" | "multiclass", "classes": [labels, sorted],
"feature_names"}. Training copies it into the model folder, so serving knows the classes. Responses:
  regression      one number a line
  classification  one line a row: the predicted label, then one probability per class in `classes` order
                  (binary: classes[1] is the positive class), e.g. `yes,0.120000,0.880000`
Batch Transform with JoinSource=Input appends each output row to its input row for CSV ("DataProcessing",
SageMaker API reference), so scored lines read: input row, label, probabilities.
"""

from __future__ import annotations

import argparse
import csv
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
SCHEMA_FILE = "schema.json"
REGRESSION = "regression"
CLASSIFICATION = ("binary", "multiclass")
# A model artifact without schema.json (trained before classification existed) is a regression model.
REGRESSION_SCHEMA = {"target_column": "", "problem_type": REGRESSION, "classes": [], "feature_names": []}


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
    option("schema", type=Path, default=Path(env("SM_CHANNEL_SCHEMA", "/opt/ml/input/data/schema")))
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


def read_schema(folder: Path) -> dict:
    """The schema channel's schema.json; without the channel (a job started without it), regression."""
    path = Path(folder) / SCHEMA_FILE
    if not Path(folder).is_dir():
        return dict(REGRESSION_SCHEMA)
    if not path.is_file():
        raise InputError(f"the schema channel {folder} has no {SCHEMA_FILE}")
    schema = json.loads(path.read_text(encoding="utf-8"))
    problem_type = schema.get("problem_type")
    if problem_type not in (REGRESSION, *CLASSIFICATION):
        raise InputError(f"{path}: problem_type {problem_type!r} is not regression, binary or multiclass")
    if problem_type in CLASSIFICATION and len(schema.get("classes", [])) < 2:
        raise InputError(f"{path}: a {problem_type} problem needs at least two classes")
    return schema


def read_training_data(args):
    """(schema, features, target, validation features, validation target) from the job's three channels; for a
    classifier the targets are class indices, checked against the schema, and the training split holds two classes."""
    schema = read_schema(args.schema)
    features, target = read_channel(args.train)
    validation_features, validation_target = read_channel(args.validation)
    if is_classification(schema):
        target, validation_target = class_indices(target, schema), class_indices(validation_target, schema)
        if len(set(target.tolist())) < 2:
            raise InputError("the training split holds a single class: a classifier needs at least two")
    return schema, features, target, validation_features, validation_target


def save_schema(schema: dict, model_dir: Path) -> None:
    """schema.json into the model folder: the serving container reads the classes from it."""
    Path(model_dir).mkdir(parents=True, exist_ok=True)
    (Path(model_dir) / SCHEMA_FILE).write_text(json.dumps(schema, indent=1), encoding="utf-8")


def load_schema(model_dir: str) -> dict:
    """The model folder's schema.json at serving time (regression when absent)."""
    path = os.path.join(model_dir, SCHEMA_FILE)
    if not os.path.isfile(path):
        return dict(REGRESSION_SCHEMA)
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def is_classification(schema: dict) -> bool:
    return schema["problem_type"] in CLASSIFICATION


def class_indices(target: np.ndarray, schema: dict) -> np.ndarray:
    """Class indices 0..K-1 from a channel's target column, checked against the schema's classes."""
    indices = np.asarray(target).astype(np.int64)
    if len(indices) and (indices.min() < 0 or indices.max() >= len(schema["classes"]) or (indices != target).any()):
        raise InputError(f"the target column holds values other than the class indices 0..{len(schema['classes']) - 1}")
    return indices


def log_loss(probabilities: np.ndarray, indices: np.ndarray) -> float:
    """Mean negative log-likelihood of the true classes (probabilities clipped away from 0)."""
    chosen = probabilities[np.arange(len(indices)), indices]
    return float(-np.mean(np.log(np.clip(chosen, 1e-15, 1.0))))


class ClassProbabilities:
    """What a classifier's predict_fn returns: one row of class probabilities per input row, in `classes` order,
    and the labels, so output_fn (which sees no model) can name the predicted class."""

    def __init__(self, probabilities: np.ndarray, classes: list):
        self.probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1, len(classes))
        self.classes = [str(label) for label in classes]

    def __len__(self) -> int:
        return len(self.probabilities)


def full_probabilities(probabilities: np.ndarray, seen_classes, class_count: int) -> np.ndarray:
    """Columns for every class 0..K-1: a model fitted on data missing a class gives that class probability 0."""
    full = np.zeros((len(probabilities), class_count), dtype=np.float64)
    full[:, np.asarray(seen_classes, dtype=np.int64)] = probabilities
    return full


def format_classification(predicted: ClassProbabilities) -> bytes:
    """`label,p_1,...,p_K` a row: the most probable class's original label (CSV-quoted when it needs it), then the
    probabilities in `classes` order with 6 decimals (ties go to the earlier class, as numpy's argmax does)."""
    labels = [_csv_field(label) for label in predicted.classes]
    best = np.argmax(predicted.probabilities, axis=1) if len(predicted) else np.zeros(0, dtype=np.int64)
    row = "%s" + ",%.6f" * len(labels) + "\n"
    rows = zip(best.tolist(), predicted.probabilities.tolist(), strict=True)
    lines = [row % (labels[index], *values) for index, values in rows]
    return "".join(lines).encode("utf-8")


def _csv_field(label: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([label])
    return buffer.getvalue()


def write_summary(output_data_dir: Path, **summary) -> None:
    """training_summary.json among the job's output data: the best round and its validation metric."""
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


def output_fn(prediction, accept: str):
    """One prediction a line, in request order. Regression: the value; 17 significant digits round-trip a float64
    exactly, and one %-format over the whole column was the fastest formatting measured (faster than repr,
    savetxt, pandas). Classification (a ClassProbabilities): the label, then the class probabilities."""
    if isinstance(prediction, ClassProbabilities):
        return format_classification(prediction), "text/csv"
    values = np.asarray(prediction, dtype=np.float64).ravel().tolist()
    return (("%.17g\n" * len(values)) % tuple(values)).encode("ascii"), "text/csv"
