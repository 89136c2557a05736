"""Both model flavours on a user's CSV (categorical column, missing values): train, serve, evaluate."""

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

from tests.container_code.conftest import load_handlers
from tests.container_code.helpers import (
    CODE,
    METRIC,
    evaluate,
    extract_transformer,
    flavours,
    preprocess,
    raw_rows,
    run_script,
    train,
)

# Few iterations: these tests check the plumbing, test_quality.py the learning.
QUICK = {
    "sklearn": ["--max_iter", "40", "--learning-rate", "0.2"],  # SageMaker may pass names with underscores
    "pytorch": ["--epochs", "40", "--batch-size", "32", "--hidden_sizes", "32,32", "--embedding-frequencies", "4"]
    # Every hyperparameter pinned, not left to the small-data defaults these 400 rows would get.
    + ["--weight-decay", "0.01", "--embedding-sigma", "1.0"],
}


@pytest.fixture(scope="module")
def processed(mixed_data, tmp_path_factory):
    work = tmp_path_factory.mktemp("processed")
    return preprocess(mixed_data, work, "--target-column", "price", "--categorical-columns", "grade")


@pytest.fixture(scope="module", params=flavours("sklearn", "pytorch"))
def trained(request, processed, tmp_path_factory):
    work = tmp_path_factory.mktemp(request.param)
    model_dir, log, _ = train(request.param, processed, work, *QUICK[request.param])
    return request.param, model_dir, log, work


def serve(flavour: str, model_dir, transformer: dict, body: bytes) -> bytes:
    """The two containers' handlers chained as in serving: CSV -> features -> .npy -> model -> CSV."""
    features, model = load_handlers("features"), load_handlers(f"{flavour}_model")
    matrix = features.predict_fn(features.input_fn(body, "text/csv"), transformer)
    npy, npy_type = features.output_fn(matrix, "text/csv")
    loaded = model.model_fn(str(model_dir))
    csv_out, csv_type = model.output_fn(model.predict_fn(model.input_fn(npy, npy_type), loaded), "text/csv")
    assert csv_type == "text/csv"
    return csv_out


def test_training_logs_validation_rmse_for_the_metric_definition(trained):
    flavour, model_dir, log, work = trained
    values = [float(match) for match in METRIC.findall(log)]
    assert len(values) >= 4
    summary = json.loads((work / f"{flavour}_output" / "training_summary.json").read_text())
    assert summary["validation_rmse"] == pytest.approx(min(values), abs=1e-6)


def test_model_artifacts_carry_their_serving_code(trained):
    """Both flavours: the handlers a network-isolated container reads from /opt/ml/model/code are in the artifact."""
    flavour, model_dir, _, _ = trained
    expected = {"sklearn": {"model.joblib"}, "pytorch": {"model.pth", "model_config.json"}}
    files = {path.relative_to(model_dir).as_posix() for path in model_dir.rglob("*") if path.is_file()}
    assert files == expected[flavour] | {"schema.json", "code/inference.py", "code/model_io.py"}
    for name in ("inference.py", "model_io.py"):
        assert (model_dir / "code" / name).read_bytes() == (CODE / f"{flavour}_model" / name).read_bytes()
        assert not (model_dir / "code" / name).is_symlink()


@pytest.mark.parametrize("flavour", flavours("sklearn", "pytorch"))
def test_training_failure_reason_is_written_to_the_failure_file(flavour, tmp_path):
    """SageMaker returns /opt/ml/output/failure as the training job's FailureReason: one sentence, no traceback."""
    env = {
        "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_CHANNEL_TRAIN": str(tmp_path / "missing"),
        "SM_CHANNEL_VALIDATION": str(tmp_path / "missing"),
        "SM_OUTPUT_DATA_DIR": str(tmp_path / "output" / "data"),
    }
    result = run_script(f"{flavour}_model/train.py", env=env, check=False)
    assert result.returncode == 2
    failure = (tmp_path / "output" / "failure").read_text(encoding="utf-8").strip()
    assert failure == f"train: no data files in channel folder {tmp_path / 'missing'}"
    assert "Traceback" not in result.stderr


def test_handler_chain_equals_in_process_prediction(trained, processed):
    flavour, model_dir, _, _ = trained
    transformer = extract_transformer(processed)
    test = pd.read_csv(processed / "test" / "test.csv").drop(columns=["price"])
    served = np.array((serve(flavour, model_dir, transformer, raw_rows(test))).decode().split(), dtype=np.float64)

    preprocess_module = load_handlers("features")  # imports preprocess.py, whose transform serving uses
    features = preprocess_module.transform(test, transformer)
    model = load_handlers(f"{flavour}_model")
    direct = np.asarray(model.model_fn(str(model_dir)).predict(features), dtype=np.float64)
    assert len(served) == len(test)
    np.testing.assert_array_equal(served, direct)


def test_model_container_also_accepts_csv(trained):
    flavour, model_dir, _, _ = trained
    model = load_handlers(f"{flavour}_model")
    loaded = model.model_fn(str(model_dir))
    matrix = np.random.RandomState(1).normal(size=(5, 8)).astype(np.float32)
    as_csv = "\n".join(",".join(repr(float(value)) for value in row) for row in matrix)
    npy = io.BytesIO()
    np.save(npy, matrix)
    from_csv = model.output_fn(model.predict_fn(model.input_fn(as_csv, "text/csv"), loaded), "text/csv")
    from_npy = model.output_fn(model.predict_fn(model.input_fn(npy.getvalue(), "application/x-npy"), loaded), "")
    assert from_csv == from_npy
    assert len(from_csv[0].decode().splitlines()) == 5


