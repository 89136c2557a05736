"""Small data (README, "Small data"): below the row threshold, training cross-validates its whole procedure and
Evaluate judges every row's out-of-fold prediction, with the baselines cross-validated on the same folds."""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pytest

from tests.container_code.helpers import CODE, evaluate, flavours, preprocess, run_script, train

FOLDS, REPEATS = 5, 3


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    from demo.data import california_housing

    frame = california_housing().sample(n=300, random_state=3)
    return preprocess(frame, tmp_path_factory.mktemp("small"), "--target-column", "MedHouseVal")


def split(processed, name):
    matrix = np.loadtxt(processed / name / f"{name}.csv", delimiter=",", ndmin=2)
    return matrix[:, 1:], matrix[:, 0]


@pytest.fixture(scope="module", params=flavours("sklearn", "xgboost"))
def cross_validated(request, processed, tmp_path_factory):
    work = tmp_path_factory.mktemp(request.param)
    model_dir, log, _ = train(request.param, processed, work, "--cross-validation-below-rows", "2000")
    return request.param, model_dir, log, work


def test_training_below_the_threshold_leaves_every_rows_out_of_fold_predictions(cross_validated, processed):
    _, model_dir, log, _ = cross_validated
    with np.load(model_dir / "cross_validation" / "out_of_fold.npz") as saved:
        target, folds, predictions = saved["target"], saved["folds"], saved["predictions"]
    rows = np.concatenate([split(processed, "train")[1], split(processed, "validation")[1]])
    assert np.array_equal(target, rows)  # the training rows, then the validation rows
    assert folds.shape == predictions.shape == (REPEATS, len(rows))
    for repeat in folds:  # each repeat deals the rows into 5 folds of (nearly) equal size, each repeat differently
        assert len(np.bincount(repeat)) == FOLDS and np.bincount(repeat).max() - np.bincount(repeat).min() <= 1
    assert not np.array_equal(folds[0], folds[1])
    # Out of fold, yet better than the mean: the rows hold signal.
    assert np.sqrt(np.mean((predictions - target) ** 2)) < np.std(target)
    # The folds' own training logs stay out of the job's, whose validation-<metric>= lines the pipeline reads.
    assert "validation-" not in log[log.index("cross-validating on") :]


def test_evaluate_judges_the_cross_validated_figures_with_baselines_on_the_same_folds(cross_validated, processed):
    flavour, model_dir, _, work = cross_validated
    report = evaluate(flavour, processed, model_dir, work, "MedHouseVal")
    with np.load(model_dir / "cross_validation" / "out_of_fold.npz") as saved:
        target, folds, predictions = saved["target"], saved["folds"], saved["predictions"]
    assert report["evaluation_method"] == (
        f"the {len(target)} training and validation rows' out-of-fold predictions (5-fold cross-validation, 3 repeats)"
    )
    assert report["row_count"] == len(target)
    rmse = np.mean([np.sqrt(np.mean((p - target) ** 2)) for p in predictions])
    assert report["regression_metrics"]["rmse"]["value"] == pytest.approx(rmse)
    # The linear baseline, refitted here on each fold's other rows: the same figure.
    x = np.concatenate([split(processed, "train")[0], split(processed, "validation")[0]])
    per_repeat = []
    for repeat in folds:
        fitted = np.zeros(len(target))
        for fold in range(FOLDS):
            held = repeat == fold
            design = np.column_stack([np.ones((~held).sum()), x[~held]])
            weights = np.linalg.lstsq(design, target[~held], rcond=None)[0]
            fitted[held] = np.column_stack([np.ones(held.sum()), x[held]]) @ weights
        per_repeat.append(np.sqrt(np.mean((fitted - target) ** 2)))
    assert report["baseline_metrics"]["linear"]["rmse"]["value"] == pytest.approx(np.mean(per_repeat))
    gate = report["gate"]
    assert gate["measured"] == "cross-validated" and gate["candidate"] == report["regression_metrics"]["rmse"]["value"]
    assert gate["checks"]["baseline"]["method"].endswith("(5-fold cross-validation, 3 repeats)")
    # The test split's figures stay beside them, and the champion (none here) would be compared there.
    assert report["test_split"]["row_count"] == 45
    assert set(report["test_split"]["baseline_metrics"]) == {"training_mean", "linear"}


def test_above_the_threshold_nothing_changes(processed, tmp_path):
    model_dir, log, _ = train("sklearn", processed, tmp_path, "--cross-validation-below-rows", "200")
    assert not (model_dir / "cross_validation").exists() and "cross-validating" not in log
    report = evaluate("sklearn", processed, model_dir, tmp_path, "MedHouseVal")
    assert "evaluation_method" not in report and report["row_count"] == 45
    assert report["gate"]["measured"] == "test"


