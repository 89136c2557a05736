"""Evaluation (processing job, model image): score the raw test split through both serving containers' handlers.

Inputs under --input-dir: test/test.csv (raw, header, target included), train/train.csv (transformed, target
first, no header), features_model/model.tar.gz and model/model.tar.gz, each carrying its container's handlers under
code/ as the serving containers read them (SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code).
Rows travel as in serving: CSV -> features handlers -> .npy -> model handlers -> CSV, with the handlers of the very
artifacts that get registered, so what is registered is what was measured.

On the same test rows it also measures two baselines (the training mean; a least-squares linear model on the same
features) and, when --champion-model-uri is not "none", the champion: the approved version's two artifacts,
downloaded and served through their own handlers exactly like the candidate's. Writes <output-dir>/evaluation.json
in SageMaker's model-quality layout (regression_metrics.rmse/mae/r2 for the candidate) plus baseline_metrics,
champion_metrics and gate: the limits the pipeline's quality gate compares the candidate's RMSE with. A problem
with the inputs ends the job with one sentence in --message-file, which SageMaker returns as the ExitMessage.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import os
import sys
import tarfile
import tempfile

import numpy as np

NONE = "none"  # no champion (the TrainingData step's word for it)
# Requests to the serving chain are at most this many rows (a batch transform mini-batch is of this order).
ROWS_PER_REQUEST = 5000


class InputError(Exception):
    """A problem with the job's inputs: reported as one sentence, exit status 2."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Score the test split through the serving handlers")
    parser.add_argument("--target-column", required=True)
    parser.add_argument("--input-dir", default="/opt/ml/processing/input")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output/evaluation")
    parser.add_argument("--message-file", default="/opt/ml/output/message")
    parser.add_argument("--champion-arn", default=NONE)
    parser.add_argument("--champion-features-model-uri", default=NONE)
    parser.add_argument("--champion-model-uri", default=NONE)
    parser.add_argument("--min-improvement-over-baseline", type=float, default=0.05)
    parser.add_argument("--champion-tolerance", type=float, default=0.0)
    return parser.parse_args(argv)


def extract(archive: str, folder: str) -> str:
    os.makedirs(folder, exist_ok=True)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.9.17 / 3.12: refuse links and paths out of folder
            tar.extractall(folder, filter="data")
        else:
            tar.extractall(folder)
    return folder


def load_handlers(code_dir: str, module_name: str):
    """Import code_dir/inference.py under a unique name (both containers call theirs inference.py)."""
    entry = os.path.join(code_dir, "inference.py")
    if not os.path.isfile(entry):
        raise InputError(f"the model artifact has no code/inference.py ({code_dir}): it cannot be served")
    sys.path.insert(0, code_dir)  # lets the handlers import their neighbours, as in the container
    spec = importlib.util.spec_from_file_location(module_name, entry)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ServingChain:
    """The two containers' handlers in serving order."""

    def __init__(self, input_dir: str, work_dir: str, label: str = "candidate"):
        self.features, self.features_model = self._container(input_dir, work_dir, "features_model", f"{label}_features")
        self.model, self.trained_model = self._container(input_dir, work_dir, "model", f"{label}_model")

    @staticmethod
    def _container(input_dir: str, work_dir: str, name: str, label: str):
        """(handlers, loaded model) of one artifact, unpacked as the serving container unpacks it to /opt/ml/model."""
        archive = os.path.join(input_dir, name, "model.tar.gz")
        if not os.path.isfile(archive):
            raise InputError(f"no model artifact at {archive}")
        model_dir = extract(archive, os.path.join(work_dir, label))
        handlers = load_handlers(os.path.join(model_dir, "code"), f"{label}_inference")
        return handlers, handlers.model_fn(model_dir)

    def transform(self, csv_body: bytes) -> np.ndarray:
        """The features container's output for raw CSV rows: what the model container receives."""
        return np.asarray(
            self.features.predict_fn(self.features.input_fn(csv_body, "text/csv"), self.features_model), dtype=float
        )

    def feature_columns(self) -> list:
        return [column["name"] for column in self.features_model["columns"]]

    def predict(self, csv_body: bytes) -> np.ndarray:
        features = self.features.predict_fn(self.features.input_fn(csv_body, "text/csv"), self.features_model)
        npy_body, npy_type = self.features.output_fn(features, "application/x-npy")
        predictions = self.model.predict_fn(self.model.input_fn(npy_body, npy_type), self.trained_model)
        csv_out, _ = self.model.output_fn(predictions, "text/csv")
        return np.array(csv_out.decode("utf-8").split(), dtype=np.float64)


