"""Classification quality: each flavour against the baselines, per problem type, on the bundled data sets.

Iris (multiclass, text labels) and breast cancer (binary, 0/1) go through the shipped scripts as the pipeline
runs them (Preprocess, Train, Evaluate); the figures are Evaluate's own, on its test split: the gate's metric
(auc for binary, weighted_f1 for multiclass) and accuracy, for each flavour and for the two baselines Evaluate
measures on the same rows (majority class, logistic regression on the same features)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import artifacts
from demo.data import DATASETS

# Data set -> its problem type's gate metric (gate_metric=auto).
DATA_SETS = {"iris": "weighted_f1", "breast-cancer": "auc"}
BASELINES = ("majority_class", "logistic_regression")


def measure(work: Path, flavours, hyperparameters: dict | None = None) -> dict:
    """{data set: {"problem_type", "metric", "rows", "test_rows", <flavour or baseline>: {metric, accuracy, ...}}}."""
    results = {}
    for name, metric in DATA_SETS.items():
        loader, target = DATASETS[name]
        folder = work / f"classification-{name}"
        processed = artifacts.build_features(loader(), folder, target)
        entry = {"metric": metric}
        for flavour in flavours:
            trained = artifacts.train(flavour, processed, folder, (hyperparameters or {}).get(flavour))
            report = artifacts.evaluate(trained, folder, target)
            section = f"{report['problem_type']}_classification_metrics"
            entry.update(problem_type=report["problem_type"], test_rows=report["row_count"])
            entry[flavour] = {**_figures(report[section], metric), "train_seconds": round(trained.train_seconds, 1)}
        for baseline in BASELINES:
            entry[baseline] = _figures(report["baseline_metrics"][baseline], metric)
        results[name] = entry
    return results


def _figures(metrics: dict, metric: str) -> dict:
    return {metric: round(metrics[metric]["value"], 4), "accuracy": round(metrics["accuracy"]["value"], 4)}


def table_rows(results: dict) -> list[tuple[str, str, str]]:
    """(figure, value, goal) rows: each flavour's metric beside the better baseline's, which it should match."""
    rows = []
    for name, entry in results.items():
        metric = entry["metric"]
        best = max(entry[baseline][metric] for baseline in BASELINES)
        label = f"{name} ({entry['problem_type']}, {entry['test_rows']} test rows)"
        for key in [key for key in entry if isinstance(entry[key], dict)]:
            figures = entry[key]
            goal = f">= {best:.4f} (best baseline)" if key not in BASELINES else ""
            rows.append(
                (f"{label} {metric} {key}", f"{figures[metric]:.4f} (accuracy {figures['accuracy']:.4f})", goal)
            )
    return rows
