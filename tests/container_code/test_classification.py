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
    extract_transformer,
    preprocess,
    preprocess_arguments,
    raw_rows,
    run_script,
    train,
)

QUICK = {
    "sklearn": ["--max-iter", "30"],
    "pytorch": ["--epochs", "8", "--batch-size", "32", "--hidden-sizes", "16", "--embedding-frequencies", "2"],
}


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    """Two numeric features and a text one; `answer` is yes/no, `tier` has three labels (one with a comma)."""
    rng = np.random.RandomState(3)
    rows = 240
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    colour = rng.choice(["red", "blue"], rows)
    answer = np.where(x1 + x2 + (colour == "red") > 0.5, "yes", "no")
    tier = np.array(["low", "mid", "high, top"])[np.digitize(x1, [-0.5, 0.5])]
    return pd.DataFrame({"x1": x1.round(3), "x2": x2.round(3), "colour": colour, "answer": answer, "tier": tier})


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


@pytest.fixture(scope="module", params=["sklearn", "pytorch"])
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
