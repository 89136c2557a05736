"""The evaluation report the demo writes: predicted against actual (regression), or the confusion matrix and the ROC
curve (classification)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def regression_report(path: Path, actual, predicted: list[float], flavour: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rmse = float(np.sqrt(np.mean((np.asarray(predicted) - actual) ** 2)))
    figure, axes = plt.subplots(figsize=(5, 5), dpi=100)
    axes.scatter(actual, predicted, s=6, alpha=0.5)
    low, high = float(min(actual.min(), min(predicted))), float(max(actual.max(), max(predicted)))
    axes.plot([low, high], [low, high], color="grey", linewidth=1)
    axes.set(xlabel="actual", ylabel="predicted", title=f"{flavour}: {len(predicted)} new rows, RMSE {rmse:.3f}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def _label(value) -> str:
    """A true label as the model container writes it: numbers as Preprocess names classes (1.0 -> "1")."""
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(number):
        return str(value)
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def classification_report(path: Path, actual: pd.Series, lines: list[list[str]], classes: list[str], title: str):
    """Confusion matrix of the scored rows (true label against the served label); for binary, the ROC curve of the
    positive class (classes[1]) beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    count = len(classes)
    truth = [classes.index(_label(value)) for value in actual]
    predicted = [classes.index(row[-count - 1]) for row in lines]
    counts = np.zeros((count, count), dtype=int)
    for true_index, predicted_index in zip(truth, predicted, strict=True):
        counts[true_index, predicted_index] += 1
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    panels = 2 if count == 2 else 1
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 5), dpi=100, squeeze=False)
    matrix = axes[0][0]
    matrix.imshow(counts, cmap="Blues")
    for (row, column), value in np.ndenumerate(counts):
        colour = "white" if value > counts.max() / 2 else "black"
        matrix.text(column, row, str(value), ha="center", va="center", color=colour)
    matrix.set(xticks=range(count), yticks=range(count), xlabel="predicted", ylabel="actual")
    matrix.set_xticklabels(classes, rotation=30, ha="right")
    matrix.set_yticklabels(classes)
    matrix.set_title(f"{title}, accuracy {accuracy:.3f}")
    if count == 2:
        _roc_panel(axes[0][1], np.array(truth), np.array([float(row[-1]) for row in lines]), classes[1])
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def _roc_panel(axes, truth, positive_probability, positive: str) -> None:
    """One point per distinct probability threshold (ties move both rates at once), from (0, 0) to (1, 1)."""
    import numpy as np

    thresholds = np.unique(positive_probability)[::-1]
    above = positive_probability[None, :] >= thresholds[:, None]
    true_positive_rate = np.r_[0, (above & (truth == 1)).sum(axis=1) / max((truth == 1).sum(), 1)]
    false_positive_rate = np.r_[0, (above & (truth == 0)).sum(axis=1) / max((truth == 0).sum(), 1)]
    area = float(np.trapezoid(true_positive_rate, false_positive_rate))
    axes.plot(false_positive_rate, true_positive_rate)
    axes.plot([0, 1], [0, 1], color="grey", linewidth=1)
    axes.set(
        xlabel="false positive rate", ylabel="true positive rate", title=f"ROC, positive {positive!r}: AUC {area:.3f}"
    )
