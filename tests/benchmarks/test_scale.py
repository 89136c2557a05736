"""The scale benchmark's parts: synthetic rows, Batch Transform-like mini-batches, the fitted curves and sizing."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import scale
from benchmarks.__main__ import FLAVOURS
from benchmarks.__main__ import main as benchmarks_main
from tests.conftest import REPO_ROOT


def test_synthetic_rows_have_the_demo_columns_and_move_every_value():
    rows = scale.synthetic_rows(500, seed=1)
    demo = scale.housing()
    assert list(rows.columns) == list(demo.columns) and len(rows) == 500
    assert not rows.isna().any().any()
    # Noise: no synthetic row is a demo row as it is.
    assert rows.merge(demo, how="inner").empty


def test_mini_batches_keep_whole_lines_within_the_limit(tmp_path):
    source = tmp_path / "rows.csv"
    lines = [f"{i},{i * 0.5},{'x' * (i % 7)}\n".encode() for i in range(2000)]
    source.write_bytes(b"".join(lines))

    batches = list(scale.mini_batches(source, limit=1000))

    assert b"".join(batches) == source.read_bytes()
    assert all(len(batch) <= 1000 and batch.endswith(b"\n") for batch in batches)


def test_curve_fits_the_exponent_and_bytes_per_row():
    points = [{"seconds": 2.0 * rows / 1000, "peak_mb": 100 + rows * 200 / 2**20} for rows in (1000, 10_000, 100_000)]

    curve = scale._curve((1000, 10_000, 100_000), points)

    assert curve["time_exponent"] == pytest.approx(1.0, abs=0.01)
    assert curve["bytes_per_row"] == pytest.approx(200, rel=0.01)
    assert curve["base_mb"] == pytest.approx(100, abs=0.5)


def test_sizing_counts_rows_that_fit_and_leaves_flat_stages_out():
    curves = {
        "preprocess": {"bytes_per_row": 1000, "base_mb": 1024},
        "transform_sklearn": {"bytes_per_row": 3, "base_mb": 200},
    }

    sizing = scale.sizing(curves)

    assert list(sizing) == ["preprocess"]
    usable = 16 * 2**30 * scale.USABLE_MEMORY - 1024 * 2**20
    assert sizing["preprocess"]["ml.m5.xlarge"] == int(usable / 1000)
    assert np.diff(list(sizing["preprocess"].values())).min() > 0


@pytest.mark.slow
def test_scale_switch_writes_curves_plot_and_keeps_other_figures(tmp_path):
    output, plot = tmp_path / "results.json", tmp_path / "scale.png"
    output.write_text(json.dumps({"synth": {"warm_ratio": 1.0}}))
    process = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--scale", "--scale-rows", "1000,3000"]
        + ["--output", str(output), "--plot", str(plot)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-2000:]
    results = json.loads(output.read_text())
    assert results["synth"] == {"warm_ratio": 1.0}
    stages = results["scale"]["stages"]
    per_flavour = {f"{stage}_{flavour}" for stage in ("train", "transform") for flavour in FLAVOURS}
    assert set(stages) == {"preprocess"} | per_flavour
    assert all(len(curve["seconds"]) == 2 and min(curve["peak_mb"]) > 0 for curve in stages.values())
    assert plot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "rows, problem",
    [("4000000", "at least two positive row counts"), ("20000,4x", "not comma-separated whole numbers")],
)
def test_scale_rows_that_make_no_curve_are_refused_with_a_sentence(rows, problem, capsys):
    with pytest.raises(SystemExit) as refused:
        benchmarks_main(["--scale", "--scale-rows", rows])

    assert refused.value.code == 2
    assert problem in capsys.readouterr().err
