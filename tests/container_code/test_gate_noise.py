"""The quality gate knows its noise: paired bootstrap intervals, and the three checks' rule (README, "How the quality
gate decides"). evaluate.py's functions on predictions made up here, so each case is the one it names."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from local_mode.modules import load_module
from tests.conftest import REPO_ROOT

evaluate = load_module(REPO_ROOT / "container_code" / "evaluation" / "evaluate.py", "evaluate_noise")
REGRESSION = {"problem_type": "regression", "classes": []}
BINARY = {"problem_type": "binary", "classes": ["no", "yes"]}


def settings(min_improvement=0.05, tolerance=0.0, confidence=0.95):
    return argparse.Namespace(
        min_improvement_over_baseline=min_improvement, champion_tolerance=tolerance, confidence=confidence
    )


def regression_case(rows: int, candidate_noise: float, seed: int = 0):
    """A linear target with noise; the linear baseline knows the line, the candidate the line plus its own noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    target = 3.0 * x + rng.normal(scale=1.0, size=rows)
    return target, {
        "candidate": [3.0 * x + rng.normal(scale=candidate_noise, size=rows)],
        "training_mean": [np.full(rows, 0.0)],
        "linear": [3.0 * x],
    }


def judged(target, scored, schema=REGRESSION, metric="rmse", **gate_settings):
    return evaluate.judge(schema, metric, target, scored, settings(**gate_settings), f"the {len(target)} test rows")


def condition_holds(block: dict) -> dict:
    """The pipeline's CheckQuality conditions, as the definition writes them, on the reported scores."""
    score = block["candidate_score"]
    return {
        "signal": score > block["signal_required_score"],
        "baseline": score >= block["baseline_required_score"],
        "champion": score >= block["champion_required_score"],
    }


def test_every_metric_has_a_seeded_interval_around_its_value():
    target, scored = regression_case(200, 0.5)
    candidate, baselines, _, _ = judged(target, scored)
    again, _, _, _ = judged(target, scored)
    for name in ("rmse", "mae", "r2"):
        low, high = candidate[name]["interval"]
        assert low < candidate[name]["value"] < high
        assert candidate[name]["standard_deviation"] > 0
        assert candidate[name] == again[name]  # the same inputs give the same report
    assert set(baselines["linear"]["rmse"]) == {"value", "standard_deviation", "interval"}


def test_the_interval_narrows_with_more_rows():
    widths = []
    for rows in (60, 2400):
        target, scored = regression_case(rows, 0.5)
        low, high = judged(target, scored)[0]["rmse"]["interval"]
        widths.append(high - low)
    assert widths[1] < widths[0] / 4  # about 1/sqrt(40) as wide


def test_a_candidate_as_good_as_the_baseline_within_noise_is_not_refused():
    """On 54 rows a candidate a little worse than the linear model (the issue's 3.87 against 3.88, the other way
    round) is inside the noise: the paired interval of the difference reaches below the limit."""
    target, scored = regression_case(54, 0.3, seed=3)
    candidate, baselines, _, block = judged(target, scored)
    assert candidate["rmse"]["value"] > baselines["linear"]["rmse"]["value"] * 0.95  # the point rule would refuse
    assert block["checks"]["baseline"]["passed"] and block["checks"]["signal"]["passed"]
    assert condition_holds(block) == {"signal": True, "baseline": True, "champion": True}
    assert block["verdict"].startswith("the candidate passes the signal, baseline and champion checks")


def test_a_clearly_worse_candidate_is_refused_with_the_difference_and_its_interval():
    target, scored = regression_case(400, 2.0)
    _, _, _, block = judged(target, scored)
    check = block["checks"]["baseline"]
    assert not check["passed"] and check["interval"][0] > 0  # the whole interval above the limit
    assert condition_holds(block)["baseline"] is False
    assert block["signal_required_score"] < block["candidate_score"]  # better than the mean still
    low, high = check["interval"]
    assert block["verdict"] == (
        f"worse than the best baseline: the candidate's test RMSE {block['candidate']:.4g} is clearly worse than the "
        f"limit {check['limit']:.4g} (the linear model's {check['value']:.4g} with min_improvement_over_baseline=0.05)"
        f": difference {check['difference']:+.4g} ({low:+.4g} to {high:+.4g}, 95% interval, paired bootstrap (1000 "
        "resamples) over the 400 test rows)"
    )