def read_test_split(path: str, target_column: str, feature_columns: list):
    """(raw feature rows in training order, target values): the raw text, exactly as a user would send it."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, records = rows[0], rows[1:]
    missing = [name for name in [target_column] + feature_columns if name not in header]
    if missing:
        raise InputError(f"{path} lacks columns {missing}; it has {header}")
    positions = [header.index(name) for name in feature_columns]
    target = np.array([float(record[header.index(target_column)]) for record in records])
    return [[record[position] for position in positions] for record in records], target


def to_csv(rows: list) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def regression_metrics(target: np.ndarray, predictions: np.ndarray) -> dict:
    errors = predictions - target
    total = float(np.sum((target - np.mean(target)) ** 2))
    return {
        "rmse": {"value": float(np.sqrt(np.mean(errors**2)))},
        "mae": {"value": float(np.mean(np.abs(errors)))},
        "r2": {"value": 1.0 - float(np.sum(errors**2)) / total if total > 0 else 0.0},
    }


def predict_all(predict, rows: list) -> np.ndarray:
    return np.concatenate(
        [predict(to_csv(rows[start : start + ROWS_PER_REQUEST])) for start in range(0, len(rows), ROWS_PER_REQUEST)]
    )


def read_train_split(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(features, target) of the transformed training split: target first, no header (Preprocess's layout)."""
    if not os.path.isfile(path):
        raise InputError(f"no training split at {path}")
    matrix = np.loadtxt(path, delimiter=",", ndmin=2)
    return matrix[:, 1:], matrix[:, 0]


def baseline_predictions(chain: ServingChain, train_path: str, rows: list) -> dict[str, np.ndarray]:
    """The baselines a model must beat: the training mean, and least squares on the same features."""
    train_x, train_y = read_train_split(train_path)
    design = np.column_stack([np.ones(len(train_x)), train_x])
    weights, *_ = np.linalg.lstsq(design, train_y, rcond=None)
    test_x = np.concatenate(
        [chain.transform(to_csv(rows[s : s + ROWS_PER_REQUEST])) for s in range(0, len(rows), ROWS_PER_REQUEST)]
    )
    return {
        "training_mean": np.full(len(rows), float(np.mean(train_y))),
        "linear": np.column_stack([np.ones(len(test_x)), test_x]) @ weights,
    }


def download_champion(args, work_dir: str) -> str | None:
    """The champion's two artifacts laid out like the candidate's inputs, or None without a champion."""
    uris = {"features_model": args.champion_features_model_uri, "model": args.champion_model_uri}
    if NONE in uris.values():
        return None
    import boto3  # in the framework images; only needed when there is a champion

    s3 = boto3.client("s3")
    folder = os.path.join(work_dir, "champion-input")
    for name, uri in uris.items():
        if not uri.startswith("s3://"):
            raise InputError(f"the champion's {name} artifact is not an S3 URI: {uri!r}")
        bucket, _, key = uri[5:].partition("/")
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        s3.download_file(bucket, key, os.path.join(folder, name, "model.tar.gz"))
    return folder


def gate(candidate: dict, baselines: dict, champion: dict | None, args) -> dict:
    """The limits the pipeline compares the candidate's RMSE with (its conditions compare, they cannot compute)."""
    rmse = candidate["rmse"]["value"]
    baseline_rmse = min(metrics["rmse"]["value"] for metrics in baselines.values())
    limits = {
        "baseline_rmse": baseline_rmse,
        "baseline_limit_rmse": baseline_rmse * (1.0 - args.min_improvement_over_baseline),
        "min_improvement_over_baseline": args.min_improvement_over_baseline,
        "champion_tolerance": args.champion_tolerance,
    }
    if champion is None:
        # No approved version yet: nothing to compare with, the champion condition holds.
        return {**limits, "champion_rmse": "none (no approved version)", "champion_limit_rmse": rmse}
    champion_rmse = champion["regression_metrics"]["rmse"]["value"]
    return {
        **limits,
        "champion_rmse": champion_rmse,
        "champion_limit_rmse": champion_rmse * (1.0 + args.champion_tolerance),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        evaluate(args)
    except InputError as error:
        report_failure(args.message_file, f"evaluate: {error}")
        return 2
    return 0


def report_failure(message_file: str, sentence: str) -> None:
    """The sentence on stderr (the job log) and in the processing job's message file: SageMaker returns its first
    1 KB as DescribeProcessingJob's ExitMessage ("Save and Access Metadata Information About Your Processing Job")."""
    print(sentence, file=sys.stderr)
    os.makedirs(os.path.dirname(message_file) or ".", exist_ok=True)
    with open(message_file, "w", encoding="utf-8") as handle:
        handle.write(sentence + "\n")


def evaluate(args) -> None:
    with tempfile.TemporaryDirectory() as work_dir:
        chain = ServingChain(args.input_dir, work_dir)
        rows, target = read_test_split(
            os.path.join(args.input_dir, "test", "test.csv"), args.target_column, chain.feature_columns()
        )
        if not rows:
            raise InputError("the test split has no rows")
        candidate = regression_metrics(target, predict_all(chain.predict, rows))
        baselines = {
            name: regression_metrics(target, predictions)
            for name, predictions in baseline_predictions(
                chain, os.path.join(args.input_dir, "train", "train.csv"), rows
            ).items()
        }
        champion = None
        champion_dir = download_champion(args, work_dir)
        if champion_dir:
            champion_chain = ServingChain(champion_dir, work_dir, label="champion")
            champion = {
                "model_package_arn": args.champion_arn,
                "regression_metrics": regression_metrics(target, predict_all(champion_chain.predict, rows)),
            }
    report = {
        "regression_metrics": candidate,
        "row_count": len(rows),
        "baseline_metrics": baselines,
        "champion_metrics": champion or {"model_package_arn": NONE},
        "gate": gate(candidate, baselines, champion, args),
    }
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "evaluation.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    print(json.dumps(report))


if __name__ == "__main__":
    sys.exit(main())