def test_evaluation_scores_through_the_handlers(trained, processed, mixed_data):
    flavour, model_dir, _, work = trained
    report = evaluate(flavour, processed, model_dir, work, "price")
    metrics = report["regression_metrics"]
    assert report["row_count"] == 60
    assert set(metrics) == {"rmse", "mae", "r2"}
    assert 0 < metrics["mae"]["value"] <= metrics["rmse"]["value"] < mixed_data["price"].std()
    assert metrics["r2"]["value"] > 0.3  # a few iterations already explain much of the price


def test_evaluation_of_an_artifact_without_its_code_is_one_sentence(trained, processed, tmp_path):
    """Evaluate serves what gets registered: an artifact without code/ cannot be served, so it is not measured."""
    flavour, model_dir, _, _ = trained
    without_code = tmp_path / "without-code"
    without_code.mkdir()
    for path in model_dir.iterdir():
        if path.is_file():
            (without_code / path.name).write_bytes(path.read_bytes())
    with pytest.raises(AssertionError, match=r"evaluate\.py exited 2") as failure:
        evaluate(flavour, processed, without_code, tmp_path, "price")
    assert "the model artifact has no code/inference.py" in str(failure.value)
    assert "Traceback" not in str(failure.value)
    assert "no code/inference.py" in (tmp_path / "evaluation_message").read_text()


def test_saved_model_is_the_best_one_on_validation(trained, processed):
    """Early stopping keeps the best iteration/epoch, not the last one trained."""
    flavour, model_dir, _, work = trained
    validation = np.loadtxt(processed / "validation" / "validation.csv", delimiter=",")
    model = load_handlers(f"{flavour}_model")
    predictions = model.predict_fn(validation[:, 1:].astype(np.float32), model.model_fn(str(model_dir)))
    rmse = float(np.sqrt(np.mean((predictions - validation[:, 0]) ** 2)))
    summary = json.loads((work / f"{flavour}_output" / "training_summary.json").read_text())
    assert rmse == pytest.approx(summary["validation_rmse"], rel=1e-6)


def _least_squares_rmse(processed) -> float:
    """The linear baseline computed independently: least squares on the transformed training split, applied to the
    test rows through the features handlers."""
    train = np.loadtxt(processed / "train" / "train.csv", delimiter=",", ndmin=2)
    weights, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(train)), train[:, 1:]]), train[:, 0], rcond=None)
    test = pd.read_csv(processed / "test" / "test.csv")
    features = load_handlers("features")
    transformer = extract_transformer(processed)
    names = [column["name"] for column in transformer["columns"]]
    matrix = features.predict_fn(features.input_fn(raw_rows(test[names]), "text/csv"), transformer)
    predictions = np.column_stack([np.ones(len(matrix)), np.asarray(matrix, dtype=float)]) @ weights
    return float(np.sqrt(np.mean((predictions - test["price"].to_numpy()) ** 2)))


def test_evaluation_measures_the_baselines_on_the_same_rows(trained, processed):
    flavour, model_dir, _, work = trained
    report = evaluate(flavour, processed, model_dir, work, "price", "--min-improvement-over-baseline", "0.1")
    baselines = report["baseline_metrics"]
    train_target = np.loadtxt(processed / "train" / "train.csv", delimiter=",", ndmin=2)[:, 0]
    test_target = pd.read_csv(processed / "test" / "test.csv")["price"].to_numpy()
    mean_rmse = float(np.sqrt(np.mean((test_target - train_target.mean()) ** 2)))
    assert baselines["training_mean"]["rmse"]["value"] == pytest.approx(mean_rmse)
    assert baselines["linear"]["rmse"]["value"] == pytest.approx(_least_squares_rmse(processed), rel=1e-6)
    gate = report["gate"]
    best = min(mean_rmse, baselines["linear"]["rmse"]["value"])
    assert gate["baseline_rmse"] == pytest.approx(best)
    assert gate["baseline_limit_rmse"] == pytest.approx(best * 0.9)
    # Without a champion the champion condition holds: its limit is the candidate's own RMSE.
    assert report["champion_metrics"] == {"model_package_arn": "none"}
    assert gate["champion_rmse"].startswith("none")
    assert gate["champion_limit_rmse"] == report["regression_metrics"]["rmse"]["value"]


def test_a_model_that_does_not_beat_the_linear_baseline_fails_the_gate(trained, processed):
    """The price is linear in the features: a few boosting iterations or epochs do not beat least squares, so the
    gate's baseline limit is below the candidate's RMSE (the pipeline's CheckQuality then fails)."""
    flavour, model_dir, _, work = trained
    report = evaluate(flavour, processed, model_dir, work, "price")
    assert report["regression_metrics"]["rmse"]["value"] > report["gate"]["baseline_limit_rmse"]
    # The refusal says what the better baseline was and which setting, at which value, lets this candidate pass
    # (none when the error is over twice the baseline's: the setting goes down to -1).
    candidate, baseline = report["regression_metrics"]["rmse"]["value"], report["gate"]["baseline_rmse"]
    if candidate > 2 * baseline:
        assert report["gate"]["advice"].endswith("over twice its error, which no min_improvement_over_baseline allows.")
        return
    advice = re.fullmatch(
        r"the better baseline is the linear model \(test RMSE [\d.]+\); to register this candidate anyway, deploy \(or "
        r"make demo\) with -c min_improvement_over_baseline=(-?[\d.]+), or start the pipeline with parameter "
        r"MinImprovementOverBaseline=\1\.",
        report["gate"]["advice"],
    )
    assert advice, report["gate"]["advice"]
    assert candidate <= baseline * (1 - float(advice.group(1))) < candidate + 0.01 * baseline
