"""The drift check's figures (`make bench BENCH_ARGS=--drift`; README, "Drift check"):

1. cost: seconds and peak memory of the drift check (container_code/drift/check.py, one process, one worker per
   core) beside the transform's on the same rows (the serial chain through both containers' handlers in 6 MB
   mini-batches, benchmarks/scale.py, single-threaded as one model-server worker), in 3 alternating rounds
   (medians), at 20k, 200k and 2M rows drawn from the demo data with noise; the check reads the transform's output
   joined to its input, as Batch Transform writes it;
2. false alarms: the share of unshifted resamples of the demo data (1,000 and 100 rows) that the check flags, judged
   whatever their size (--min-rows 1) and as the app judges them (drift_min_rows, default 500);
3. detection: the smallest multiplicative shift of MedInc flagged in at least 95% of 1,000-row resamples.

The baseline is the product's: Preprocess, Train (scikit-learn) and Evaluate on the demo data write
drift_baseline.json, and the resamples carry that model's predictions."""

from __future__ import annotations

import tempfile
from pathlib import Path
from statistics import median

import numpy as np
import pandas as pd

from benchmarks import artifacts, scale
from benchmarks.artifacts import CODE, TARGET
from local_mode.modules import load_module
from scoreline.settings import Settings

SIZES = (20_000, 200_000, 2_000_000)
SHIFTS = (1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.35, 1.4, 1.5)
DETECTED = 0.95  # a shift counts as detected when at least this share of resamples flags it
DEFAULTS = Settings()
# The transform as one of the app's model-server workers runs it: one thread (scoreline/model_servers.py). With the
# libraries' default threads, other work on the machine slowed it 20-fold at 2M rows (OpenMP threads waiting on
# busy cores), which would flatter the check's share.
ONE_WORKER = {"OMP_NUM_THREADS": "1"}


