"""PyTorch data parallel training keeps the model's quality: California housing trained by one process and by two
torchrun ranks (gloo on CPU, as two training instances run it), same hyperparameters and epochs, both models scored
by the pipeline's Evaluate script on the same test split.

    python -m benchmarks.distributed [--epochs 60] [--processes 2]

Not part of `make bench`: it trains the model twice with the default hyperparameters (minutes on a busy machine).
Prints and returns {"<n> process(es)": {"test_rmse", "best_epoch", "validation_rmse", "train_seconds"}}."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import artifacts


def train_with_ranks(processed: Path, work: Path, processes: int, epochs: int) -> artifacts.Artifacts:
    """container_code/pytorch_model/train.py as torchrun starts it for `processes` ranks (1: without torchrun)."""
    model_dir = work / "model"
    environment = {
        "SM_MODEL_DIR": str(model_dir),
        "SM_CHANNEL_TRAIN": str(processed / "train"),
        "SM_CHANNEL_VALIDATION": str(processed / "validation"),
        "SM_CHANNEL_SCHEMA": str(processed / "schema"),
        "SM_OUTPUT_DATA_DIR": str(work / "output"),
    }
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    started = time.perf_counter()
    run = subprocess.run(
        [*launcher, str(artifacts.CODE / "pytorch_model" / "train.py"), "--epochs", str(epochs)],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise RuntimeError(f"training with {processes} process(es) failed: {run.stderr.strip()[-2000:]}")
    seconds = time.perf_counter() - started
    return artifacts.Artifacts("pytorch", processed.parent / "features", model_dir, processed, seconds)


def measure(work: Path, epochs: int = 60, processes: int = 2) -> dict:
    processed = artifacts.build_features(artifacts.housing(), work)
    results = {}
    for count in (1, processes):
        folder = work / f"{count}-processes"
        trained = train_with_ranks(processed, folder, count, epochs)
        report = artifacts.evaluate(trained, folder)
        summary = json.loads((folder / "output" / "training_summary.json").read_text())
        results[f"{count} process{'es' if count > 1 else ''}"] = {
            "test_rmse": round(report["regression_metrics"]["rmse"]["value"], 4),
            "best_epoch": summary["best_epoch"],
            "validation_rmse": round(summary["validation_rmse"], 4),
            "train_seconds": round(trained.train_seconds, 1),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60, help="the training script's default is 60")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        print(json.dumps(measure(Path(work), args.epochs, args.processes), indent=1))


if __name__ == "__main__":
    main()
