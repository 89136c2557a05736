"""container_code/pytorch_model/train.py under torchrun with two processes (gloo on CPU), on tiny data: the same
model as one process, rank 0 alone writes it, and a failure on every rank ends the job with its sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.container_code.helpers import CODE, METRIC, preprocess

torch = pytest.importorskip("torch")  # not in the scikit-learn and XGBoost images' environments (make test-images)

QUICK = [
    "--epochs",
    "6",
    "--batch-size",
    "32",
    "--hidden_sizes",
    "16,16",
    "--embedding-frequencies",
    "2",
    "--patience",
    "3",
]


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    rng = np.random.RandomState(0)
    rows = 300
    a, b = rng.normal(size=rows), rng.normal(size=rows)
    frame = pd.DataFrame({"a": a, "b": b, "y": 3 * a - 2 * b + rng.normal(0, 0.1, rows)})
    return preprocess(frame, tmp_path_factory.mktemp("tiny"), "--target-column", "y")


def torchrun(processes: int, processed, work, *arguments: str) -> subprocess.CompletedProcess:
    """train.py as the PyTorch image's toolkit starts it for torch_distributed, on one node with `processes` ranks
    (0: without torchrun, as one instance runs it)."""
    env = {
        "SM_MODEL_DIR": str(work / "model"),
        "SM_CHANNEL_TRAIN": str(processed / "train"),
        "SM_CHANNEL_VALIDATION": str(processed / "validation"),
        "SM_CHANNEL_SCHEMA": str(processed / "schema"),
        "SM_OUTPUT_DATA_DIR": str(work / "output" / "data"),
    }
    command = [sys.executable]
    if processes:
        command += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    return subprocess.run(
        [*command, str(CODE / "pytorch_model" / "train.py"), *arguments],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_two_ranks_train_the_model_one_process_trains(processed, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    single = torchrun(0, processed, one, *QUICK)
    double = torchrun(2, processed, two, *QUICK)
    assert single.returncode == 0, single.stderr[-2000:]
    assert double.returncode == 0, double.stderr[-2000:]
    assert "rank 0 of 2" in double.stdout and "rank 1 of 2" in double.stdout
    # Each step's gradient is the whole batch's: the scores match one process up to float summation order.
    scores = [[float(value) for value in METRIC.findall(run.stdout)] for run in (single, double)]
    assert len(scores[1]) == len(scores[0]) >= 4  # rank 0 logs each epoch once; both stop at the same epoch
    assert scores[1] == pytest.approx(scores[0], rel=1e-4)
    summaries = [json.loads((work / "output" / "data" / "training_summary.json").read_text()) for work in (one, two)]
    assert summaries[1]["best_epoch"] == summaries[0]["best_epoch"]
    weights = [torch.load(work / "model" / "model.pth") for work in (one, two)]
    for name, value in weights[0].items():
        assert torch.allclose(weights[1][name], value, rtol=1e-3, atol=1e-5), name


@pytest.mark.slow  # three more processes importing torch: about 8 s
def test_a_failure_on_the_ranks_ends_the_job_with_its_sentence(tmp_path):
    """No rank waits for another: each reads the same (missing) channel and reports the same sentence."""
    run = torchrun(2, tmp_path / "missing", tmp_path, *QUICK)
    assert run.returncode != 0
    assert (tmp_path / "output" / "failure").read_text().startswith("train: no data files in channel folder")
    assert not (tmp_path / "model" / "model.pth").exists()
