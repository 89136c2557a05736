"""Evaluation (processing job, model image): score the raw test split through both serving containers' handlers.

Inputs under --input-dir: test/test.csv (raw, header, target included), train/train.csv (transformed, target
first, no header), features_model/model.tar.gz and model/model.tar.gz, each carrying its container's handlers under
code/ as the serving containers read them (SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code).
Rows travel as in serving: CSV -> features handlers -> .npy -> model handlers -> CSV, with the handlers of the very
artifacts that get registered, so what is registered is what was measured.

The problem type and classes come from the features artifact (transformer.json's "schema", Preprocess's). On the
same test rows it also measures two baselines (regression: the training mean, least squares on the same features;
classification: the majority class with the training class frequencies, a logistic regression on the same
features) and, when --champion-model-uri is not "none", the champion: the approved version's two artifacts,
downloaded and served through their own handlers exactly like the candidate's.

Writes <output-dir>/evaluation.json in SageMaker's model-quality layout ("Model quality metrics and Amazon
CloudWatch monitoring": regression_metrics.{mae,mse,rmse,r2}; binary_classification_metrics.{confusion_matrix,
recall, precision, accuracy, f1, auc}; multiclass_classification_metrics.{confusion_matrix, accuracy,
weighted_recall, weighted_precision, weighted_f1}; each metric {"value": ...}, a confusion matrix
{actual label: {predicted label: count}}), plus baseline_metrics, champion_metrics and gate: the chosen metric
(--gate-metric; auto: rmse, auc, weighted_f1) and the scores the pipeline's condition compares, and "plots", what
the registry page draws from the candidate's test-split predictions (regression: sampled actual/predicted pairs;
binary: the ROC curve).

Also writes <output-dir>/drift_baseline.json, what the registered version's DriftCheckBaselines point at and every
scoring run's drift check compares with: the features artifact's baseline.json (the training split's distribution,
Preprocess's) plus "prediction", the distribution of the candidate's predictions on the test rows (regression: decile
bins, as a numeric feature; classification: the predicted labels' shares), and "prediction_fields", how many fields
a prediction takes in the transform output (1, or the label and K probabilities). Only Evaluate has both the
registered handlers and rows the model never saw, so the prediction baseline is made here, not in Preprocess.

Every metric comes with its noise: "standard_deviation" and a --confidence "interval" from a seeded bootstrap over
the evaluated rows (stratified by class for classification), the same resampled rows for every model, so the
comparisons are paired: each resample gives the candidate's error minus the other model's on the same rows.

The gate works on the metric's error: the value for rmse and mae, 1 - value for the others (accuracy, auc, f1,
r2, ...), and has three checks, each on the paired difference and its interval:
  signal    the candidate's error is clearly below the trivial baseline's (training mean, majority class): the whole
            interval of the difference is below 0; otherwise "no signal"
  baseline  the candidate's error is not clearly above the best baseline's times (1 - min improvement): the interval
            of the difference to that limit reaches 0 or below; a candidate as good as the baseline within noise passes
  champion  likewise against the champion's error times (1 + tolerance)
gate.*_required_score are the errors each check lets the candidate have, negated (higher is better, whatever the
metric), so the pipeline's conditions compare gate.candidate_score with them; gate.verdict says which check
refused, with the difference and its interval. A problem with the inputs ends the job with one sentence in
--message-file, which SageMaker returns as the ExitMessage.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import math
import os
import sys
import tarfile
import tempfile

import numpy as np

NONE = "none"  # no champion (the TrainingData step's word for it)
REGRESSION_SCHEMA = {"problem_type": "regression", "classes": []}
# Gate metrics per problem type, the default first (scoreline/settings.py GATE_METRICS holds the same).
GATE_METRICS = {
    "regression": ("rmse", "mae", "r2"),
    "binary": ("auc", "accuracy", "f1", "precision", "recall"),
    "multiclass": ("weighted_f1", "accuracy"),
}
LOWER_IS_BETTER = ("rmse", "mae")
METRIC_LABELS = {"rmse": "RMSE", "mae": "MAE", "r2": "R2", "auc": "AUC", "weighted_f1": "weighted F1"}
DRIFT_BASELINE_FILE = "drift_baseline.json"
BASELINE_QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]  # preprocess.py's decile bins
# Requests to the serving chain are at most this many rows (a batch transform mini-batch is of this order).
ROWS_PER_REQUEST = 5000
PLOT_PAIRS, ROC_POINTS = 300, 101  # the registry page's scatter and ROC curve (plots)
# The gate's noise (scoreline/settings.py gate_confidence has the same default): two-sided intervals at this level
# from this many bootstrap resamples of the evaluated rows, seeded, so the same inputs give the same report. Above
# RESAMPLED_ROWS rows x resamples, fewer resamples (at least MIN_RESAMPLES): the interval is narrow there anyway.
GATE_CONFIDENCE = 0.95
RESAMPLES = 1000
MIN_RESAMPLES = 200
RESAMPLED_ROWS = 50_000_000
BOOTSTRAP_SEED = 0
# The baselines that know nothing of the features: a candidate must be clearly better than these (signal).
TRIVIAL_BASELINES = ("training_mean", "majority_class")
# Small data: training cross-validates and leaves every row's out-of-fold predictions in the model artifact
# (model_io.CV_FOLDER / CV_FILE, the copy tested equal); Evaluate then judges on those (README, "Small data").
CV_FILE = os.path.join("cross_validation", "out_of_fold.npz")


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
    parser.add_argument("--min-improvement-over-baseline", type=float, default=0.0)
    parser.add_argument("--champion-tolerance", type=float, default=0.0)
    parser.add_argument("--gate-metric", default="auto", help="auto, or a metric of the problem type")
    parser.add_argument("--confidence", type=float, default=GATE_CONFIDENCE, help="level of the gate's intervals")
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
        # A features artifact from before classification has no schema: regression.
        self.schema = self.features_model.get("schema", REGRESSION_SCHEMA)

    def _container(self, input_dir: str, work_dir: str, name: str, label: str):
        """(handlers, loaded model) of one artifact, unpacked as the serving container unpacks it to /opt/ml/model."""
        archive = os.path.join(input_dir, name, "model.tar.gz")
        if not os.path.isfile(archive):
            raise InputError(f"no model artifact at {archive}")
        model_dir = extract(archive, os.path.join(work_dir, label))
        handlers = load_handlers(os.path.join(model_dir, "code"), f"{label}_inference")
        if name == "model":
            self.model_dir = model_dir
        return handlers, handlers.model_fn(model_dir)

    def transform(self, csv_body: bytes) -> np.ndarray:
        """The features container's output for raw CSV rows: what the model container receives."""
        return np.asarray(
            self.features.predict_fn(self.features.input_fn(csv_body, "text/csv"), self.features_model), dtype=float
        )

    def feature_columns(self) -> list:
        return [column["name"] for column in self.features_model["columns"]]

    def predict(self, csv_body: bytes) -> np.ndarray:
        """Regression: the values. Classification: (rows, 1 + K): the served label's class index, then the K
        class probabilities, parsed from the model container's CSV as a user would read it."""
        features = self.features.predict_fn(self.features.input_fn(csv_body, "text/csv"), self.features_model)
        npy_body, npy_type = self.features.output_fn(features, "application/x-npy")
        predictions = self.model.predict_fn(self.model.input_fn(npy_body, npy_type), self.trained_model)
        csv_out, _ = self.model.output_fn(predictions, "text/csv")
        if self.schema["problem_type"] == "regression":
            return np.array(csv_out.decode("utf-8").split(), dtype=np.float64)
        return parse_classified(csv_out.decode("utf-8"), self.schema["classes"])


