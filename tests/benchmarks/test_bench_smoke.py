"""`python -m benchmarks --quick` runs every benchmark on a tiny input and writes all their figures."""

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
    for data_set, (problem_type, metric) in {
        "iris": ("multiclass", "weighted_f1"),
        "breast-cancer": ("binary", "auc"),
    }.items():
        entry = results["classification"][data_set]
        assert (entry["problem_type"], entry["metric"]) == (problem_type, metric)
        for column in ("sklearn", "pytorch", "xgboost", "majority_class", "logistic_regression"):
            assert 0 <= entry[column][metric] <= 1
    assert all(results["synth"][ratio] > 0 for ratio in ("warm_ratio", "cold_ratio", "imports_only_ratio"))
    assert {"synth", "deploy", "Train Succeeded", "approval to scored output"} <= set(
        results["local_end_to_end"]["stages"]
    )
    for flavour in ("sklearn", "pytorch", "xgboost"):
        for size in ("1_row", "100_rows"):
            figures = results["realtime"][flavour][size]
            assert figures["api"]["requests_per_s"] > 0 and figures["limit"]["requests_per_s"] > 0
            assert 0 < figures["api"]["p50_ms"] <= figures["api"]["p99_ms"]
    for flavour in ("sklearn", "pytorch", "xgboost"):
        speeds = results["concurrency"][flavour]["rows_per_s"]
        assert all(speeds[setting]["mean"] > 0 for setting in ("today_default", "defaults_pairing"))
    assert "ours / limit" in process.stdout
    assert "transform xgboost, P1: one-process limit" in process.stdout
    assert "real-time sklearn, 100 rows" in process.stdout
    assert "breast-cancer (binary" in process.stdout
    for data_set, metric in {"california": "rmse", "iris": "weighted_f1", "breast-cancer": "auc"}.items():
        entry = results["spread"][data_set]
        assert (entry["metric"], entry["seeds"]) == (metric, [1, 2])
        assert all(len(entry[key]["values"]) == 2 for key in ("sklearn", "pytorch", "xgboost"))
    assert "california test rmse sklearn (2 seeds, 90 test rows of 600)" in process.stdout


def test_classification_table_compares_each_flavour_with_the_better_baseline():
    from benchmarks.classification import table_rows

    entry = {"metric": "auc", "problem_type": "binary", "test_rows": 85}
    entry |= {"sklearn": {"auc": 0.99, "accuracy": 0.96, "train_seconds": 1.0}}
    entry |= {"majority_class": {"auc": 0.5, "accuracy": 0.63}, "logistic_regression": {"auc": 0.994, "accuracy": 0.97}}
    rows = table_rows({"breast-cancer": entry})
    assert rows[0] == (
        "breast-cancer (binary, 85 test rows) auc sklearn",
        "0.9900 (accuracy 0.9600)",
        ">= 0.9940 (best baseline)",
    )
    assert [row[0].split()[-1] for row in rows] == ["sklearn", "majority_class", "logistic_regression"]
