"""The drift check's statistics (container_code/drift/check.py) on baselines Preprocess and Evaluate write."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from local_mode.modules import load_module
from tests.conftest import REPO_ROOT

CHECK = load_module(REPO_ROOT / "container_code" / "drift" / "check.py", "drift_check_script")
PREPROCESS = load_module(REPO_ROOT / "container_code" / "features" / "preprocess.py", "drift_preprocess")
THRESHOLDS = {"psi": 0.2, "null_rate": 0.1, "min_rows": 500}


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(3)
    rows = 20_000
    return pd.DataFrame(
        {
            "income": rng.lognormal(1.0, 0.5, rows),
            "age": np.where(rng.random(rows) < 0.05, np.nan, rng.integers(1, 53, rows).astype(float)),
            "colour": rng.choice(["red", "green", "blue"], rows, p=[0.5, 0.3, 0.2]),
        }
    )


@pytest.fixture(scope="module")
def baseline(frame):
    typed = frame.astype({"income": float, "age": float})
    baseline = PREPROCESS.feature_baseline(typed)
    baseline["prediction"] = PREPROCESS.numeric_baseline(frame["income"].to_numpy() * 2)
    baseline["prediction_fields"] = 1
    return baseline


def _scored(tmp_path, frame: pd.DataFrame, name: str = "rows.csv.out", id_column: bool = False):
    """Transform output: each input row, then its prediction (here 2 x income)."""
    out = frame.assign(prediction=frame["income"] * 2)
    if id_column:
        out.insert(0, "id", range(len(out)))
    path = tmp_path / name
    out.to_csv(path, header=False, index=False)
    return path


def test_the_training_rows_do_not_drift_from_their_own_baseline(tmp_path, frame, baseline):
    report = CHECK.check(baseline, [_scored(tmp_path, frame)], THRESHOLDS)
    assert (report["rows"], report["checked"], report["drifted"]) == (len(frame), True, False)
    assert all(result["psi"] < 1e-3 for result in report["features"].values())
    assert report["features"]["age"]["null_rate_change"] < 1e-9  # the same binning rule as Preprocess's


def test_a_shifted_feature_is_the_only_drifted_one(tmp_path, frame, baseline):
    shifted = frame.sample(2000, random_state=1).assign(age=lambda rows: rows["age"] + 15)
    report = CHECK.check(baseline, [_scored(tmp_path, shifted)], THRESHOLDS)
    assert report["drifted_features"] == ["age"]
    assert report["features"]["age"]["ks"] > 0.2


def test_unseen_levels_and_null_rates_are_reported(tmp_path, frame, baseline):
    rows = frame.sample(1000, random_state=2).copy()
    rows.loc[rows.index[:300], "colour"] = "purple"
    rows.loc[rows.index[300:600], "income"] = np.nan
    report = CHECK.check(baseline, [_scored(tmp_path, rows)], THRESHOLDS)
    colour, income = report["features"]["colour"], report["features"]["income"]
    assert (colour["unseen_share"], colour["unseen_levels"], colour["drifted"]) == (0.3, ["purple"], True)
    assert colour["linf"] == pytest.approx(0.3, abs=0.05)
    assert (income["null_rate"], income["drifted"]) == (0.3, True)


def test_fewer_rows_than_the_minimum_are_not_judged(tmp_path, frame, baseline):
    shifted = frame.head(100).assign(age=lambda rows: rows["age"] + 30)
    report = CHECK.check(baseline, [_scored(tmp_path, shifted)], THRESHOLDS)
    assert (report["checked"], report["drifted"], report["drifted_features"]) == (False, False, [])
    assert report["reason"] == "100 rows are fewer than the minimum of 500"


def test_blocks_and_workers_give_the_counts_of_one_pass(tmp_path, frame, baseline):
    files = [_scored(tmp_path, frame.iloc[:7000], "a.out"), _scored(tmp_path, frame.iloc[7000:], "b.out")]
    whole = CHECK.check(baseline, files, THRESHOLDS)
    blocked = CHECK.check(baseline, files, THRESHOLDS, workers=2, block_bytes=4096)
    assert json.dumps(blocked, sort_keys=True) == json.dumps(whole, sort_keys=True)
    assert whole["rows"] == len(frame)


def test_an_id_column_before_the_features_is_skipped(tmp_path, frame, baseline):
    report = CHECK.check(baseline, [_scored(tmp_path, frame.head(1000), id_column=True)], THRESHOLDS)
    assert report["drifted"] is False


def test_classification_predictions_are_label_shares(tmp_path, frame):
    typed = frame[["income"]]
    baseline = PREPROCESS.feature_baseline(typed)
    baseline["prediction"] = PREPROCESS.categorical_baseline(pd.Series(["no"] * 900 + ["yes"] * 100))
    baseline["prediction_fields"] = 3  # label, p(no), p(yes)
    out = typed.head(1000).assign(label=["yes"] * 500 + ["no"] * 500, p0=0.5, p1=0.5)
    path = tmp_path / "classified.out"
    out.to_csv(path, header=False, index=False)
    report = CHECK.check(baseline, [path], THRESHOLDS)
    assert (report["drifted_features"], report["prediction_drifted"]) == ([], True)


def test_bad_input_fails_with_one_sentence(tmp_path, baseline, capsys):
    message = tmp_path / "message"
    arguments = ["--transform-job", "job", "--baseline-dir", str(tmp_path), "--input-dir", str(tmp_path / "in"),
                 "--output-dir", str(tmp_path / "out"), "--message-file", str(message)]  # fmt: skip
    assert CHECK.main(arguments) == 2
    assert message.read_text().startswith("drift check: no baseline:")
    (tmp_path / "drift_baseline.json").write_text(json.dumps(baseline))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.out").write_text("1.0\n")
    assert CHECK.main(arguments) == 2
    assert "rows.out has 1 fields per line, fewer than the baseline's 3 features" in message.read_text()
    (tmp_path / "in" / "rows.out").write_text("x,1,red,2\n")
    assert CHECK.main(arguments) == 2
    assert "rows.out: a numeric feature has a value that is not a number" in message.read_text()


def test_quoted_text_with_commas_is_one_field(tmp_path):
    frame = pd.DataFrame({"income": [1.0, 2.0, 3.0] * 200, "city": ["Paris, France", "Oslo", "Lima, Peru"] * 200})
    baseline = PREPROCESS.feature_baseline(frame)
    baseline["prediction"] = PREPROCESS.numeric_baseline(frame["income"].to_numpy())
    baseline["prediction_fields"] = 1
    path = tmp_path / "quoted.out"
    frame.assign(prediction=frame["income"]).to_csv(path, header=False, index=False)
    report = CHECK.check(baseline, [path], THRESHOLDS)
    assert (report["rows"], report["drifted"], report["features"]["city"]["unseen_share"]) == (600, False, 0.0)