def parse_classified(text: str, classes: list) -> np.ndarray:
    """`label,p_1,...,p_K` lines -> rows of (class index of the label, p_1, ..., p_K)."""
    index = {label: position for position, label in enumerate(classes)}
    rows = []
    for line in csv.reader(io.StringIO(text)):
        if len(line) != 1 + len(classes) or line[0] not in index:
            raise InputError(
                f"the model container returned {line!r}, not a label of {classes} and {len(classes)} probabilities"
            )
        rows.append([index[line[0]], *map(float, line[1:])])
    return np.array(rows, dtype=np.float64).reshape(-1, 1 + len(classes))


def read_test_split(path: str, target_column: str, feature_columns: list, schema: dict):
    """(raw feature rows in training order, target: values, or class indices): the raw text, as a user sends it."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, records = rows[0], rows[1:]
    missing = [name for name in [target_column] + feature_columns if name not in header]
    if missing:
        raise InputError(f"{path} lacks columns {missing}; it has {header}")
    positions = [header.index(name) for name in feature_columns]
    raw = [record[header.index(target_column)] for record in records]
    target = (
        np.array([float(value) for value in raw]) if schema["problem_type"] == "regression" else _indices(raw, schema)
    )
    return [[record[position] for position in positions] for record in records], target


def _indices(labels: list, schema: dict) -> np.ndarray:
    """Class indices of raw test labels; numbers are matched as Preprocess wrote them (1.0 -> "1")."""
    index = {label: position for position, label in enumerate(schema["classes"])}
    numeric = all(_is_number(label) for label in schema["classes"])
    found = []
    for label in labels:
        key = _number_label(float(label)) if numeric and _is_number(label) else label
        if key not in index:
            raise InputError(f"test label {label!r} is not one of the classes {schema['classes']}")
        found.append(index[key])
    return np.array(found, dtype=np.int64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number_label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


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


def confusion(truth: np.ndarray, predicted: np.ndarray, count: int) -> np.ndarray:
    """counts[actual, predicted]."""
    counts = np.zeros((count, count), dtype=np.int64)
    np.add.at(counts, (truth, predicted), 1)
    return counts


def confusion_layout(counts: np.ndarray, classes: list) -> dict:
    """{actual label: {predicted label: count}}, the model-quality layout's confusion_matrix."""
    return {
        actual: {predicted: int(counts[i, j]) for j, predicted in enumerate(classes)}
        for i, actual in enumerate(classes)
    }


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return _ratio(2 * precision * recall, precision + recall)


