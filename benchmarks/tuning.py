"""Tuning with its spread and its cost (`make bench BENCH_ARGS=--tuning`, on its own: it trains every trial).

Per split seed (Preprocess's --seed), per flavour: the trials a tuning job of `trials` training jobs runs, drawn as
the local cloud's tuning job draws them (local_mode/sagemaker/tuning.py, the flavour's ranges from
scoreline/tuning.py, the pipeline's RandomSeed), each trained by the shipped train.py with the pipeline's static
`objective-folds`; each trial's objective read from its log with the pipeline's metric definition; the best trial
judged by Evaluate on the test split, beside the untuned defaults on the same split. The test metric is a mean ± sd
over the seeds; the cost is the trials' training seconds against one untuned training."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

from benchmarks import artifacts
from benchmarks.spread import DATA_SETS, reported_metric, summary
from demo.data import DATASETS
from local_mode.sagemaker.tuning import configurations
from scoreline.settings import FLAVOURS
from scoreline.tuning import OBJECTIVE_FOLDS, OBJECTIVE_REGEX, TUNING_SEED, parameter_ranges

SEEDS = (1, 2, 3, 4, 5)
TRIALS = 8  # the budget the README suggests (tuning_max_jobs=8)


def measure(work: Path, flavours, data_set: str = "california", seeds=SEEDS, trials: int = TRIALS,
            rows: int | None = None) -> dict:  # fmt: skip
    """{"data_set", "metric", "rows", "test_rows", "seeds", "trials", <flavour>: {"tuned", "default", "improvement",
    "tuning_seconds", "default_seconds": means ± sd over the seeds; "chosen", "objectives": per seed, the best
    trial's hyperparameters and every trial's objective}}."""
    metric, _ = DATA_SETS[data_set]
    loader, target = DATASETS[data_set]
    data = loader()
    data = data.head(rows) if rows else data
    entry: dict = {"data_set": data_set, "metric": metric, "rows": len(data), "seeds": list(seeds), "trials": trials}
    per_seed: dict[str, dict[str, list]] = {flavour: {} for flavour in flavours}
    for seed in seeds:
        folder = work / f"tuning-{data_set}-{seed}"
        processed = artifacts.build_features(data, folder, target, "--seed", str(seed))
        for flavour in flavours:
            default = artifacts.train(flavour, processed, folder / f"{flavour}-default")
            tuned, seconds, objectives, chosen = _tune(flavour, processed, folder, trials)
            measured = per_seed[flavour]
            for name, trained in (("default", default), ("tuned", tuned)):
                report = artifacts.evaluate(trained, folder / f"{flavour}-{name}", target)
                measured.setdefault(name, []).append(reported_metric(report, metric))
            entry["test_rows"] = report["row_count"]
            measured.setdefault("tuning_seconds", []).append(seconds)
            measured.setdefault("default_seconds", []).append(default.train_seconds)
            measured.setdefault("chosen", []).append(chosen)
            measured.setdefault("objectives", []).append(objectives)
    lower_is_better = 1 if metric == "rmse" else -1
    for flavour, measured in per_seed.items():
        chosen, objectives = measured.pop("chosen"), measured.pop("objectives")
        entry[flavour] = {key: summary(values) for key, values in measured.items()}
        gains = [lower_is_better * (d - t) for d, t in zip(measured["default"], measured["tuned"], strict=True)]
        entry[flavour]["improvement"] = summary(gains)
        entry[flavour]["chosen"], entry[flavour]["objectives"] = chosen, objectives
    return entry


def drawn_trials(flavour: str, trials: int) -> list[dict[str, str]]:
    """The configurations the pipeline's tuning job tries, drawn as the local cloud draws them."""
    return configurations(parameter_ranges(flavour, {}), trials, TUNING_SEED)


def _tune(flavour: str, processed: Path, folder: Path, trials: int):
    """The best of `trials` trials by objective: (its artifacts, the trials' training seconds, every trial's
    objective, its hyperparameters)."""
    scored = []
    for number, tuned in enumerate(drawn_trials(flavour, trials), 1):
        hyperparameters = {**tuned, "objective-folds": str(OBJECTIVE_FOLDS)}
        trained = artifacts.train(flavour, processed, folder / f"{flavour}-trial-{number}", hyperparameters)
        scored.append((float(re.findall(OBJECTIVE_REGEX, trained.log)[-1]), number, trained, tuned))
    best = min(scored, key=lambda trial: trial[:2])
    return best[2], sum(trial[2].train_seconds for trial in scored), [trial[0] for trial in scored], best[3]


def table_rows(entry: dict) -> list[tuple[str, str, str]]:
    behind = f"{len(entry['seeds'])} seeds, {entry['test_rows']:,} test rows of {entry['rows']:,}"
    rows = []
    for flavour in FLAVOURS:
        figures = entry.get(flavour)
        if figures is None:
            continue
        label = f"{entry['data_set']} test {entry['metric']} {flavour}"
        # Medians over the seeds: one seed's seconds can carry other work's load; the metrics cannot.
        tuning_seconds = statistics.median(figures["tuning_seconds"]["values"])
        default_seconds = statistics.median(figures["default_seconds"]["values"])
        rows += [
            (f"{label}, tuned ({entry['trials']} trials; {behind})", _mean_sd(figures["tuned"]), ""),
            (f"{label}, defaults (same splits)", _mean_sd(figures["default"]), ""),
            (f"{label}, gain of tuning over the defaults (paired)", _mean_sd(figures["improvement"]), ""),
            (
                f"{flavour} tuning cost: training seconds of all trials (median over the seeds)",
                f"{tuning_seconds:.0f} s",
                f"{tuning_seconds / default_seconds:.1f}x one untuned training ({default_seconds:.1f} s)",
            ),
        ]
    return rows


def _mean_sd(figures: dict) -> str:
    return f"{figures['mean']:.4f} ± {figures['sd']:.4f}"
