"""`python -m benchmarks --quick` runs every benchmark on a tiny input and writes all four figures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_quick_run_writes_all_four_figures(tmp_path):
    output = tmp_path / "results.json"
    process = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert process.returncode == 0, process.stderr[-2000:]
    results = json.loads(output.read_text())
    for flavour in ("sklearn", "pytorch", "xgboost"):
        assert results["throughput"][flavour]["ours_rows_per_s"] > 0
        assert results["quality"][flavour]["rmse"] > 0
    assert results["quality"]["linear_baseline"]["rmse"] > 0
    assert results["synth"]["warm_ratio"] > 0 and results["synth"]["cold_ratio"] > 0
    assert {"synth", "deploy", "Train Succeeded", "approval to scored output"} <= set(
        results["local_end_to_end"]["stages"]
    )
    assert "ours / limit" in process.stdout
