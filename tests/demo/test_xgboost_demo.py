"""The XGBoost flavour end to end on the local cloud: Preprocess on scikit-learn, Train and Evaluate on the XGBoost
image (mapped to this machine's Python), serial inference with the model container's handlers read from its
artifact, as `make demo DEMO_ARGS="--flavour xgboost"` runs it."""

from __future__ import annotations

import pytest

from tests.demo.test_demo import SUMMARY, run_demo

pytest.importorskip("xgboost")  # pinned in requirements-dev.txt (xgboost-cpu, the image's version)


@pytest.mark.slow
def test_xgboost_demo_trains_approves_and_scores_california_housing(tmp_path):
    """A shorter training (eta 0.3) keeps it quick: this checks the path, test_xgboost_model.py the model."""
    process = run_demo(tmp_path, "--flavour", "xgboost", "-c", "training_hyperparameters=eta=0.3")
    assert process.returncode == 0, process.stderr[-2000:]
    match = SUMMARY.match(process.stdout.strip().splitlines()[-1])
    assert match, process.stdout[-1000:]
    flavour, _version, rmse, scored_rows, _output, _seconds = match.groups()
    assert flavour == "xgboost"
    assert float(rmse) <= 0.55
    assert int(scored_rows) == 1000
    for step in ("Preprocess", "Train", "Evaluate", "CheckQuality", "Register"):
        assert f"{step} Succeeded" in process.stdout