def roc_auc(truth: np.ndarray, positive_probability: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random negative (ties count
    half), from average ranks (Mann-Whitney U)."""
    _, inverse, counts = np.unique(positive_probability, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse.ravel()]  # 1-based average rank of each tie group
    positives = int(truth.sum())
    negatives = len(truth) - positives
    return (float(ranks[truth == 1].sum()) - positives * (positives + 1) / 2.0) / (positives * negatives)


def binary_metrics(truth: np.ndarray, scored: np.ndarray, classes: list) -> dict:
    """classes[1] is the positive class. scored: (label index, p_0, p_1) rows."""
    predicted = scored[:, 0].astype(np.int64)
    counts = confusion(truth, predicted, 2)
    true_positives = counts[1, 1]
    precision = _ratio(true_positives, counts[:, 1].sum())
    recall = _ratio(true_positives, counts[1, :].sum())
    return {
        "confusion_matrix": confusion_layout(counts, classes),
        "recall": {"value": recall},
        "precision": {"value": precision},
        "accuracy": {"value": _ratio(np.trace(counts), len(truth))},
        "f1": {"value": _f1(precision, recall)},
        "auc": {"value": roc_auc(truth, scored[:, 2])},
    }


def multiclass_metrics(truth: np.ndarray, scored: np.ndarray, classes: list) -> dict:
    """Weighted precision, recall and F1: each class's, weighted by its share of the true labels."""
    predicted = scored[:, 0].astype(np.int64)
    counts = confusion(truth, predicted, len(classes))
    support = counts.sum(axis=1)
    precisions = [_ratio(counts[k, k], counts[:, k].sum()) for k in range(len(classes))]
    recalls = [_ratio(counts[k, k], support[k]) for k in range(len(classes))]
    f1s = [_f1(p, r) for p, r in zip(precisions, recalls, strict=True)]
    weights = support / max(int(support.sum()), 1)
    return {
        "confusion_matrix": confusion_layout(counts, classes),
        "accuracy": {"value": _ratio(np.trace(counts), len(truth))},
        "weighted_recall": {"value": float(np.dot(weights, recalls))},
        "weighted_precision": {"value": float(np.dot(weights, precisions))},
        "weighted_f1": {"value": float(np.dot(weights, f1s))},
    }


def metrics_section(schema: dict) -> str:
    """The model-quality layout's key for the problem type."""
    return {
        "regression": "regression_metrics",
        "binary": "binary_classification_metrics",
        "multiclass": "multiclass_classification_metrics",
    }[schema["problem_type"]]


def quality_metrics(schema: dict, target: np.ndarray, predictions: np.ndarray) -> dict:
    if schema["problem_type"] == "regression":
        return regression_metrics(target, predictions)
    if schema["problem_type"] == "binary":
        if len(set(target.tolist())) < 2:
            raise InputError(
                f"the test split holds only class {schema['classes'][int(target[0])]!r}: binary metrics such as AUC "
                "need both classes; add rows of the other class"
            )
        return binary_metrics(target, predictions, schema["classes"])
    return multiclass_metrics(target, predictions, schema["classes"])


def predict_all(predict, rows: list) -> np.ndarray:
    return np.concatenate(
        [predict(to_csv(rows[start : start + ROWS_PER_REQUEST])) for start in range(0, len(rows), ROWS_PER_REQUEST)]
    )


def plots(schema: dict, target: np.ndarray, candidate: np.ndarray) -> dict:
    """What the registry page draws from the candidate's test-split predictions, to 4 significant digits.
    Regression: up to PLOT_PAIRS (actual, predicted) pairs, chosen with a fixed seed. Binary: the ROC curve, (false
    positive rate, true positive rate) with the positive-class probability at least each of up to ROC_POINTS - 1
    thresholds (its quantiles), from (0, 0) to (1, 1), and its AUC. Multiclass: none (the confusion matrix shows it)."""
    if schema["problem_type"] == "regression":
        chosen = np.sort(np.random.default_rng(0).permutation(len(target))[:PLOT_PAIRS])
        return {"actual_predicted": [[_digits(target[i]), _digits(candidate[i])] for i in chosen]}
    if schema["problem_type"] != "binary":
        return {}
    score, positive = candidate[:, 2], target == 1
    thresholds = np.unique(np.quantile(score, np.linspace(0.0, 1.0, ROC_POINTS - 1)))[::-1]
    points = [[0.0, 0.0]] + [
        [_digits(np.mean(score[~positive] >= t)), _digits(np.mean(score[positive] >= t))] for t in thresholds
    ]
    return {"roc": {"points": points, "auc": _digits(roc_auc(target, score))}}


def _digits(value) -> float:
    return float(f"{float(value):.4g}")


def read_train_split(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(features, target) of the transformed training split: target first, no header (Preprocess's layout)."""
    if not os.path.isfile(path):
        raise InputError(f"no training split at {path}")
    matrix = np.loadtxt(path, delimiter=",", ndmin=2)
    return matrix[:, 1:], matrix[:, 0]


def baseline_predictions(chain: ServingChain, train_path: str, rows: list) -> dict[str, np.ndarray]:
    """The baselines a model must beat. Regression: the training mean, and least squares on the same features.
    Classification: the majority class (with the training class frequencies as its probabilities), and a
    logistic regression on the same features. Predictions come in the candidate's layout (see ServingChain)."""
    train_x, train_y = read_train_split(train_path)
    test_x = np.concatenate(
        [chain.transform(to_csv(rows[s : s + ROWS_PER_REQUEST])) for s in range(0, len(rows), ROWS_PER_REQUEST)]
    )
    return fit_baselines(chain.schema, train_x, train_y, test_x)


def fit_baselines(schema: dict, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> dict:
    """Each baseline fitted on the training rows, predicting the test rows (in the candidate's layout)."""
    if schema["problem_type"] != "regression":
        return classification_baselines(train_x, train_y.astype(np.int64), test_x, len(schema["classes"]))
    design = np.column_stack([np.ones(len(train_x)), train_x])
    weights, *_ = np.linalg.lstsq(design, train_y, rcond=None)
    return {
        "training_mean": np.full(len(test_x), float(np.mean(train_y))),
        "linear": np.column_stack([np.ones(len(test_x)), test_x]) @ weights,
    }


def cross_validated(chain: ServingChain, input_dir: str) -> tuple[np.ndarray, dict, str] | None:
    """Small data: (target, {model: one prediction array per repeat}, method) from the candidate's out-of-fold
    predictions, which training wrote into the artifact (model_io.cross_validate), and the baselines' on the same
    folds of the same rows (the training split's, then the validation split's); None without them."""
    path = os.path.join(chain.model_dir, CV_FILE)
    if not os.path.isfile(path):
        return None
    with np.load(path, allow_pickle=False) as saved:
        target, folds, predictions = saved["target"], saved["folds"], saved["predictions"]
    splits = [read_train_split(os.path.join(input_dir, name, f"{name}.csv")) for name in ("train", "validation")]
    x, y = np.concatenate([split[0] for split in splits]), np.concatenate([split[1] for split in splits])
    if len(y) != len(target) or not np.allclose(y, target):
        raise InputError(
            f"the model's out-of-fold predictions cover {len(target)} rows that are not the {len(y)} rows of the "
            "training and validation splits: the model was trained on other data"
        )
    schema = chain.schema
    classify = schema["problem_type"] != "regression"
    scored = {"candidate": [_as_scored(p) if classify else p for p in predictions]}
    for repeat in folds:
        fitted = {}
        for fold in np.unique(repeat):
            held = repeat == fold
            for name, values in fit_baselines(schema, x[~held], y[~held], x[held]).items():
                fitted.setdefault(name, np.zeros((len(y), *values.shape[1:])))[held] = values
        for name, values in fitted.items():
            scored.setdefault(name, []).append(values)
    folds_count, repeats = int(folds.max()) + 1, len(folds)
    method = (
        f"the {len(y)} training and validation rows' out-of-fold predictions ({folds_count}-fold cross-validation, "
        f"{repeats} repeats)"
    )
    return (y.astype(np.int64) if classify else y), scored, method


def classification_baselines(train_x, train_y, test_x, count: int) -> dict[str, np.ndarray]:
    frequencies = np.bincount(train_y, minlength=count) / len(train_y)
    prior = np.tile(frequencies, (len(test_x), 1))
    return {
        "majority_class": _as_scored(prior),
        "logistic_regression": _as_scored(_softmax(_design(test_x) @ fit_logistic(train_x, train_y, count))),
    }


def _as_scored(probabilities: np.ndarray) -> np.ndarray:
    """(label index, probabilities) rows, the label the most probable class (the first of ties)."""
    return np.column_stack([np.argmax(probabilities, axis=1), probabilities])


def _design(x: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(x)), x])


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fit_logistic(x: np.ndarray, y: np.ndarray, count: int, steps: int = 500, l2: float = 1e-4) -> np.ndarray:
    """Multinomial logistic regression (softmax, a little L2 on the weights, not the intercept) by accelerated
    gradient descent with the step 1/L, L bounding the loss's curvature (half the design's largest eigenvalue over
    n). Plain numpy: the evaluation image of every flavour has numpy, not necessarily scikit-learn."""
    design = _design(x)
    targets = np.eye(count)[y]
    gram = design.T @ design / len(design)
    curvature = 0.5 * float(np.linalg.eigvalsh(gram)[-1]) + l2
    weights = previous = np.zeros((design.shape[1], count))
    penalty = np.full((design.shape[1], 1), l2)
    penalty[0] = 0.0
    for step in range(1, steps + 1):
        look_ahead = weights + (step - 1) / (step + 2) * (weights - previous)
        gradient = design.T @ (_softmax(design @ look_ahead) - targets) / len(design) + penalty * look_ahead
        previous, weights = weights, look_ahead - gradient / curvature
    return weights


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


def gate_metric(requested: str, schema: dict) -> str:
    """The metric the gate uses: --gate-metric, or the problem type's default for auto."""
    allowed = GATE_METRICS[schema["problem_type"]]
    if requested == "auto":
        return allowed[0]
    if requested not in allowed:
        raise InputError(
            f"setting gate_metric={requested} does not apply to a {schema['problem_type']} problem (target "
            f"column {schema.get('target_column', '')!r}); use auto or one of {', '.join(allowed)}"
        )
    return requested


def metric_value(metrics: dict, metric: str) -> float:
    return float(metrics[metric]["value"])


def error_of(metric: str, value: float) -> float:
    """What the gate compares: lower is better. RMSE and MAE are errors already; 1 - value for the others."""
    return value if metric in LOWER_IS_BETTER else 1.0 - value


def value_of(metric: str, error: float) -> float:
    return error if metric in LOWER_IS_BETTER else 1.0 - error


class Noise:
    """The seeded bootstrap over the evaluated rows: every model's metrics on the same resampled rows.

    `scored` maps a model's name to its predictions: one array (a test split), or several (cross-validation's repeats,
    each row predicted once per repeat), whose metric is then the mean over the repeats."""

    def __init__(self, schema, target: np.ndarray, scored: dict[str, list], confidence: float, method: str, measured):
        self.schema, self.target, self.confidence, self.method = schema, target, confidence, method
        self.measured = measured  # how the report names the values: "test" or "cross-validated"
        self.rows = len(target)
        self.resamples = int(max(MIN_RESAMPLES, min(RESAMPLES, RESAMPLED_ROWS // max(self.rows, 1))))
        self.values: dict[str, dict[str, np.ndarray]] = {name: {} for name in scored}
        self.point = {name: mean_metrics(schema, target, predictions) for name, predictions in scored.items()}
        groups = self._groups()
        generator = np.random.default_rng(BOOTSTRAP_SEED)
        for resample in range(self.resamples):
            rows = np.concatenate([generator.choice(group, size=len(group)) for group in groups])
            for name, predictions in scored.items():
                for metric, value in mean_metrics(schema, target[rows], [p[rows] for p in predictions]).items():
                    self.values[name].setdefault(metric, np.empty(self.resamples))[resample] = value

    def _groups(self) -> list[np.ndarray]:
        """Rows resampled together: all of them (regression), or each class's own (classification: a resample
        keeps the class counts, so every metric is defined on it, AUC included)."""
        if self.schema["problem_type"] == "regression":
            return [np.arange(self.rows)]
        return [np.flatnonzero(self.target == k) for k in np.unique(self.target)]

    def interval(self, samples: np.ndarray) -> list[float]:
        tail = 50.0 * (1.0 - self.confidence)
        low, high = np.percentile(samples, [tail, 100.0 - tail])
        return [float(low), float(high)]

    def annotate(self, name: str, metrics: dict) -> dict:
        """`metrics` with each value's standard deviation and interval (the model-quality layout's
        standard_deviation, and the interval beside it)."""
        for metric, samples in self.values[name].items():
            metrics[metric].update(standard_deviation=float(np.std(samples)), interval=self.interval(samples))
        return metrics

    def described(self) -> str:
        level = f"{self.confidence:.0%}".replace(".0%", "%")
        return f"{level} interval, paired bootstrap ({self.resamples} resamples) over {self.method}"


def mean_metrics(schema: dict, target: np.ndarray, predictions: list) -> dict[str, float]:
    """Each metric's value (no confusion matrix), averaged over the prediction sets."""
    each = [quality_metrics(schema, target, p) for p in predictions]
    names = [metric for metric in each[0] if metric != "confusion_matrix"]
    return {metric: float(np.mean([one[metric]["value"] for one in each])) for metric in names}


def compare(metric: str, noise: Noise, other: str, factor: float) -> dict:
    """The candidate's error minus `factor` times `other`'s, on the evaluated rows and on each resample of them
    (paired: the same rows for both). Reported in the metric's units, candidate minus limit."""
    point = {name: noise.point[name][metric] for name in ("candidate", other)}
    limit = factor * error_of(metric, point[other])
    difference = error_of(metric, point["candidate"]) - limit
    samples = error_of(metric, noise.values["candidate"][metric]) - factor * error_of(
        metric, noise.values[other][metric]
    )
    low, high = noise.interval(samples)
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0  # errors back to the metric's units
    return {
        "against": other,
        "measured": noise.measured,
        "method": noise.described(),
        "candidate": point["candidate"],
        "value": point[other],
        "limit": value_of(metric, limit),
        "difference": sign * difference,
        "interval": sorted([sign * low, sign * high]),
        # What the pipeline's condition compares: the error this check lets the candidate have (see gate()).
        "error_difference": difference,
        "error_interval": [low, high],
    }


def gate(metric: str, candidate: dict, baselines: dict, champion: dict | None, args, noise: Noise, champion_noise=None):
    """The scores the pipeline's conditions compare (they compare, they cannot compute): the candidate's, and the
    ones each check lets it have (higher is better: the errors negated), with the same numbers in the metric's units
    for people, each check's paired difference and interval, and the verdict.

    A check "lets the candidate have" the error at which its rule would just hold: signal needs the interval's
    upper end below 0, so the candidate's error must be below its own minus that end; baseline and champion need
    the interval's lower end at or below 0, so the candidate may have its own error minus that end.
    `champion_noise`: where the champion was measured, if not with the rest (cross-validation: on the test split)."""
    point = {"candidate": metric_value(candidate, metric)}
    point.update({name: metric_value(metrics, metric) for name, metrics in baselines.items()})
    candidate_error = error_of(metric, point["candidate"])
    errors = {name: error_of(metric, point[name]) for name in baselines}
    best = min(errors, key=errors.get)
    trivial = next(name for name in baselines if name in TRIVIAL_BASELINES)
    checks = {
        "signal": compare(metric, noise, trivial, 1.0),
        "baseline": compare(metric, noise, best, 1.0 - args.min_improvement_over_baseline),
    }
    checks["signal"]["passed"] = checks["signal"]["error_interval"][1] < 0
    checks["baseline"]["passed"] = checks["baseline"]["error_interval"][0] <= 0
    baseline_limit = checks["baseline"]["limit"]
    block = {
        "metric": metric,
        "metric_label": METRIC_LABELS.get(metric, metric),
        "measured": noise.measured,
        "method": noise.described(),
        "candidate": point["candidate"],
        "baseline": point[best],
        "baseline_limit": baseline_limit,
        "candidate_score": -candidate_error,
        "signal_required_score": -(candidate_error - checks["signal"]["error_interval"][1]),
        "baseline_required_score": -(candidate_error - checks["baseline"]["error_interval"][0]),
        "min_improvement_over_baseline": args.min_improvement_over_baseline,
        "champion_tolerance": args.champion_tolerance,
        "confidence": noise.confidence,
        # The absolute RmseThreshold applies to regression only: 0 (always within) for classification.
        "regression_rmse": metric_value(candidate, "rmse") if "rmse" in candidate else 0.0,
    }
    if champion is None:
        # No comparable approved version: nothing to compare with, the champion condition holds.
        block.update(champion="none (no approved version)", champion_limit=point["candidate"])
        block["champion_required_score"] = -candidate_error
    else:
        checks["champion"] = compare(metric, champion_noise or noise, "champion", 1.0 + args.champion_tolerance)
        checks["champion"]["passed"] = checks["champion"]["error_interval"][0] <= 0
        block.update(champion=metric_value(champion, metric), champion_limit=checks["champion"]["limit"])
        block["champion_required_score"] = -(candidate_error - checks["champion"]["error_interval"][0])
    if "rmse" in candidate:
        block.update(_regression_gate(candidate, baselines, champion, args))
    block["checks"] = checks
    block["verdict"] = verdict(block)
    block["advice"] = gate_advice(metric, candidate_error, baselines, args, checks)
    return block


BASELINE_NAMES = {
    "training_mean": "the training mean",
    "linear": "the linear model",
    "majority_class": "the majority class",
    "logistic_regression": "the logistic regression",
    "champion": "the champion",
}


def verdict(block: dict) -> str:
    """Which checks refused the candidate, each with the paired difference and its interval, in one sentence."""
    label, checks = block["metric_label"], block["checks"]
    said = []
    signal = checks["signal"]
    if not signal["passed"]:
        said.append(
            f"no signal: the candidate's {_measured(signal, label)} is not clearly better than "
            f"{BASELINE_NAMES[signal['against']]}'s {signal['value']:.4g}{_difference(signal)}"
        )
    for name, worse in (("baseline", "the best baseline"), ("champion", "the champion")):
        check = checks.get(name)
        if check and not check["passed"]:
            said.append(
                f"worse than {worse}: the candidate's {_measured(check, label)} is clearly worse than the limit "
                f"{check['limit']:.4g} ({BASELINE_NAMES[check['against']]}'s {check['value']:.4g} with "
                f"{_allowance(name, block)}){_difference(check)}"
            )
    if not said:
        methods = sorted({check["method"] for check in checks.values()})
        return f"the candidate passes the signal, baseline and champion checks ({'; '.join(methods)})"
    return "; ".join(said)


def _measured(check: dict, label: str) -> str:
    return f"{check['measured']} {label} {check['candidate']:.4g}"


def _allowance(check: str, block: dict) -> str:
    if check == "baseline":
        return f"min_improvement_over_baseline={block['min_improvement_over_baseline']:g}"
    return f"champion_tolerance={block['champion_tolerance']:g}"


def _difference(check: dict) -> str:
    low, high = check["interval"]
    return f": difference {check['difference']:+.4g} ({low:+.4g} to {high:+.4g}, {check['method']})"


def gate_advice(metric: str, candidate_error: float, baselines: dict, args, checks: dict) -> str:
    """One sentence for a refused candidate: the better baseline, and the setting (with a value) that would have let
    this candidate through. The settings' limits (README, Settings): min_improvement_over_baseline down to -1.
    No setting lets a candidate without signal through."""
    label = METRIC_LABELS.get(metric, metric)
    errors = {name: error_of(metric, metric_value(metrics, metric)) for name, metrics in baselines.items()}
    best = min(errors, key=errors.get)
    best_value = value_of(metric, errors[best])
    measured = checks["baseline"]["measured"]
    said = f"the better baseline is {BASELINE_NAMES.get(best, best)} ({measured} {label} {best_value:.4g})"
    if not checks["signal"]["passed"]:
        trivial = BASELINE_NAMES[checks["signal"]["against"]]
        return (
            f"{said}; no setting registers a candidate that is not better than {trivial}: check that the features "
            "can predict the target column, or add rows."
        )
    fixes = []
    improvement = 1.0 - candidate_error / errors[best] if errors[best] > 0 else -1.0
    if not checks["baseline"]["passed"]:
        allowed = math.floor(improvement * 100) / 100  # rounded down, so the suggested value passes
        if allowed < -1.0:
            twice = "this candidate's error is over twice its error, which no min_improvement_over_baseline allows"
            return f"{said}; {twice}."
        fixes.append(("min_improvement_over_baseline", "MinImprovementOverBaseline", f"{allowed:g}"))
    if "champion" in checks and not checks["champion"]["passed"]:
        champion_error = error_of(metric, checks["champion"]["value"])  # both where the champion was measured
        mine = error_of(metric, checks["champion"]["candidate"])
        tolerance = mine / champion_error - 1.0 if champion_error > 0 else math.inf
        if math.isfinite(tolerance):
            needed = math.ceil(tolerance * 100) / 100  # rounded up, so the suggested value passes
            fixes.append(("champion_tolerance", "ChampionTolerance", f"{needed:g}"))
    if not fixes:
        return said + "."
    settings = " ".join(f"-c {setting}={value}" for setting, _, value in fixes)
    parameters = " and ".join(f"{parameter}={value}" for _, parameter, value in fixes)
    return (
        f"{said}; to register this candidate anyway, deploy (or make demo) with {settings}, "
        f"or start the pipeline with parameter {parameters}."
    )


def _regression_gate(candidate: dict, baselines: dict, champion: dict | None, args) -> dict:
    """The RMSE limits under their earlier names (readers of regression reports keep working)."""
    baseline_rmse = min(metric_value(metrics, "rmse") for metrics in baselines.values())
    limits = {
        "baseline_rmse": baseline_rmse,
        "baseline_limit_rmse": baseline_rmse * (1.0 - args.min_improvement_over_baseline),
    }
    if champion is None:
        return {
            **limits,
            "champion_rmse": "none (no approved version)",
            "champion_limit_rmse": metric_value(candidate, "rmse"),
        }
    champion_rmse = metric_value(champion, "rmse")
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
        schema = chain.schema
        metric = gate_metric(args.gate_metric, schema)
        section = metrics_section(schema)
        rows, target = read_test_split(
            os.path.join(args.input_dir, "test", "test.csv"), args.target_column, chain.feature_columns(), schema
        )
        if not rows:
            raise InputError("the test split has no rows")
        predictions = {"candidate": predict_all(chain.predict, rows)}
        predictions.update(baseline_predictions(chain, os.path.join(args.input_dir, "train", "train.csv"), rows))
        baseline = drift_baseline(os.path.join(work_dir, "candidate_features"), schema, predictions["candidate"])
        champion_report = {"model_package_arn": NONE}
        champion_dir = download_champion(args, work_dir)
        if champion_dir:
            champion_chain = ServingChain(champion_dir, work_dir, label="champion")
            champion_report = {"model_package_arn": args.champion_arn}
            reason = incomparable(champion_chain.schema, schema)
            if reason:
                champion_report["not_compared"] = reason
            else:
                predictions["champion"] = predict_all(champion_chain.predict, rows)
        small = cross_validated(chain, args.input_dir)
    scored = {name: [p] for name, p in predictions.items()}
    measured, noise = measure(schema, target, scored, args, f"the {len(rows)} test rows", "test")
    candidate, champion = measured.pop("candidate"), measured.pop("champion", None)
    if champion is not None:
        champion_report[section] = champion
    report = {section: candidate, "row_count": len(rows), "baseline_metrics": measured}
    if small:
        # Small data: the cross-validated figures decide and lead the report; the champion, a fixed model, is still
        # compared on the test split, and the candidate's test-split figures stay beside them.
        cv_target, cv_scored, method = small
        cv_measured, cv_noise = measure(schema, cv_target, cv_scored, args, method, "cross-validated")
        report = {"test_split": report, "evaluation_method": method, section: cv_measured.pop("candidate")}
        report.update(row_count=len(cv_target), baseline_metrics=cv_measured)
        block = gate(metric, report[section], cv_measured, champion, args, cv_noise, champion_noise=noise)
    else:
        block = gate(metric, candidate, measured, champion, args, noise)
    report.update(
        problem_type=schema["problem_type"], classes=schema["classes"], champion_metrics=champion_report, gate=block
    )
    found = plots(schema, target, predictions["candidate"])
    if found:
        report["plots"] = found
    if "not_compared" in champion_report:  # the champion condition holds, and the report says why
        report["gate"]["champion"] = f"none ({champion_report['not_compared']})"
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "evaluation.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    with open(os.path.join(args.output_dir, DRIFT_BASELINE_FILE), "w", encoding="utf-8") as handle:
        json.dump(baseline, handle, indent=1)
    print(json.dumps(report))


def drift_baseline(features_dir: str, schema: dict, predictions: np.ndarray) -> dict:
    """The features artifact's baseline.json with the predictions' distribution on the test rows added."""
    path = os.path.join(features_dir, "baseline.json")
    if not os.path.isfile(path):
        raise InputError("the features artifact has no baseline.json (made by an older Preprocess): run the pipeline")
    with open(path, encoding="utf-8") as handle:
        baseline = json.load(handle)
    if schema["problem_type"] == "regression":
        baseline["prediction"] = numeric_baseline(predictions)
        baseline["prediction_fields"] = 1
    else:
        labels = [schema["classes"][int(index)] for index in predictions[:, 0]]
        baseline["prediction"] = categorical_baseline(labels)
        baseline["prediction_fields"] = 1 + len(schema["classes"])
    return baseline


def numeric_baseline(values: np.ndarray) -> dict:
    """A copy of preprocess.py's numeric_baseline (tests/test_shipped_copies.py holds them equal)."""
    values = np.asarray(values, dtype=float)
    present = values[~np.isnan(values)]
    edges = np.unique(np.quantile(present, BASELINE_QUANTILES)) if len(present) else np.array([])
    counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
    return {
        "kind": "numeric",
        "edges": [float(edge) for edge in edges],
        "proportions": [float(count) / max(len(present), 1) for count in counts],
        "null_rate": 1.0 - len(present) / len(values) if len(values) else 0.0,
    }


def categorical_baseline(labels: list) -> dict:
    """Each label's share, as preprocess.py's categorical_baseline gives a text column's (no nulls here)."""
    levels, counts = np.unique(np.asarray(labels, dtype=str), return_counts=True)
    return {
        "kind": "categorical",
        "frequencies": {str(level): float(count) / len(labels) for level, count in zip(levels, counts, strict=True)},
        "null_rate": 0.0,
    }


def judge(schema: dict, metric: str, target: np.ndarray, scored: dict[str, list], args, method: str, measured="test"):
    """(candidate's metrics, baselines' metrics, champion's metrics or None, gate block) for the models' predictions
    of the same rows: `scored` maps "candidate", each baseline and "champion" (when compared) to a list of prediction
    arrays (one for a test split; one per repeat of cross-validation, whose values are the repeats' mean)."""
    metrics, noise = measure(schema, target, scored, args, method, measured)
    candidate, champion = metrics.pop("candidate"), metrics.pop("champion", None)
    return candidate, metrics, champion, gate(metric, candidate, metrics, champion, args, noise)


def measure(schema: dict, target: np.ndarray, scored: dict[str, list], args, method: str, measured: str):
    """({model: its metrics with their noise}, the Noise they were measured with)."""
    noise = Noise(schema, target, scored, args.confidence, method, measured)
    return {name: noise.annotate(name, point_metrics(schema, target, each)) for name, each in scored.items()}, noise


def point_metrics(schema: dict, target: np.ndarray, predictions: list) -> dict:
    """The model-quality layout for one or more prediction sets of the same rows: each value the sets' mean, the
    confusion matrix the first set's."""
    metrics = quality_metrics(schema, target, predictions[0])
    for metric, value in mean_metrics(schema, target, predictions).items():
        metrics[metric] = {"value": value}
    return metrics


def incomparable(champion_schema: dict, schema: dict) -> str:
    """Why the champion cannot be measured on these rows (another problem type or other classes), or ''."""
    if champion_schema["problem_type"] != schema["problem_type"]:
        kinds = champion_schema["problem_type"], schema["problem_type"]
        return "the champion solves a {} problem, the candidate a {} one".format(*kinds)
    if list(champion_schema["classes"]) != list(schema["classes"]):
        return f"the champion's classes {champion_schema['classes']} differ from the candidate's {schema['classes']}"
    return ""


if __name__ == "__main__":
    sys.exit(main())