def test_a_candidate_no_better_than_the_mean_has_no_signal_and_no_setting_lets_it_through():
    rng = np.random.default_rng(5)
    target = rng.normal(size=80)  # nothing to learn
    scored = {
        "candidate": [rng.normal(scale=0.2, size=80)],
        "training_mean": [np.full(80, 0.05)],
        "linear": [rng.normal(scale=0.3, size=80)],
    }
    _, _, _, block = judged(target, scored, min_improvement=-0.9)
    assert not block["checks"]["signal"]["passed"]
    assert condition_holds(block)["signal"] is False
    assert block["verdict"].startswith("no signal: the candidate's test RMSE ")
    assert "is not clearly better than the training mean's" in block["verdict"]
    assert "no setting registers a candidate that is not better than the training mean" in block["advice"]


def test_the_comparison_is_paired():
    """A candidate that is the baseline plus a small, consistent improvement: each model's own interval is wide
    (few rows, noisy target), but the paired difference's is narrow and below 0, which only pairing can see."""
    target, scored = regression_case(60, 0.0)
    scored["candidate"] = [scored["linear"][0] + 0.1 * (target - scored["linear"][0])]  # 10% closer, every row
    candidate, baselines, _, block = judged(target, scored, min_improvement=0.0)
    own = [candidate["rmse"]["interval"], baselines["linear"]["rmse"]["interval"]]
    assert own[0][1] > own[1][0]  # the two models' own intervals overlap
    assert block["checks"]["baseline"]["interval"][1] < 0  # yet the candidate is clearly better


def test_the_champion_check_refuses_only_a_clearly_worse_candidate():
    target, scored = regression_case(300, 0.4)
    # As good, differently wrong: the line with noise of its own of the same size.
    scored["champion"] = [scored["linear"][0] + np.random.default_rng(31).normal(scale=0.4, size=300)]
    check = judged(target, scored)[3]["checks"]["champion"]
    assert check["difference"] > 0 and check["interval"][0] < 0  # worse on these rows, within noise
    assert check["passed"]
    scored["champion"] = list(scored["linear"])  # the line itself: clearly better than the candidate
    block = judged(target, scored, min_improvement=-0.5)[3]
    assert not block["checks"]["champion"]["passed"] and condition_holds(block)["champion"] is False
    assert "worse than the champion: " in block["verdict"]
    assert "-c champion_tolerance=" in block["advice"]


@pytest.mark.parametrize("confidence", [0.8, 0.99])
def test_a_higher_confidence_widens_the_interval(confidence):
    target, scored = regression_case(100, 0.5)
    check = judged(target, scored, confidence=confidence)[3]["checks"]["baseline"]
    wide = judged(target, scored, confidence=0.95)[3]["checks"]["baseline"]
    width = check["interval"][1] - check["interval"][0]
    assert (width < wide["interval"][1] - wide["interval"][0]) == (confidence < 0.95)


def test_classification_resamples_keep_both_classes_so_auc_is_always_defined():
    rng = np.random.default_rng(2)
    truth = (rng.random(40) < 0.1).astype(np.int64)  # 4 positives in 40 rows
    truth[:2] = 1

    def scored(probability):
        return np.column_stack([(probability > 0.5).astype(float), 1 - probability, probability])

    candidate = np.clip(truth * 0.6 + rng.random(40) * 0.5, 0, 1)
    predictions = {
        "candidate": [scored(candidate)],
        "majority_class": [scored(np.full(40, truth.mean()))],
        "logistic_regression": [scored(np.clip(truth * 0.3 + rng.random(40) * 0.7, 0, 1))],
    }
    candidate_metrics, _, _, block = judged(truth, predictions, BINARY, "auc")
    assert np.isfinite(candidate_metrics["auc"]["standard_deviation"])
    assert block["checks"]["signal"]["against"] == "majority_class"
    # AUC is higher-is-better: the difference is reported in AUC, the interval in the same orientation.
    low, high = block["checks"]["signal"]["interval"]
    assert low <= block["checks"]["signal"]["difference"] <= high


def test_auc_from_average_ranks_agrees_with_scikit_learn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(4)
    truth = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) + truth * 0.3, 1)  # many ties
    assert evaluate.roc_auc(truth, scores) == pytest.approx(roc_auc_score(truth, scores))
