"""Model quality with its spread (`make bench`; `BENCH_ARGS=--spread` alone): each flavour's test metric as the mean
and standard deviation over several split seeds, beside the baselines Evaluate measures on the same test rows.

One test split is one draw: on California housing the scikit-learn flavour's test RMSE moves by about 0.01 from one
split seed to another, as much as the flavours differ. So every figure here is a mean over `seeds` splits
(Preprocess's --seed: a new train / validation / test split each time), through the shipped scripts as the pipeline
runs them (Preprocess, Train with its default hyperparameters, Evaluate), with the number of seeds and rows behind
it. The metric is the gate's (gate_metric=auto): RMSE for regression, AUC for binary, weighted F1 for multiclass."""

from __future__ import annotations

import statistics
from pathlib import Path

from benchmarks import artifacts
from demo.data import DATASETS

SEEDS = (1, 2, 3, 4, 5)
# Data set -> (the gate's metric, its baselines); the data sets are the demo's (data/ and scikit-learn's bundled).
DATA_SETS = {
    "california": ("rmse", ("training_mean", "linear")),
    "iris": ("weighted_f1", ("majority_class", "logistic_regression")),
    "breast-cancer": ("auc", ("majority_class", "logistic_regression")),
}
SECTIONS = ("regression_metrics", "binary_classification_metrics", "multiclass_classification_metrics")


def measure(work: Path, flavours, seeds=SEEDS, hyperparameters: dict | None = None, rows: int | None = None,
            data_sets=tuple(DATA_SETS)) -> dict:  # fmt: skip
    """{data set: {"metric", "rows", "test_rows", "seeds", <flavour or baseline>: {"mean", "sd", "values"}}}.
    `rows`: only the first rows of each data set (the quick smoke run)."""
    results = {}
    for name in data_sets:
        metric, baselines = DATA_SETS[name]
        loader, target = DATASETS[name]
        data = loader()
        data = data.head(rows) if rows else data
        values: dict[str, list[float]] = {}
        entry = {"metric": metric, "rows": len(data), "seeds": list(seeds)}
        for seed in seeds:
            folder = work / f"spread-{name}-{seed}"
            processed = artifacts.build_features(data, folder, target, "--seed", str(seed))
            for flavour in flavours:
                trained = artifacts.train(flavour, processed, folder, (hyperparameters or {}).get(flavour))
                report = artifacts.evaluate(trained, folder, target)
                values.setdefault(flavour, []).append(reported_metric(report, metric))
                values.setdefault(f"{flavour}_train_seconds", []).append(trained.train_seconds)
            for baseline in baselines:  # the same rows for every flavour: the last report's are everyone's
                values.setdefault(baseline, []).append(report["baseline_metrics"][baseline][metric]["value"])
            entry["test_rows"] = report["row_count"]
        for key, measured in values.items():
            entry[key] = summary(measured)
        results[name] = entry
    return results


def reported_metric(report: dict, metric: str) -> float:
    """The candidate's `metric` in an evaluation.json, whichever problem type's section holds it."""
    section = next(key for key in SECTIONS if key in report)
    return report[section][metric]["value"]


def summary(values: list[float]) -> dict:
    """Mean and sample standard deviation (0 for one value), with the values themselves."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": round(statistics.fmean(values), 4), "sd": round(sd, 4), "values": [round(v, 4) for v in values]}


def table_rows(results: dict) -> list[tuple[str, str, str]]:
    """(figure, mean ± sd, note) rows: every flavour and baseline of every data set, with its seeds and rows."""
    rows = []
    for name, entry in results.items():
        behind = f"{len(entry['seeds'])} seeds, {entry['test_rows']:,} test rows of {entry['rows']:,}"
        for key, figures in entry.items():
            if isinstance(figures, dict) and not key.endswith("_train_seconds"):
                seconds = entry.get(f"{key}_train_seconds")
                note = f"trained in {seconds['mean']:.1f} s" if seconds else "baseline"
                figure = f"{name} test {entry['metric']} {key} ({behind})"
                rows.append((figure, f"{figures['mean']:.4f} ± {figures['sd']:.4f}", note))
    return rows
