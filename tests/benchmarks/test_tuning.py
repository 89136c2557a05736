"""Tuning's figures (benchmarks/tuning.py; `make bench BENCH_ARGS=--tuning` measures): the tuned model against the
defaults on the same splits, and what the trials cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


@pytest.mark.slow
def test_the_tuning_switch_adds_its_flavours_beside_the_figures_measured_before(tmp_path):
    """`make bench BENCH_ARGS="--tuning --quick --tuning-flavours sklearn"`: a flavour measured earlier stays."""
    output = tmp_path / "results.json"
    names = ("tuned", "default", "improvement", "tuning_seconds", "default_seconds")
    earlier_pytorch = {
        name: spread.summary([value]) for name, value in zip(names, (0.49, 0.48, -0.01, 170, 12), strict=True)
    }
    output.write_text(json.dumps({"synth": {"warm_ratio": 1.0}, "tuning": {"pytorch": earlier_pytorch}}))
    process = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--tuning", "--quick", "--tuning-flavours", "sklearn"]
        + ["--output", str(output)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-2000:]
    results = json.loads(output.read_text())
    assert results["synth"] == {"warm_ratio": 1.0}
    assert results["tuning"]["pytorch"] == earlier_pytorch and results["tuning"]["quick"] is True
    assert results["tuning"]["trials"] == 2 and len(results["tuning"]["sklearn"]["chosen"]) == 1
    assert "sklearn tuning cost" in process.stdout
