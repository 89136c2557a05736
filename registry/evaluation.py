"""Reading a version's evaluation.json (container_code/evaluation/evaluate.py writes it): its metrics in SageMaker's
model-quality layout, the baselines and champion on the same test rows, and the gate block."""

from __future__ import annotations

SECTIONS = ("regression_metrics", "binary_classification_metrics", "multiclass_classification_metrics")
LOWER_IS_BETTER = ("rmse", "mae", "mse")
LABELS = {
    "rmse": "RMSE",
    "mae": "MAE",
    "mse": "MSE",
    "r2": "R²",
    "auc": "AUC",
    "f1": "F1",
    "weighted_f1": "weighted F1",
    "weighted_precision": "weighted precision",
    "weighted_recall": "weighted recall",
}
BASELINES = {
    "training_mean": "training mean",
    "linear": "linear model",
    "majority_class": "majority class",
    "logistic_regression": "logistic regression",
}


def label(metric: str) -> str:
    return LABELS.get(metric, metric)


def metrics(evaluation: dict | None) -> dict[str, dict]:
    """{metric: {"value": ..., maybe "standard_deviation": ...}} of the candidate; the confusion matrix left out."""
    for section in SECTIONS:
        if evaluation and section in evaluation:
            return {name: value for name, value in evaluation[section].items() if isinstance(value, dict)}
    return {}


def confusion_matrix(evaluation: dict | None) -> dict:
    for section in SECTIONS[1:]:
        if evaluation and section in evaluation:
            return evaluation[section].get("confusion_matrix", {})
    return {}


def scatter_pairs(evaluation: dict | None) -> list[tuple[float, float]]:
    """plots.actual_predicted (evaluate.py's, on the test split): the (actual, predicted) pairs that are numbers."""
    found = ((evaluation or {}).get("plots") or {}).get("actual_predicted")
    return _pairs(found)


def roc(evaluation: dict | None) -> tuple[list[tuple[float, float]], float | None]:
    """plots.roc: its (false positive rate, true positive rate) points and AUC; ([], None) when there is none."""
    found = ((evaluation or {}).get("plots") or {}).get("roc")
    if not isinstance(found, dict):
        return [], None
    auc = found.get("auc")
    return _pairs(found.get("points")), float(auc) if isinstance(auc, int | float) else None


def _pairs(found) -> list[tuple[float, float]]:
    if not isinstance(found, list):
        return []
    return [
        (float(pair[0]), float(pair[1]))
        for pair in found
        if isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(v, int | float) for v in pair)
    ]


def number(entry) -> float | None:
    value = entry.get("value") if isinstance(entry, dict) else None
    return float(value) if isinstance(value, int | float) else None


def headline(evaluation: dict | None) -> tuple[str, float, float | None] | None:
    """(metric label, value, standard deviation or None) of the gate's metric. evaluate.py writes no interval today;
    SageMaker's model-quality layout has an optional standard_deviation per metric, shown when it is there."""
    candidate = metrics(evaluation)
    name = (evaluation or {}).get("gate", {}).get("metric") or next(iter(candidate), None)
    if name not in candidate or number(candidate[name]) is None:
        return None
    deviation = candidate[name].get("standard_deviation")
    return label(name), number(candidate[name]), float(deviation) if isinstance(deviation, int | float) else None


def baselines(evaluation: dict | None) -> dict[str, dict]:
    """{readable baseline name: its metrics}."""
    found = (evaluation or {}).get("baseline_metrics", {})
    return {BASELINES.get(name, name): values for name, values in found.items() if isinstance(values, dict)}


def champion(evaluation: dict | None) -> tuple[str, dict]:
    """(the champion's ARN or why there was none, its metrics on the same rows or {})."""
    block = (evaluation or {}).get("champion_metrics", {})
    arn = block.get("model_package_arn", "none")
    if "not_compared" in block:
        return f"{arn} (not compared: {block['not_compared']})", {}
    for section in SECTIONS:
        if section in block:
            return arn, {k: v for k, v in block[section].items() if isinstance(v, dict)}
    return ("none (no approved version when it was trained)" if arn == "none" else arn), {}


def gate_passed(evaluation: dict | None) -> bool | None:
    """Whether the candidate met both limits the pipeline's condition compares (None: no gate block). The
    absolute RmseThreshold is a pipeline parameter the report does not record; a registered version passed it."""
    gate = (evaluation or {}).get("gate", {})
    try:
        score = float(gate["candidate_score"])
        return score >= float(gate["baseline_required_score"]) and score >= float(gate["champion_required_score"])
    except (KeyError, TypeError, ValueError):
        return None


def gate_words(evaluation: dict | None) -> str:
    """The gate's decision as a person would say it."""
    gate = (evaluation or {}).get("gate", {})
    passed = gate_passed(evaluation)
    if passed is None:
        return "No quality gate was recorded for this version."
    name = gate.get("metric_label") or label(gate.get("metric", ""))
    better = "at most" if gate.get("metric") in LOWER_IS_BETTER else "at least"
    words = (
        f"{'Passed' if passed else 'Refused'}: test {name} {_g(gate.get('candidate'))} against the required "
        f"{better} {_g(gate.get('baseline_limit'))} (the better baseline scored {_g(gate.get('baseline'))}, and "
        f"min_improvement_over_baseline is {_g(gate.get('min_improvement_over_baseline'))})"
    )
    champion_value = gate.get("champion")
    if isinstance(champion_value, int | float):
        words += (
            f" and {better} {_g(gate.get('champion_limit'))} from the champion (which scored {_g(champion_value)}, "
            f"champion_tolerance {_g(gate.get('champion_tolerance'))})"
        )
    else:
        words += f"; champion: {champion_value}"
    advice = "" if passed else f" {gate.get('advice', '')}"
    return words + "." + advice


def _g(value) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else str(value)