def measure(quick: bool = False) -> dict:
    sizes = (2_000, 20_000) if quick else SIZES
    runs = 40 if quick else 1000
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        trained = artifacts.train("sklearn", artifacts.build_features(artifacts.housing(), work), work, _quick(quick))
        artifacts.evaluate(trained, work)
        baseline_dir = work / "sklearn-evaluation"
        cost = {rows: _cost(rows, trained, baseline_dir, work, 1 if quick else 3) for rows in sizes}
        scored = _scored(artifacts.housing().drop(columns=[TARGET]), trained, work / "housing")
        statistics = _statistics(scored, baseline_dir, work, runs, max(runs // 10, 20))
    return {
        "cost": cost,
        **statistics,
        "min_rows": DEFAULTS.drift_min_rows,
        "psi_threshold": DEFAULTS.drift_psi_threshold,
    }


def _quick(quick: bool) -> dict[str, str] | None:
    return {"max-iter": "20"} if quick else None


def _cost(rows: int, trained, baseline_dir: Path, work: Path, rounds: int) -> dict:
    """Transform and check in alternating rounds (other work on the machine then weighs on both alike): the medians of
    their seconds and peaks, and the median of the per-round shares."""
    folder = work / f"cost-{rows}"
    (folder / "scored").mkdir(parents=True)
    scale.synthetic_rows(rows).drop(columns=[TARGET]).to_csv(folder / "rows.csv", index=False, header=False)
    transforms, checks = [], []
    for _ in range(rounds):
        transforms.append(
            scale.measured_run(
                ["-m", "benchmarks.scale", "transform", "sklearn", trained.features_dir, trained.model_dir]
                + [folder / "rows.csv", folder / "predictions.csv"],
                ONE_WORKER,
            )
        )
        _join(folder / "rows.csv", folder / "predictions.csv", folder / "scored" / "rows.csv.out")
        checks.append(
            scale.measured_run(
                [CODE / "drift" / "check.py", "--transform-job", f"bench-{rows}", "--baseline-dir", baseline_dir]
                + ["--input-dir", folder / "scored", "--output-dir", folder / "drift"]
                + ["--message-file", folder / "message"]
            )
        )
    return {
        "rounds": rounds,
        "transform_seconds": round(median(t for t, _ in transforms), 2),
        "transform_peak_mb": round(median(m for _, m in transforms) / 2**20, 1),
        "check_seconds": round(median(c for c, _ in checks), 2),
        "check_peak_mb": round(median(m for _, m in checks) / 2**20, 1),
        "share": round(median(c / t for (c, _), (t, _) in zip(checks, transforms, strict=True)), 3),
    }


def _join(rows: Path, predictions: Path, destination: Path) -> None:
    """Each input line, then its prediction: Batch Transform's JoinSource=Input output."""
    with rows.open() as features, predictions.open() as predicted, destination.open("w") as out:
        for line, prediction in zip(features, predicted, strict=True):
            out.write(f"{line.rstrip()},{prediction.strip()}\n")


def _scored(features: pd.DataFrame, trained, folder: Path) -> pd.DataFrame:
    """The demo rows with the trained model's prediction appended (the transform's output)."""
    folder.mkdir(parents=True)
    features.to_csv(folder / "rows.csv", index=False, header=False)
    scale.measured_run(
        ["-m", "benchmarks.scale", "transform", "sklearn", trained.features_dir, trained.model_dir]
        + [folder / "rows.csv", folder / "predictions.csv"]
    )
    predictions = pd.read_csv(folder / "predictions.csv", header=None).iloc[:, 0]
    return features.assign(prediction=predictions.to_numpy())


def _statistics(scored: pd.DataFrame, baseline_dir: Path, work: Path, runs: int, detection_runs: int) -> dict:
    import json

    check = load_module(CODE / "drift" / "check.py", "bench_drift_check")
    baseline = json.loads((baseline_dir / "drift_baseline.json").read_text())
    generator = np.random.default_rng(0)

    def flagged(rows: pd.DataFrame, min_rows: int) -> dict:
        path = work / "resample.out"
        rows.to_csv(path, index=False, header=False)
        thresholds = {"psi": DEFAULTS.drift_psi_threshold, "null_rate": DEFAULTS.drift_null_rate_threshold}
        return check.check(baseline, [path], {**thresholds, "min_rows": min_rows})

    def resample(size: int) -> pd.DataFrame:
        return scored.iloc[generator.integers(0, len(scored), size)]

    false_alarms = {}
    for size in (1000, 100):
        reports = [flagged(resample(size), 1) for _ in range(runs)]
        app = [report["drifted"] and report["rows"] >= DEFAULTS.drift_min_rows for report in reports]
        false_alarms[size] = {
            "runs": runs,
            "judged_whatever_the_size": round(sum(r["drifted"] for r in reports) / runs, 4),
            "features_flagged_per_run": round(sum(len(r["drifted_features"]) for r in reports) / runs, 4),
            "as_the_app_judges": round(sum(app) / runs, 4),
        }
    detection = {}
    for shift in SHIFTS:
        hits = []
        for _ in range(detection_runs):
            rows = resample(1000)
            hits.append("MedInc" in flagged(rows.assign(MedInc=rows["MedInc"] * shift), 1)["drifted_features"])
        detection[shift] = round(sum(hits) / detection_runs, 3)
    smallest = next((shift for shift, rate in detection.items() if rate >= DETECTED), None)
    return {
        "false_alarms": false_alarms,
        "detection_at_1000_rows": {"runs": detection_runs, "rate_by_shift": detection, "smallest_detected": smallest},
    }


def table(figures: dict) -> str:
    lines = ["Drift check: cost beside the transform (sklearn), each its own process",
             f"{'rows':>10}{'transform s':>13}{'MB':>7}{'check s':>10}{'MB':>7}{'share':>8}"]  # fmt: skip
    for rows, cost in figures["cost"].items():
        lines.append(
            f"{int(rows):>10,}{cost['transform_seconds']:>13.2f}{cost['transform_peak_mb']:>7.0f}"
            f"{cost['check_seconds']:>10.2f}{cost['check_peak_mb']:>7.0f}{cost['share']:>8.1%}"
        )
    for size, rates in figures["false_alarms"].items():
        lines.append(
            f"false alarms at {int(size):,} rows ({rates['runs']} resamples): "
            f"{rates['judged_whatever_the_size']:.1%} judged whatever the size "
            f"({rates['features_flagged_per_run']:.3f} features a run), {rates['as_the_app_judges']:.1%} as the app "
            f"judges (drift_min_rows={figures['min_rows']})"
        )
    detection = figures["detection_at_1000_rows"]
    rates = ", ".join(f"x{shift}: {rate:.0%}" for shift, rate in detection["rate_by_shift"].items())
    lines.append(f"MedInc shift detected at 1,000 rows ({detection['runs']} resamples each): {rates}")
    lines.append(f"smallest shift detected in >= {DETECTED:.0%}: x{detection['smallest_detected']}")
    return "\n".join(lines)
