"""The evaluation report as SVG drawn here from evaluation.json (no plotting library, no script): the gate metric
of the version beside its baselines and the champion, for classification the confusion matrix, and from its "plots"
block (evaluate.py's, on the test split) a predicted-against-actual scatter for regression and the ROC curve for
binary classification."""

from __future__ import annotations

from html import escape

_BAR_HEIGHT, _GAP, _LABEL_WIDTH, _BAR_WIDTH = 22, 8, 190, 300
_PLOT, _MARGIN = 300, 60  # the square plotting area of the scatter and the ROC curve, and the room left of it


def bars(title: str, values: list[tuple[str, float]], highlight: str = "") -> str:
    """Horizontal bars, one per (label, value), scaled to the largest value; the highlighted label drawn darker."""
    if not values:
        return ""
    top = max(abs(value) for _, value in values) or 1.0
    height = 30 + len(values) * (_BAR_HEIGHT + _GAP)
    width = _LABEL_WIDTH + _BAR_WIDTH + 80
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    for index, (label, value) in enumerate(values):
        y = 30 + index * (_BAR_HEIGHT + _GAP)
        length = max(1.0, _BAR_WIDTH * abs(value) / top)
        colour = "#1f5fa8" if label == highlight else "#9bb7d6"
        parts += [
            f'<text x="0" y="{y + 16}">{escape(label)}</text>',
            f'<rect x="{_LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{_BAR_HEIGHT}" fill="{colour}"/>',
            f'<text x="{_LABEL_WIDTH + length + 6:.1f}" y="{y + 16}">{value:.4g}</text>',
        ]
    return "".join(parts) + "</svg>"


def confusion(matrix: dict, title: str = "Confusion matrix (test rows)") -> str:
    """{actual: {predicted: count}} as a grid of cells shaded by count, actual labels down, predicted across."""
    labels = list(matrix)
    if not labels:
        return ""
    cell, margin = 48, 110
    size = margin + cell * len(labels)
    top = max((count for row in matrix.values() for count in row.values()), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{size + 10}" height="{size + 30}" '
        f'viewBox="0 0 {size + 10} {size + 30}"><title>{escape(title)}</title>',
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
        f'<text x="{margin}" y="{size + 26}">predicted →</text><text x="0" y="{margin - 8}">actual ↓</text>',
    ]
    for column, label in enumerate(labels):
        parts.append(f'<text x="{margin + column * cell + 4}" y="{margin - 8}">{escape(_short(label))}</text>')
    for row, actual in enumerate(labels):
        y = margin + row * cell
        parts.append(f'<text x="0" y="{y + cell / 2 + 5}">{escape(_short(actual))}</text>')
        for column, predicted in enumerate(labels):
            count = int(matrix[actual].get(predicted, 0))
            shade = 245 - int(200 * count / top)
            ink = "white" if shade < 140 else "black"
            x = margin + column * cell
            parts += [
                f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="rgb({shade},{shade + 5},255)"/>',
                f'<text x="{x + cell / 2 - 1}" y="{y + cell / 2 + 5}" text-anchor="middle" fill="{ink}">{count}</text>',
            ]
    return "".join(parts) + "</svg>"


def scatter_svg(pairs: list, title: str = "Predicted against actual (test rows)") -> str:
    """(actual, predicted) pairs as small circles, actual across and predicted up on one scale, with the line
    predicted = actual: points above it are over-predictions, below it under-predictions."""
    if not pairs:
        return ""
    values = [float(value) for pair in pairs for value in pair]
    low, high = min(values), max(values)
    span = (high - low) or 1.0

    def at(value: float) -> float:
        return _PLOT * (float(value) - low) / span

    parts = _square(title, f"{low:.4g}", f"{high:.4g}", "actual →", "predicted →")
    parts.append(_line(0, 0, _PLOT, _PLOT, "#888", dashed=True))
    parts += [
        f'<circle cx="{_MARGIN + at(actual):.1f}" cy="{30 + _PLOT - at(predicted):.1f}" r="2.5" fill="#1f5fa8" '
        'fill-opacity="0.6"/>'
        for actual, predicted in pairs
    ]
    return "".join(parts) + "</svg>"


def roc_svg(points: list, auc: float | None, title: str = "ROC curve (test rows)") -> str:
    """(false positive rate, true positive rate) points as one line from (0, 0) to (1, 1), with the diagonal a
    guessing model draws; the title carries the AUC."""
    if not points:
        return ""
    heading = f"{title}, AUC {auc:.4g}" if isinstance(auc, int | float) else title
    parts = _square(heading, "0", "1", "false positive rate →", "true positive rate →")
    parts.append(_line(0, 0, _PLOT, _PLOT, "#888", dashed=True))
    line = " ".join(f"{_MARGIN + _PLOT * float(x):.1f},{30 + _PLOT - _PLOT * float(y):.1f}" for x, y in points)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#1f5fa8" stroke-width="2"/>')
    return "".join(parts) + "</svg>"


def _square(title: str, low: str, high: str, across: str, up: str) -> list[str]:
    """The opening of a square chart: its title, the two axes, their min/max ticks and their names."""
    width, height = _MARGIN + _PLOT + 20, 30 + _PLOT + 40
    bottom, right = 30 + _PLOT, _MARGIN + _PLOT
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{_MARGIN}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="black"/>',
        f'<line x1="{_MARGIN}" y1="30" x2="{_MARGIN}" y2="{bottom}" stroke="black"/>',
        f'<text x="{_MARGIN}" y="{bottom + 16}" text-anchor="middle">{escape(low)}</text>',
        f'<text x="{right}" y="{bottom + 16}" text-anchor="end">{escape(high)}</text>',
        f'<text x="{_MARGIN - 4}" y="{bottom}" text-anchor="end">{escape(low)}</text>',
        f'<text x="{_MARGIN - 4}" y="40" text-anchor="end">{escape(high)}</text>',
        f'<text x="{_MARGIN + _PLOT / 2}" y="{bottom + 34}" text-anchor="middle">{escape(across)}</text>',
        f'<text x="14" y="{30 + _PLOT / 2}" transform="rotate(-90 14 {30 + _PLOT / 2})" '
        f'text-anchor="middle">{escape(up)}</text>',
    ]


def _line(x1: float, y1: float, x2: float, y2: float, colour: str, dashed: bool = False) -> str:
    """A line in plotting-area units (origin bottom left)."""
    dash = ' stroke-dasharray="4 4"' if dashed else ""
    return (
        f'<line x1="{_MARGIN + x1}" y1="{30 + _PLOT - y1}" x2="{_MARGIN + x2}" y2="{30 + _PLOT - y2}" '
        f'stroke="{colour}"{dash}/>'
    )


def _short(label: str) -> str:
    text = str(label)
    return text if len(text) <= 12 else text[:11] + "…"
