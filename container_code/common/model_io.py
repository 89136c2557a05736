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
import contextlib
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
    # Small data (README, "Small data"): the pipeline passes the setting cross_validation_below_rows; 0 = never.
    option("cross-validation-below-rows", type=int, default=0, help="cross-validate below this many rows; 0 = never")
    option("cross-validation-folds", type=int, default=CV_FOLDS)
    option("cross-validation-repeats", type=int, default=CV_REPEATS)
    # Tuning (README, "Tuning"): each trial logs "objective-loss=<value>;", the out-of-fold loss of this many folds.
    option(
        "objective-folds", type=int, default=0, help="log a cross-validated objective over this many folds; 0 = none"
    )
    # A tuning job "automatically sends an additional hyperparameter, _tuning_objective_metric" to each trial ("Define
    # metrics and environment variables"), which the images' toolkit passes on as an argument like any other.
    parser.add_argument("--_tuning_objective_metric", default="", help=argparse.SUPPRESS)
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
    """Exit status of `train(args)`, then of its cross-validation on small data: an InputError becomes the job's
    failure reason and status 2."""
    try:
        limit = max(SMALL_DATA_ROWS, args.cross_validation_below_rows)
        rows = rows_below((args.train, args.validation), limit)
        small = rows is not None and rows < SMALL_DATA_ROWS
        with one_thread() if small else contextlib.nullcontext():
            train(args)
            if rows is not None and rows < args.cross_validation_below_rows and one_process():
                loss = cross_validate(train, args)
            elif args.objective_folds:
                if not one_process():
                    raise InputError(
                        "tuning cross-validates each trial in one process: set training_instance_count to 1"
                    )
                loss = cross_validate(train, args, args.objective_folds, repeats=1, keep=False)
        if args.objective_folds:
            print(f"objective-loss={loss:.6f};", flush=True)
    except InputError as error:
        report_failure(args.output_data_dir, f"train: {error}")
        return 2
    return 0


# ---------------------------------------------------------------------------------------------------------------
# Cross-validation on small data: Evaluate judges the model on every row's out-of-fold prediction instead of one
# small test split (README, "Small data").

CV_FOLDS = 5
CV_REPEATS = 3
CV_SEED = 7
CV_FOLDER = "cross_validation"  # in the model artifact, beside the model: Evaluate reads it
CV_FILE = "out_of_fold.npz"
# Of each fold's training rows, this share is held back for the flavour's early stopping, as Preprocess holds back
# its validation split.
CV_EARLY_STOPPING_SHARE = 0.15


# Below this many training and validation rows a flavour's hyperparameters left unset take their small-data
# defaults (README, "Small data"): the large-data ones were tuned on 20,000 rows.
SMALL_DATA_ROWS = 2000


def with_row_defaults(args, rows: int, defaults: dict, small_data_defaults: dict):
    """A copy of `args` in which each hyperparameter left unset (None) takes its default for `rows` rows."""
    chosen = small_data_defaults if rows < SMALL_DATA_ROWS else defaults
    resolved = argparse.Namespace(**vars(args))
    for name, value in chosen.items():
        if getattr(resolved, name) is None:
            setattr(resolved, name, value)
    return resolved


def one_process() -> bool:
    """One instance and one process (cross-validation runs in one; distributed jobs train large data)."""
    hosts = json.loads(os.environ.get("SM_HOSTS") or '["algo-1"]')
    return len(hosts) == 1 and int(os.environ.get("WORLD_SIZE", "1")) == 1


def rows_below(folders, limit: int) -> int | None:
    """The rows in these channel folders (their files' lines), or None as soon as they reach `limit`: a large
    channel is read only that far."""
    count = 0
    for folder in map(Path, folders):
        for path in sorted(path for path in folder.glob("*") if path.is_file()) if folder.is_dir() else []:
            with open(path, "rb") as handle:
                for chunk in iter(lambda handle=handle: handle.read(1 << 20), b""):
                    count += chunk.count(b"\n")
                    if count >= limit:
                        return None
    return count


@contextlib.contextmanager
def one_thread():
    """The libraries' thread pools (OpenMP, BLAS; PyTorch's intra-op pool) limited to one thread, below
    SMALL_DATA_ROWS rows: there their threads mostly wait for each other (scikit-learn's cross-validation of 376 rows
    took 193 s with the default threads and 4.6 s with one, on 2 cores shared with other work; the same
    predictions)."""
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch else None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # not in every image: PyTorch's own pool is still limited below
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=1)
    with limits:
        if torch:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if torch:
                torch.set_num_threads(threads)


