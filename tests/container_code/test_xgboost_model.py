"""The XGBoost flavour's container code on tiny data: train (objective per problem type, early stopping, UBJSON
model), serve (value, or label then class probabilities), evaluate."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from tests.container_code.conftest import load_handlers
from tests.container_code.helpers import (
    CODE,
    LOGLOSS_METRIC,
    METRIC,
    evaluate,
    extract_transformer,
    labelled_frame,
    preprocess,
    raw_rows,
    run_script,
    train,
)

xgb = pytest.importorskip("xgboost")  # pinned in requirements-dev.txt (xgboost-cpu, the image's version)

QUICK = ["--num_round", "60", "--early-stopping-rounds", "10", "--eta", "0.3", "--max-depth", "4"]


@pytest.fixture(scope="module")
def processed(mixed_data, tmp_path_factory):
    work = tmp_path_factory.mktemp("processed")
    return preprocess(mixed_data, work, "--target-column", "price", "--categorical-columns", "grade")


@pytest.fixture(scope="module")
def trained(processed, tmp_path_factory):
    work = tmp_path_factory.mktemp("xgboost")
    model_dir, log, _ = train("xgboost", processed, work, *QUICK)
    return model_dir, log, work


def test_training_logs_each_rounds_validation_rmse_and_keeps_the_best_round(trained):
    model_dir, log, work = trained
    values = [float(match) for match in METRIC.findall(log)]
    summary = json.loads((work / "xgboost_output" / "training_summary.json").read_text())
    assert len(values) >= 10
    assert summary["validation_rmse"] == pytest.approx(min(values), abs=1e-6)
    booster = xgb.Booster()
    booster.load_model(str(model_dir / "xgboost-model.ubj"))
    assert booster.num_boosted_rounds() == summary["best_round"]  # cut to the best round: serving needs no range


def test_early_stopping_ends_training_before_the_round_limit(processed, tmp_path):
    _, log, _ = train(
        "xgboost", processed, tmp_path, "--num-round", "5000", "--early-stopping-rounds", "5", "--nthread", "1"
    )
    summary = json.loads((tmp_path / "xgboost_output" / "training_summary.json").read_text())
    rounds = len(METRIC.findall(log)) - 1  # one line a round, then the best round's
    assert summary["best_round"] < rounds <= summary["best_round"] + 5 < 5000


def test_the_artifact_is_the_ubjson_booster_and_the_serving_code(trained):
    """No pickle: the booster in xgboost's own UBJSON format, and the handlers a network-isolated container reads."""
    model_dir, _, _ = trained
    files = {path.relative_to(model_dir).as_posix() for path in model_dir.rglob("*") if path.is_file()}
    assert files == {"xgboost-model.ubj", "schema.json", "code/inference.py", "code/model_io.py"}
    assert (model_dir / "xgboost-model.ubj").read_bytes()[:1] == b"{"  # a UBJSON object, not a pickle stream
    for name in ("inference.py", "model_io.py"):
        assert (model_dir / "code" / name).read_bytes() == (CODE / "xgboost_model" / name).read_bytes()


def test_serving_chain_predicts_what_the_booster_predicts(trained, processed, mixed_data):
    model_dir, _, _ = trained
    features, model = load_handlers("features"), load_handlers("xgboost_model")
    transformer = extract_transformer(processed)
    rows = mixed_data.drop(columns=["price"]).head(50)
    matrix = features.predict_fn(features.input_fn(raw_rows(rows), "text/csv"), transformer)
    npy, npy_type = features.output_fn(matrix, "text/csv")
    loaded = model.model_fn(str(model_dir))
    body, content_type = model.output_fn(model.predict_fn(model.input_fn(npy, npy_type), loaded), "text/csv")
    served = np.loadtxt(io.BytesIO(body))
    assert content_type == "text/csv" and served.shape == (50,)
    expected = loaded.booster.predict(xgb.DMatrix(np.asarray(matrix, dtype=np.float32)))
    np.testing.assert_allclose(served, expected, rtol=1e-6)


def test_an_empty_request_gives_no_predictions(trained):
    model_dir, _, _ = trained
    model = load_handlers("xgboost_model")
    loaded = model.model_fn(str(model_dir))
    assert model.predict_fn(np.zeros((0, loaded.booster.num_features()), dtype=np.float32), loaded).shape == (0,)


