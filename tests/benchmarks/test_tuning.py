"""Tuning's figures (benchmarks/tuning.py; `make bench BENCH_ARGS=--tuning` measures): the tuned model against the
defaults on the same splits, and what the trials cost."""

from __future__ import annotations

import pytest

from benchmarks import spread, tuning


def test_the_table_gives_tuned_defaults_their_paired_gain_and_the_cost():
    entry = {"data_set": "california", "metric": "rmse", "rows": 20640, "test_rows": 3096, "seeds": [1, 2], "trials": 8}
    entry["sklearn"] = {
        "tuned": spread.summary([0.44, 0.45]),
        "default": spread.summary([0.445, 0.452]),
        "improvement": spread.summary([0.005, 0.002]),
        "tuning_seconds": spread.summary([200.0, 180.0]),
        "default_seconds": spread.summary([10.0, 9.0]),
    }
    rows = tuning.table_rows({**entry, "machine": {"cpus": 2}})
    assert rows == [
        ("california test rmse sklearn, tuned (8 trials; 2 seeds, 3,096 test rows of 20,640)", "0.4450 ± 0.0071", ""),
        ("california test rmse sklearn, defaults (same splits)", "0.4485 ± 0.0049", ""),
        ("california test rmse sklearn, gain of tuning over the defaults (paired)", "0.0035 ± 0.0021", ""),
        (
            "sklearn tuning cost: training seconds of all trials (median over the seeds)",
            "190 s",
            "20.0x one untuned training (9.5 s)",
        ),
    ]


@pytest.mark.slow
def test_the_tuned_model_is_the_trial_with_the_lowest_cross_validated_objective(tmp_path):
    entry = tuning.measure(tmp_path, ["sklearn"], seeds=(1,), trials=2, rows=1500)
    figures = entry["sklearn"]
    assert entry["trials"] == 2 and len(figures["tuned"]["values"]) == 1
    (objectives,) = figures["objectives"]
    best = min(range(2), key=lambda number: objectives[number])
    assert figures["chosen"] == [tuning.drawn_trials("sklearn", 2)[best]]
    assert figures["tuning_seconds"]["mean"] > figures["default_seconds"]["mean"]  # four fits a trial against one
