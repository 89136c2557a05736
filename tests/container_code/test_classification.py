"""Classification through the container code on tiny data: the problem type inferred or checked at Preprocess, the
schema, both flavours' training (log loss), and the serving output (label, then class probabilities)."""

import csv
import io
import json
import sys

import numpy as np
import pandas as pd
import pytest

from tests.container_code.conftest import load_handlers
from tests.container_code.helpers import (
    LOGLOSS_METRIC,
    evaluate,
    extract_transformer,
    flavours,
    labelled_frame,
    preprocess,
    preprocess_arguments,
    raw_rows,
    run_script,
    train,
)

QUICK = {
    "sklearn": ["--max-iter", "30"],
    "pytorch": ["--epochs", "8", "--batch-size", "32", "--hidden-sizes", "16", "--embedding-frequencies", "2"]
    # Every hyperparameter pinned (these rows would get the small-data defaults, which learn slower in 8 epochs).
    + ["--weight-decay", "0.01", "--embedding-sigma", "1.0"],
}


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    return labelled_frame(seed=3, rows=240)


def _preprocess_module():
    """features/preprocess.py, as the features handlers import it."""
    load_handlers("features")
    return sys.modules["preprocess"]


def _encode(values, problem_type="auto"):
    return _preprocess_module().encode_target(pd.Series(values, dtype=object), "y", problem_type)


@pytest.mark.parametrize(
    "values, problem_type, classes",
    [
        (["no", "yes", "no"], "binary", ["no", "yes"]),
        (["setosa", "virginica", "versicolor", "setosa"], "multiclass", ["setosa", "versicolor", "virginica"]),
        (["0", "1", "1", "0"], "binary", ["0", "1"]),
        (["2.5", "7.5", "2.5"], "binary", ["2.5", "7.5"]),
        (["10", "2", "3", "2", "1.0"], "multiclass", ["1", "2", "3", "10"]),  # numbers sort by value
        ([str(value) for value in range(11)], "regression", []),  # 11 whole numbers: more than 10 codes
        (["0.5", "1.25", "3.5", "1.0"], "regression", []),
    ],
)
def test_problem_type_is_inferred_from_the_target(values, problem_type, classes):
    resolved, found_classes, encoded = _encode(values)
    assert (resolved, found_classes) == (problem_type, classes)
    if classes:
        labels = [classes[int(index)] for index in encoded]
        expected = [c if not c.replace(".", "").isdigit() else str(float(c)).removesuffix(".0") for c in values]
        assert labels == expected


@pytest.mark.parametrize(
    "values, problem_type, reason",
    [
        (["a", "b", "a"], "regression", "has the non-numeric value 'a' (row 1)"),
        (["a", "b", "c"], "binary", "has 3 distinct values; binary needs exactly 2"),
        (["a", "b", "a"], "multiclass", "has 2 distinct values; use binary for 2"),
    ],
)
def test_an_explicit_problem_type_that_contradicts_the_data_is_one_sentence(values, problem_type, reason):
    with pytest.raises(_preprocess_module().InputError) as error:
        _encode(values, problem_type)
    assert str(error.value) == f"setting problem_type={problem_type}, but target column 'y' {reason}"


def test_too_many_text_labels_name_the_setting_and_the_first_text_value():
    values = [str(value) for value in range(150)] + ["n/a"]
    with pytest.raises(
        _preprocess_module().InputError, match=r"problem_type=auto.*151 distinct values.*'n/a' \(row 151\)"
    ):
        _encode(values)


