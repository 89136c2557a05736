"""Evaluation (processing job, model image): score the raw test split through both serving containers' handlers.

Inputs under --input-dir: test/test.csv (raw, header, target included), features_model/model.tar.gz and
model/model.tar.gz, each carrying its container's handlers under code/ as the serving containers read them
(SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code).
Rows travel as in serving: CSV -> features handlers -> .npy -> model handlers -> CSV, with the handlers of the very
artifacts that get registered, so what is registered is what was measured. Writes <output-dir>/evaluation.json
with RMSE, MAE, R^2 and the row count. A problem with the inputs ends the job with one sentence in
--message-file, which SageMaker returns as the processing job's ExitMessage.
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

    def __init__(self, input_dir: str, work_dir: str):
        self.features, self.features_model = self._container(input_dir, work_dir, "features_model", "features")
        self.model, self.trained_model = self._container(input_dir, work_dir, "model", "model")

    @staticmethod
    def _container(input_dir: str, work_dir: str, name: str, label: str):
        """(handlers, loaded model) of one artifact, unpacked as the serving container unpacks it to /opt/ml/model."""
        archive = os.path.join(input_dir, name, "model.tar.gz")
        if not os.path.isfile(archive):
            raise InputError(f"no model artifact at {archive}")
        model_dir = extract(archive, os.path.join(work_dir, name))
        handlers = load_handlers(os.path.join(model_dir, "code"), f"{label}_inference")
        return handlers, handlers.model_fn(model_dir)

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
        predictions = np.concatenate(
            [
                chain.predict(to_csv(rows[start : start + ROWS_PER_REQUEST]))
                for start in range(0, len(rows), ROWS_PER_REQUEST)
            ]
        )
    report = {"regression_metrics": regression_metrics(target, predictions), "row_count": len(rows)}
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "evaluation.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    print(json.dumps(report))


if __name__ == "__main__":
    sys.exit(main())
