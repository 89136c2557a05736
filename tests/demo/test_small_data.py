"""Small data handled on purpose (README, "Small data"), as a user meets it: `make demo DEMO_ARGS="--data <csv>
--target <column>"` (python -m demo demo) on a few hundred rows. Below cross_validation_below_rows the gate decides on
cross-validated figures: a CSV with signal is registered, the same CSV with its target shuffled is refused with a
message that says there is no signal."""

from __future__ import annotations

import re

import numpy as np
import pytest

from demo.data import california_housing
from tests.demo.test_demo import SUMMARY, run_demo


def small_housing(path, rows: int = 400, shuffled: bool = False):
    """`rows` rows of California housing (data/, shipped): a nonlinear target a tree model learns from a few
    hundred rows; `shuffled`: the target column permuted, so nothing can be learned."""
    frame = california_housing().sample(n=rows, random_state=1)
    if shuffled:
        frame["MedHouseVal"] = np.random.default_rng(0).permutation(frame["MedHouseVal"].to_numpy())
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_a_few_hundred_rows_with_signal_are_cross_validated_and_registered(tmp_path):
    data = small_housing(tmp_path / "small.csv")
    process = run_demo(tmp_path / "demo", "--data", str(data), "--target", "MedHouseVal")
    assert process.returncode == 0, process.stderr[-2000:]
    match = SUMMARY.match(process.stdout.strip().splitlines()[-1])
    assert match, process.stdout[-1000:]
    assert int(match.group(4)) == 40  # a tenth of the rows, kept out of training, scored after approval
    registered = re.search(r"registered version 1 \(cross-validated RMSE ([0-9.]+) on the (\d+) training and "
                           r"validation rows' out-of-fold predictions \(5-fold cross-validation, 3 repeats\)\)",
                           process.stdout)  # fmt: skip
    assert registered, process.stdout[-1500:]
    assert int(registered.group(2)) == 306  # the 360 training rows less Preprocess's 15% test split
    assert float(registered.group(1)) < 0.75  # the standard deviation of MedHouseVal is about 1.15


@pytest.mark.slow
def test_the_same_rows_with_the_target_shuffled_are_refused_for_having_no_signal(tmp_path):
    data = small_housing(tmp_path / "noise.csv", shuffled=True)
    process = run_demo(tmp_path / "demo", "--data", str(data), "--target", "MedHouseVal")
    assert process.returncode == 1
    assert "Register" not in process.stdout
    error = process.stderr.strip()
    refused = re.match(
        r"demo: failed: pipeline Failed: Step QualityTooLow failed: Quality gate refused the model: no signal: the "
        r"candidate's cross-validated RMSE ([0-9.]+) is not clearly better than the training mean's ([0-9.]+): "
        r"difference ([-+][0-9.e-]+) \(([-+][0-9.e-]+) to ([-+][0-9.e-]+), 95% interval, paired bootstrap \(1000 "
        r"resamples\) over the 306 training and validation rows' out-of-fold predictions",
        error,
    )
    assert refused, error
    low, high = float(refused.group(4)), float(refused.group(5))
    assert low <= float(refused.group(3)) <= high and high >= 0  # the interval reaches 0: no clear gain
    assert "no setting registers a candidate that is not better than the training mean" in error