def fold_assignment(target: np.ndarray, folds: int, seed: int, classify: bool) -> np.ndarray:
    """Each row's fold 0..folds-1: a seeded shuffle dealt round-robin, per class for a classifier (stratified: every
    fold holds each class's rows in proportion, so every training part holds every class that has `folds` rows)."""
    generator = np.random.RandomState(seed)
    order = generator.permutation(len(target))
    if classify:
        order = order[np.argsort(target[order], kind="stable")]  # shuffled within each class, classes in turn
    assignment = np.empty(len(target), dtype=np.int64)
    assignment[order] = np.arange(len(target)) % folds
    return assignment


def cross_validate(train, args, folds: int | None = None, repeats: int | None = None, keep: bool = True) -> float:
    """Repeated k-fold cross-validation of the whole training procedure, `train(args)`, on the training and
    validation rows together: for each repeat and fold, train on the other folds (their last CV_EARLY_STOPPING_SHARE
    as the validation channel for early stopping), predict the fold with the flavour's own serving handlers. Returns
    the out-of-fold loss (RMSE or log loss), the mean over repeats. With `keep`, writes
    <model dir>/cross_validation/out_of_fold.npz, which Evaluate judges instead of the test split: target (train rows,
    then validation rows), folds (repeats x rows), predictions (repeats x rows: values, or repeats x rows x classes:
    probabilities). A tuning trial's objective on larger data is not kept: there Evaluate judges the test split."""
    import tempfile

    import inference  # the flavour's handlers, beside this file in the training image as in the artifact's code/

    folds_setting = "cross_validation_folds" if folds is None else "objective_folds"
    folds, repeats = folds or args.cross_validation_folds, repeats or args.cross_validation_repeats
    schema = read_schema(args.schema)
    x_train, y_train = read_channel(args.train)
    x_validation, y_validation = read_channel(args.validation)
    features, target = np.concatenate([x_train, x_validation]), np.concatenate([y_train, y_validation])
    classify = is_classification(schema)
    if folds < 2 or repeats < 1:
        raise InputError(f"{folds_setting} must be at least 2 and cross_validation_repeats at least 1")
    shape = (repeats, len(target)) + ((len(schema["classes"]),) if classify else ())
    predictions, assignments = np.zeros(shape), np.zeros(shape[:2], dtype=np.int64)
    print(f"cross-validating on {len(target)} rows: {folds} folds x {repeats} repeats", flush=True)
    with tempfile.TemporaryDirectory() as work:
        for repeat in range(repeats):
            assignments[repeat] = fold_assignment(target, folds, CV_SEED + repeat, classify)
            for fold in range(folds):
                held = assignments[repeat] == fold
                fitted = _fit_fold(train, args, Path(work) / f"{repeat}-{fold}", features[~held], target[~held])
                predicted = inference.predict_fn(features[held], inference.model_fn(str(fitted)))
                predictions[repeat, held] = predicted.probabilities if classify else np.asarray(predicted)
    if keep:
        folder = args.model_dir / CV_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / CV_FILE, target=target, folds=assignments, predictions=predictions, train_rows=len(y_train))
    scores = [log_loss(p, target.astype(np.int64)) if classify else rmse(p, target) for p in predictions]
    name = "logloss" if classify else "rmse"
    print(f"cross-validated {name} per repeat: {', '.join(f'{score:.6f}' for score in scores)}", flush=True)
    return float(np.mean(scores))


def _fit_fold(train, args, work: Path, features: np.ndarray, target: np.ndarray) -> Path:
    """Train the flavour on these rows (the last share as its validation channel), its log kept out of the job's
    (the pipeline's metric definitions read the job's log); returns the fitted model's folder."""
    cut = len(target) - max(1, int(round(len(target) * CV_EARLY_STOPPING_SHARE)))
    order = np.random.RandomState(CV_SEED).permutation(len(target))
    parts = {"train": order[:cut], "validation": order[cut:]}
    for name, rows in parts.items():
        (work / name).mkdir(parents=True)
        matrix = np.column_stack([target[rows], features[rows].astype(np.float64)])
        np.savetxt(work / name / f"{name}.csv", matrix, fmt=["%.15g"] + ["%.9g"] * features.shape[1], delimiter=",")
    fold_args = argparse.Namespace(**vars(args))
    fold_args.train, fold_args.validation = work / "train", work / "validation"
    fold_args.model_dir, fold_args.output_data_dir = work / "model", work / "output"
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        train(fold_args)
    return fold_args.model_dir


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