@pytest.mark.parametrize(
    ("hyperparameters", "sentence"),
    [
        ((), "train: no data files in channel folder"),
        (("--eta", "-1"), "train: xgboost refused the training parameters:"),
    ],
)
def test_bad_input_ends_the_job_with_one_sentence_in_the_failure_file(processed, tmp_path, hyperparameters, sentence):
    channel = str(tmp_path / "missing") if not hyperparameters else str(processed / "train")
    env = {
        "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_CHANNEL_TRAIN": channel,
        "SM_CHANNEL_VALIDATION": str(processed / "validation") if hyperparameters else channel,
        "SM_OUTPUT_DATA_DIR": str(tmp_path / "output" / "data"),
    }
    result = run_script("xgboost_model/train.py", *hyperparameters, env=env, check=False)
    failure = (tmp_path / "output" / "failure").read_text()
    assert result.returncode == 2
    assert failure.startswith(sentence) and failure.count("\n") == 1 and "Traceback" not in failure


def test_evaluation_serves_the_xgboost_artifact_and_beats_the_mean(trained, processed, tmp_path):
    model_dir, _, _ = trained
    report = evaluate("xgboost", processed, model_dir, tmp_path, "price")
    rmse = report["regression_metrics"]["rmse"]["value"]
    assert report["row_count"] > 0
    assert rmse < report["baseline_metrics"]["training_mean"]["rmse"]["value"] * 0.5


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    return labelled_frame(seed=5, rows=300)


@pytest.mark.parametrize(
    ("target", "dropped", "classes", "objective"),
    [
        ("answer", "tier", ["no", "yes"], "binary:logistic"),
        ("tier", "answer", ["high, top", "low", "mid"], "multi:softprob"),
    ],
)
def test_classifiers_serve_the_label_then_the_class_probabilities(
    labelled, tmp_path, target, dropped, classes, objective
):
    data = labelled.drop(columns=[dropped])
    processed = preprocess(data, tmp_path, "--target-column", target)
    model_dir, log, _ = train("xgboost", processed, tmp_path, *QUICK)
    assert len(LOGLOSS_METRIC.findall(log)) >= 10 and not METRIC.findall(log)
    booster_config = json.loads(_booster(model_dir).save_config())
    assert booster_config["learner"]["objective"]["name"] == objective
    assert json.loads((model_dir / "schema.json").read_text())["classes"] == classes

    features, model = load_handlers("features"), load_handlers("xgboost_model")
    rows = data.drop(columns=[target])
    matrix = features.predict_fn(features.input_fn(raw_rows(rows), "text/csv"), extract_transformer(processed))
    npy, npy_type = features.output_fn(matrix, "text/csv")
    body, _ = model.output_fn(model.predict_fn(model.input_fn(npy, npy_type), model.model_fn(str(model_dir))), "")
    served = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert len(served) == len(rows) and all(len(row) == 1 + len(classes) for row in served)
    probabilities = np.array([[float(value) for value in row[1:]] for row in served])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    labels = [row[0] for row in served]
    assert labels == [classes[index] for index in probabilities.argmax(axis=1)]
    assert np.mean(np.array(labels) == data[target].to_numpy()) > 0.8  # learned, not just formatted


def _booster(model_dir):
    booster = xgb.Booster()
    booster.load_model(str(model_dir / "xgboost-model.ubj"))
    return booster


@pytest.mark.slow
def test_default_hyperparameters_meet_the_quality_goal_on_california_housing(housing, tmp_path):
    """The goal of the other tree model (scikit-learn): test RMSE <= 0.46 ($100k units; a linear model: ~0.75)."""
    processed = preprocess(housing, tmp_path, "--target-column", "MedHouseVal")
    model_dir, _, seconds = train("xgboost", processed, tmp_path)
    report = evaluate("xgboost", processed, model_dir, tmp_path, "MedHouseVal")
    rmse = report["regression_metrics"]["rmse"]["value"]
    print(f"xgboost: test RMSE {rmse:.4f} (goal <= 0.46), trained in {seconds:.1f} s")  # measured only
    assert report["row_count"] == 3096
    assert rmse <= 0.46
