"""`python -m local_mode demo`, as a user runs it: the whole flow ends in one summary line and a report."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd

from tests.conftest import REPO_ROOT

SUMMARY = re.compile(
    r"^demo: ok flavour=(\w+) version=(\d+) rmse=([0-9.]+) scored_rows=(\d+) output=(s3://\S+) seconds=([0-9.]+)$"
)


def run_demo(home, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "local_mode", "demo", "--home", str(home), *arguments],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_sklearn_demo_trains_approves_scores_and_reports(tmp_path):
    process = run_demo(tmp_path)
    assert process.returncode == 0, process.stderr[-2000:]
    last_line = process.stdout.strip().splitlines()[-1]
    match = SUMMARY.match(last_line)
    assert match, last_line
    flavour, _version, rmse, scored_rows, _output, _seconds = match.groups()
    assert flavour == "sklearn"
    assert float(rmse) <= 0.6
    assert int(scored_rows) == 1000
    assert (tmp_path / "report.png").stat().st_size > 10_000
    for step in ("Preprocess", "Train", "Evaluate", "CheckQuality", "Register"):
        assert f"{step} Succeeded" in process.stdout


def test_pytorch_demo_serves_the_model_code_shipped_inside_its_artifact(tmp_path):
    """The PyTorch model container reads its handlers from /opt/ml/model/code, not from a code asset."""
    process = run_demo(tmp_path, "--flavour", "pytorch")
    assert process.returncode == 0, process.stderr[-2000:]
    match = SUMMARY.match(process.stdout.strip().splitlines()[-1])
    assert match, process.stdout[-1000:]
    assert match.group(1) == "pytorch"
    assert float(match.group(3)) <= 0.6
    assert int(match.group(4)) == 1000


def test_own_csv_with_a_categorical_column_and_missing_values(tmp_path):
    rng = np.random.default_rng(0)
    rows = 3000
    frame = pd.DataFrame(
        {
            "size": rng.uniform(20, 200, rows),
            "rooms": rng.integers(1, 8, rows).astype(float),
            "district": rng.choice(["north", "south", "harbour"], rows),
        }
    )
    frame["price"] = frame["size"] * 0.03 + frame["district"].map({"north": 1.0, "south": 0.0, "harbour": 2.0})
    frame.loc[rng.choice(rows, 300, replace=False), "rooms"] = np.nan
    frame.loc[rng.choice(rows, 300, replace=False), "district"] = np.nan
    data = tmp_path / "flats.csv"
    frame.to_csv(data, index=False)
    process = run_demo(tmp_path / "demo", "--data", str(data), "--target", "price")
    assert process.returncode == 0, process.stderr[-2000:]
    match = SUMMARY.match(process.stdout.strip().splitlines()[-1])
    assert match, process.stdout[-1000:]
    assert int(match.group(4)) == 300
    assert float(match.group(3)) < frame["price"].std()  # better than predicting the mean


def test_unknown_target_column_fails_with_the_columns_found(tmp_path):
    data = tmp_path / "rows.csv"
    data.write_text("a,b\n1,2\n")
    process = run_demo(tmp_path / "demo", "--data", str(data), "--target", "price")
    assert process.returncode == 1
    assert "'price' is not a column of rows.csv; its columns are a, b" in process.stderr
    assert "Traceback" not in process.stderr
