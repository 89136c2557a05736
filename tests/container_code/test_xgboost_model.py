"""The XGBoost flavour's container code on a user's CSV: train (early stopping, UBJSON model), serve, evaluate."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from tests.container_code.conftest import load_handlers
from tests.container_code.helpers import CODE, METRIC, evaluate, extract_transformer, preprocess, raw_rows, train

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
    _, log, _ = train("xgboost", processed, tmp_path, "--num-round", "5000", "--early-stopping-rounds", "5")
    summary = json.loads((tmp_path / "xgboost_output" / "training_summary.json").read_text())
    assert len(METRIC.findall(log)) == summary["best_round"] + 5 + 1  # the rounds logged + the final line
    assert summary["best_round"] < 5000


def test_the_artifact_is_the_ubjson_booster_and_the_serving_code(trained):
    """No pickle: the booster in xgboost's own UBJSON format, and the handlers a network-isolated container reads."""
    model_dir, _, _ = trained
    files = {path.relative_to(model_dir).as_posix() for path in model_dir.rglob("*") if path.is_file()}
    assert files == {"xgboost-model.ubj", "code/inference.py", "code/model_io.py"}
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
    expected = loaded.predict(xgb.DMatrix(np.asarray(matrix, dtype=np.float32)))
    np.testing.assert_allclose(served, expected, rtol=1e-6)


def test_an_empty_request_gives_no_predictions(trained):
    model_dir, _, _ = trained
    model = load_handlers("xgboost_model")
    loaded = model.model_fn(str(model_dir))
    assert model.predict_fn(np.zeros((0, loaded.num_features()), dtype=np.float32), loaded).shape == (0,)


@pytest.mark.parametrize(
    ("hyperparameters", "sentence"),
    [
        ((), "train: no data files in channel folder"),
        (("--eta", "-1"), "train: xgboost refused the training parameters:"),
    ],
)
def test_bad_input_ends_the_job_with_one_sentence_in_the_failure_file(processed, tmp_path, hyperparameters, sentence):
    from tests.container_code.helpers import run_script

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
