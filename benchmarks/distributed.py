"""Distributed training keeps the model's quality: California housing trained on one instance and on two, same
hyperparameters, both models scored by the pipeline's Evaluate script on the same test split.
- PyTorch: two torchrun ranks (gloo on CPU, as two training instances run it);
- XGBoost: the script on two instances of local mode's training cluster (one process each, joined by XGBoost's
  collective through the first instance's tracker).

    python -m benchmarks.distributed [--flavour pytorch|xgboost] [--epochs 60] [--processes 2]

Not part of `make bench`: it trains the model twice with the default hyperparameters (minutes on a busy machine).
Prints and returns {"<n> process(es)": {"test_rmse", "best_epoch" or "best_round", "validation_rmse",
"train_seconds"}}."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import artifacts
from local_mode.sagemaker import training_cluster
from local_mode.sagemaker.jobs import training_environment
from local_mode.sagemaker.workspace import Workspace

CHANNELS = ("train", "validation", "schema")


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


def run_xgboost_job(processed: Path, root: Path, instances: int, arguments: list[str]) -> tuple[int | None, Workspace]:
    """container_code/xgboost_model/train.py as a training job on `instances` instances of local mode's training
    cluster, algo-1's /opt/ml prepared as local mode prepares it: (exit code, the workspace that tells the outcome)."""
    workspace = Workspace(root / "job", root / "logs" / "job.log")
    opt_ml = workspace.opt_ml
    shutil.copytree(artifacts.CODE / "xgboost_model", opt_ml / "code")  # model_io.py's link copied as its content
    for channel in CHANNELS:
        shutil.copytree(processed / channel, opt_ml / "input" / "data" / channel)
    for folder in ("input/config", "model", "output/data"):
        (opt_ml / folder).mkdir(parents=True, exist_ok=True)
    environment = training_environment(opt_ml, {channel: {} for channel in CHANNELS}, {})
    command = [sys.executable, str(opt_ml / "code" / "train.py"), *arguments]
    if instances == 1:
        return workspace.run(command, environment, timeout=3600), workspace
    job = {"HyperParameters": {}, "ResourceConfig": {"InstanceCount": instances, "InstanceType": "ml.m5.xlarge"}}
    return training_cluster.run(job, workspace, command, environment, timeout=3600)


def train_xgboost(processed: Path, work: Path, instances: int) -> artifacts.Artifacts:
    started = time.perf_counter()
    exit_code, workspace = run_xgboost_job(processed, work, instances, [])
    if exit_code != 0:
        raise RuntimeError(f"training on {instances} instance(s) failed: {workspace.last_log_line()}")
    seconds = time.perf_counter() - started
    shutil.copytree(workspace.opt_ml / "output" / "data", work / "output")
    return artifacts.Artifacts("xgboost", processed.parent / "features", workspace.opt_ml / "model", processed, seconds)


def measure(work: Path, epochs: int = 60, processes: int = 2, flavour: str = "pytorch") -> dict:
    processed = artifacts.build_features(artifacts.housing(), work)
    results = {}
    for count in (1, processes):
        folder = work / f"{count}-processes"
        if flavour == "xgboost":
            trained = train_xgboost(processed, folder, count)
        else:
            trained = train_with_ranks(processed, folder, count, epochs)
        report = artifacts.evaluate(trained, folder)
        summary = json.loads((folder / "output" / "training_summary.json").read_text())
        best = {key: value for key, value in summary.items() if key in ("best_epoch", "best_round")}
        results[f"{count} process{'es' if count > 1 else ''}"] = {
            "test_rmse": round(report["regression_metrics"]["rmse"]["value"], 4),
            **best,
            "validation_rmse": round(summary["validation_rmse"], 4),
            "train_seconds": round(trained.train_seconds, 1),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flavour", choices=("pytorch", "xgboost"), default="pytorch")
    parser.add_argument("--epochs", type=int, default=60, help="PyTorch only; the training script's default is 60")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        print(json.dumps(measure(Path(work), args.epochs, args.processes, args.flavour), indent=1))


if __name__ == "__main__":
    main()