def test_contradiction_fails_the_job_with_its_message(labelled, tmp_path):
    (tmp_path / "input").mkdir()
    labelled.to_csv(tmp_path / "input" / "data.csv", index=False)
    arguments = ["--target-column", "tier", "--problem-type", "binary", "--output-dir", str(tmp_path / "out")]
    result = run_script("features/preprocess.py", *arguments, *preprocess_arguments(tmp_path), check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    message = (tmp_path / "output" / "message").read_text(encoding="utf-8").strip()
    assert message == "preprocess: setting problem_type=binary, but target column 'tier' has 3 distinct values; " \
        "binary needs exactly 2"  # fmt: skip


@pytest.fixture(scope="module")
def processed(labelled, tmp_path_factory):
    """{target column: Preprocess output} for the binary and the multiclass target."""
    result = {}
    for target, other in (("answer", "tier"), ("tier", "answer")):
        work = tmp_path_factory.mktemp(target)
        result[target] = preprocess(labelled.drop(columns=[other]), work, "--target-column", target)
    return result


@pytest.mark.parametrize("target, problem_type, classes", [
    ("answer", "binary", ["no", "yes"]),
    ("tier", "multiclass", ["high, top", "low", "mid"]),
])  # fmt: skip
def test_schema_output_and_features_artifact_agree(processed, labelled, target, problem_type, classes):
    schema = json.loads((processed[target] / "schema" / "schema.json").read_text())
    transformer = extract_transformer(processed[target])
    assert schema == transformer["schema"]
    assert schema == {
        "target_column": target,
        "problem_type": problem_type,
        "classes": classes,
        "feature_names": transformer["feature_names"],
    }
    # The training split's target is the class index; the test split keeps the original labels.
    train_target = np.loadtxt(processed[target] / "train" / "train.csv", delimiter=",")[:, 0]
    assert set(train_target.tolist()) == set(range(len(classes)))
    test = pd.read_csv(processed[target] / "test" / "test.csv")
    assert set(test[target]) <= set(classes)


@pytest.fixture(scope="module", params=flavours("sklearn", "pytorch"))
def trained(request, processed, tmp_path_factory):
    """{target: (model dir, training log, output folder)} for one flavour."""
    result = {}
    for target, out in processed.items():
        work = tmp_path_factory.mktemp(f"{request.param}-{target}")
        model_dir, log, _ = train(request.param, out, work, *QUICK[request.param])
        result[target] = (model_dir, log, work / f"{request.param}_output")
    return request.param, result


def _served(flavour, model_dir, transformer, frame) -> list[list[str]]:
    """CSV rows -> features handlers -> .npy -> model handlers -> parsed CSV lines."""
    features, model = load_handlers("features"), load_handlers(f"{flavour}_model")
    matrix = features.predict_fn(features.input_fn(raw_rows(frame), "text/csv"), transformer)
    npy, npy_type = features.output_fn(matrix, "")
    loaded = model.model_fn(str(model_dir))
    body, content_type = model.output_fn(model.predict_fn(model.input_fn(npy, npy_type), loaded), "text/csv")
    assert content_type == "text/csv"
    return list(csv.reader(io.StringIO(body.decode("utf-8"))))


def test_training_logs_validation_logloss_and_keeps_the_schema(trained, processed):
    flavour, by_target = trained
    for target, (model_dir, log, output) in by_target.items():
        values = [float(value) for value in LOGLOSS_METRIC.findall(log)]
        assert len(values) >= 4, log
        assert "validation-rmse" not in log
        summary = json.loads((output / "training_summary.json").read_text())
        assert summary["validation_logloss"] == pytest.approx(min(values), abs=1e-6)
        schema = json.loads((processed[target] / "schema" / "schema.json").read_text())
        assert json.loads((model_dir / "schema.json").read_text()) == schema


@pytest.mark.parametrize("target", ["answer", "tier"])
def test_serving_returns_the_label_then_one_probability_per_class(trained, processed, target):
    flavour, by_target = trained
    model_dir = by_target[target][0]
    transformer = extract_transformer(processed[target])
    classes = transformer["schema"]["classes"]
    test = pd.read_csv(processed[target] / "test" / "test.csv")
    lines = _served(flavour, model_dir, transformer, test.drop(columns=[target]))
    assert len(lines) == len(test)
    probabilities = np.array([[float(value) for value in line[1:]] for line in lines])
    assert probabilities.shape == (len(test), len(classes))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert [line[0] for line in lines] == [classes[i] for i in probabilities.argmax(axis=1)]  # 'high, top' quoted
    accuracy = np.mean([line[0] == label for line, label in zip(lines, test[target], strict=True)])
    assert accuracy > 0.6  # a few iterations already beat chance (1/2, 1/3)


def test_output_fn_formats_labels_and_probabilities():
    model_io = load_handlers("sklearn_model")
    predicted = model_io.ClassProbabilities(np.array([[0.12, 0.88], [0.5, 0.5]]), ["no", 'say "yes", now'])
    body, content_type = model_io.output_fn(predicted, "text/csv")
    assert body.decode() == '"say ""yes"", now",0.120000,0.880000\nno,0.500000,0.500000\n'  # CSV quoting
    empty, _ = model_io.output_fn(model_io.ClassProbabilities(np.zeros((0, 2)), ["a", "b"]), "text/csv")
    assert empty == b""


def test_artifacts_without_a_schema_serve_as_regression(tmp_path):
    """A champion trained before classification existed has no schema.json: it is a regression model."""
    model_io = load_handlers("sklearn_model")
    assert model_io.load_schema(str(tmp_path))["problem_type"] == "regression"


# Evaluate reads the served CSV, whatever the flavour (both flavours' serving output is checked above): its own
# tests run on the sklearn models only, which keeps the fast suite short.
EVALUATED_FLAVOUR = pytest.mark.parametrize("trained", ["sklearn"], indirect=True)


def _evaluated(trained, processed, target, tmp_path, *args):
    flavour, by_target = trained
    return evaluate(flavour, processed[target], by_target[target][0], tmp_path, target, *args)


def _truth_and_served(trained, processed, target):
    flavour, by_target = trained
    transformer = extract_transformer(processed[target])
    test = pd.read_csv(processed[target] / "test" / "test.csv")
    lines = _served(flavour, by_target[target][0], transformer, test.drop(columns=[target]))
    return test[target].tolist(), lines, transformer["schema"]["classes"]


@EVALUATED_FLAVOUR
def test_binary_evaluation_has_the_model_quality_layout_and_independent_values(trained, processed, tmp_path):
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

    report = _evaluated(trained, processed, "answer", tmp_path)
    metrics = report["binary_classification_metrics"]
    assert set(metrics) == {"confusion_matrix", "recall", "precision", "accuracy", "f1", "auc"}
    assert (report["problem_type"], report["classes"]) == ("binary", ["no", "yes"])
    truth, lines, _ = _truth_and_served(trained, processed, "answer")
    predicted = [line[0] for line in lines]
    positive = [float(line[2]) for line in lines]  # classes[1] = "yes" is the positive class
    assert metrics["accuracy"]["value"] == pytest.approx(accuracy_score(truth, predicted))
    assert metrics["precision"]["value"] == pytest.approx(precision_score(truth, predicted, pos_label="yes"))
    assert metrics["recall"]["value"] == pytest.approx(recall_score(truth, predicted, pos_label="yes"))
    assert metrics["f1"]["value"] == pytest.approx(f1_score(truth, predicted, pos_label="yes"))
    assert metrics["auc"]["value"] == pytest.approx(roc_auc_score([t == "yes" for t in truth], positive), abs=1e-6)
    matrix = metrics["confusion_matrix"]
    assert matrix["yes"]["yes"] == sum(t == p == "yes" for t, p in zip(truth, predicted, strict=True))
    assert sum(count for row in matrix.values() for count in row.values()) == len(truth)


@EVALUATED_FLAVOUR
def test_multiclass_evaluation_has_weighted_f1_and_a_labelled_confusion_matrix(trained, processed, tmp_path):
    from sklearn.metrics import accuracy_score, f1_score

    report = _evaluated(trained, processed, "tier", tmp_path)
    metrics = report["multiclass_classification_metrics"]
    assert {"confusion_matrix", "accuracy", "weighted_f1"} <= set(metrics)
    truth, lines, classes = _truth_and_served(trained, processed, "tier")
    predicted = [line[0] for line in lines]
    assert metrics["accuracy"]["value"] == pytest.approx(accuracy_score(truth, predicted))
    assert metrics["weighted_f1"]["value"] == pytest.approx(f1_score(truth, predicted, average="weighted"))
    assert list(metrics["confusion_matrix"]) == classes == ["high, top", "low", "mid"]


@EVALUATED_FLAVOUR
def test_classification_baselines_and_the_gate_on_the_default_metric(trained, processed, tmp_path):
    from sklearn.linear_model import LogisticRegression

    report = _evaluated(trained, processed, "answer", tmp_path, "--min-improvement-over-baseline", "0.1")
    baselines = report["baseline_metrics"]
    assert set(baselines) == {"majority_class", "logistic_regression"}
    test = pd.read_csv(processed["answer"] / "test" / "test.csv")
    train_target = np.loadtxt(processed["answer"] / "train" / "train.csv", delimiter=",")[:, 0]
    majority = ["no", "yes"][int(np.bincount(train_target.astype(int)).argmax())]
    assert baselines["majority_class"]["accuracy"]["value"] == pytest.approx(np.mean(test["answer"] == majority))
    assert baselines["majority_class"]["auc"]["value"] == 0.5  # one score for every row
    # The numpy logistic regression agrees with scikit-learn's on nearly every test row.
    train = np.loadtxt(processed["answer"] / "train" / "train.csv", delimiter=",")
    reference = LogisticRegression(C=1e4, max_iter=5000).fit(train[:, 1:], train[:, 0])
    features = load_handlers("features")
    transformer = extract_transformer(processed["answer"])
    matrix = features.predict_fn(features.input_fn(raw_rows(test.drop(columns=["answer"])), "text/csv"), transformer)
    reference_accuracy = np.mean(np.array(["no", "yes"])[reference.predict(matrix).astype(int)] == test["answer"])
    assert baselines["logistic_regression"]["accuracy"]["value"] == pytest.approx(reference_accuracy, abs=0.05)
    gate = report["gate"]
    auc = report["binary_classification_metrics"]["auc"]["value"]
    best = max(b["auc"]["value"] for b in baselines.values())
    assert (gate["metric"], gate["metric_label"], gate["candidate"]) == ("auc", "AUC", auc)
    assert gate["candidate_score"] == pytest.approx(-(1 - auc))
    assert gate["baseline_limit"] == pytest.approx(1 - (1 - best) * 0.9)
    # The required score is the error the check lets the candidate have: its own, less the paired interval's low end.
    baseline = gate["checks"]["baseline"]
    assert gate["baseline_required_score"] == pytest.approx(gate["candidate_score"] + baseline["error_interval"][0])
    assert baseline["passed"] == (gate["candidate_score"] >= gate["baseline_required_score"])
    assert gate["champion"].startswith("none") and gate["champion_required_score"] == gate["candidate_score"]
    assert gate["regression_rmse"] == 0.0  # RmseThreshold does not apply


@EVALUATED_FLAVOUR
def test_gate_metric_by_setting_and_one_sentence_when_it_does_not_fit(trained, processed, tmp_path):
    report = _evaluated(trained, processed, "tier", tmp_path / "a", "--gate-metric", "accuracy")
    assert report["gate"]["candidate"] == report["multiclass_classification_metrics"]["accuracy"]["value"]
    with pytest.raises(AssertionError, match="evaluate.py exited 2") as failure:
        _evaluated(trained, processed, "tier", tmp_path / "b", "--gate-metric", "auc")
    assert "Traceback" not in str(failure.value)
    message = (tmp_path / "b" / "evaluation_message").read_text().strip()
    assert message == (
        "evaluate: setting gate_metric=auc does not apply to a multiclass problem (target column 'tier'); use auto "
        "or one of weighted_f1, accuracy"
    )