def test_out_of_fold_predictions_of_other_rows_are_one_sentence(cross_validated, processed, tmp_path):
    flavour, model_dir, _, _ = cross_validated
    other = tmp_path / "other"
    (other / "validation").mkdir(parents=True)
    for name in ("train", "test", "model", "schema"):
        (other / name).symlink_to(processed / name)
    x, y = split(processed, "validation")
    np.savetxt(other / "validation" / "validation.csv", np.column_stack([y[::-1], x]), delimiter=",")
    with pytest.raises(AssertionError, match="exited 2"):
        evaluate(flavour, other, model_dir, tmp_path, "MedHouseVal")
    message = (tmp_path / "evaluation_message").read_text().strip()
    assert message == (
        f"evaluate: the model's out-of-fold predictions cover {len(y) + len(split(processed, 'train')[1])} rows that "
        f"are not the {len(y) + len(split(processed, 'train')[1])} rows of the training and validation splits: the "
        "model was trained on other data"
    )


def test_unset_hyperparameters_take_their_defaults_by_rows():
    from local_mode.modules import load_module

    model_io = load_module(CODE / "common" / "model_io.py", "model_io_rows")
    args = argparse.Namespace(max_depth=None, eta=0.3)
    small = model_io.with_row_defaults(args, model_io.SMALL_DATA_ROWS - 1, {"max_depth": 7}, {"max_depth": 4})
    large = model_io.with_row_defaults(args, model_io.SMALL_DATA_ROWS, {"max_depth": 7}, {"max_depth": 4})
    assert (small.max_depth, large.max_depth, args.max_depth) == (4, 7, None)
    given = argparse.Namespace(max_depth=9)
    assert model_io.with_row_defaults(given, 10, {"max_depth": 7}, {"max_depth": 4}).max_depth == 9


def test_cross_validation_settings_out_of_range_are_one_sentence(processed, tmp_path):
    result = run_script(
        "sklearn_model/train.py",
        "--cross-validation-below-rows", "2000", "--cross-validation-folds", "1",
        env={"SM_MODEL_DIR": str(tmp_path / "m"), "SM_CHANNEL_TRAIN": str(processed / "train"),
             "SM_CHANNEL_VALIDATION": str(processed / "validation"), "SM_CHANNEL_SCHEMA": str(processed / "schema"),
             "SM_OUTPUT_DATA_DIR": str(tmp_path / "out" / "data")},
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert (tmp_path / "out" / "failure").read_text().strip() == (
        "train: cross_validation_folds must be at least 2 and cross_validation_repeats at least 1"
    )
    assert json.loads((processed / "schema" / "schema.json").read_text())["problem_type"] == "regression"


def test_rows_are_counted_only_up_to_the_limit(processed):
    from local_mode.modules import load_module

    model_io = load_module(CODE / "common" / "model_io.py", "model_io_count")
    rows = len(split(processed, "train")[1]) + len(split(processed, "validation")[1])
    folders = (processed / "train", processed / "validation")
    assert model_io.rows_below(folders, 10_000) == rows
    assert model_io.rows_below(folders, rows) is None  # reached: a large channel is not read to its end


# Tuning (README, "Tuning"): a trial logs its cross-validated loss as the objective the tuning job minimises.
OBJECTIVE = re.compile(r"objective-loss=([0-9.]+);")
PER_REPEAT = re.compile(r"cross-validated rmse per repeat: ([0-9., ]+)")


@pytest.mark.parametrize("flavour", flavours("sklearn", "xgboost"))
def test_a_trial_logs_the_mean_out_of_fold_loss_of_its_folds_as_the_objective(flavour, processed, tmp_path):
    """Above the small-data limit (here: cross-validation off) the trial cross-validates over objective-folds folds
    only for its objective, and leaves the artifact as an untuned job's (Evaluate judges the test split)."""
    model_dir, log, _ = train(
        flavour, processed, tmp_path, "--cross-validation-below-rows", "0", "--objective-folds", "3"
    )
    assert "cross-validating on 255 rows: 3 folds x 1 repeats" in log
    (objective,) = OBJECTIVE.findall(log)
    assert float(objective) == pytest.approx(float(PER_REPEAT.search(log).group(1)), abs=1e-6)
    assert not (model_dir / "cross_validation").exists()


def test_on_small_data_the_objective_is_the_cross_validation_the_job_runs_anyway(processed, tmp_path):
    model_dir, log, _ = train(
        "sklearn", processed, tmp_path, "--cross-validation-below-rows", "2000", "--objective-folds", "3"
    )
    assert "cross-validating on 255 rows: 5 folds x 3 repeats" in log and "3 folds" not in log
    per_repeat = [float(value) for value in PER_REPEAT.search(log).group(1).split(", ")]
    assert float(OBJECTIVE.findall(log)[-1]) == pytest.approx(np.mean(per_repeat), abs=1e-6)
    assert (model_dir / "cross_validation" / "out_of_fold.npz").exists()
