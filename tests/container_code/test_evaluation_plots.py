"""evaluate.py's "plots" block, what the registry page draws: from the candidate's predictions on the test split, a
seeded sample of (actual, predicted) pairs for regression, the ROC curve for binary classification, none for
multiclass."""

from __future__ import annotations

import numpy as np
import pytest

from local_mode.modules import load_module
from tests.conftest import REPO_ROOT

evaluate = load_module(REPO_ROOT / "container_code" / "evaluation" / "evaluate.py", "evaluate_plots")


def test_regression_plots_a_seeded_sample_of_at_most_300_pairs_to_4_significant_digits():
    rng = np.random.default_rng(1)
    target = rng.normal(1000.0, 300.0, size=1000)
    predictions = target + rng.normal(scale=50.0, size=1000)
    schema = {"problem_type": "regression", "classes": []}
    pairs = evaluate.plots(schema, target, predictions)["actual_predicted"]
    assert len(pairs) == 300
    assert pairs == evaluate.plots(schema, target, predictions)["actual_predicted"]
    chosen = np.sort(np.random.default_rng(0).permutation(1000)[:300])
    assert pairs == [[float(f"{target[i]:.4g}"), float(f"{predictions[i]:.4g}")] for i in chosen]
    few = evaluate.plots(schema, target[:5], predictions[:5])["actual_predicted"]
    assert [actual for actual, _ in few] == [float(f"{value:.4g}") for value in target[:5]]


def test_binary_plots_the_roc_curve_from_the_positive_probability():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(2)
    truth = rng.integers(0, 2, size=2000)
    positive = np.clip(0.5 * truth + rng.normal(0.25, 0.2, size=2000), 0.0, 1.0)
    scored = np.column_stack([(positive >= 0.5).astype(float), 1.0 - positive, positive])
    roc = evaluate.plots({"problem_type": "binary", "classes": ["no", "yes"]}, truth, scored)["roc"]
    points = np.array(roc["points"])
    assert len(points) <= 101
    assert points[0].tolist() == [0.0, 0.0] and points[-1].tolist() == [1.0, 1.0]
    assert np.all(np.diff(points, axis=0) >= 0)  # both rates only grow as the threshold falls
    assert roc["auc"] == pytest.approx(roc_auc_score(truth, positive), abs=1e-3)
    assert np.trapezoid(points[:, 1], points[:, 0]) == pytest.approx(roc["auc"], abs=0.01)


def test_multiclass_plots_nothing():
    scored = np.array([[0, 0.8, 0.1, 0.1], [2, 0.1, 0.2, 0.7]])
    assert evaluate.plots({"problem_type": "multiclass", "classes": ["a", "b", "c"]}, np.array([0, 2]), scored) == {}
