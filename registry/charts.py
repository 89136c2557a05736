"""The evaluation report as SVG drawn here from evaluation.json (no plotting library, no script): the gate metric
of the version beside its baselines and the champion, and for classification the confusion matrix.

The pipeline writes no report image and evaluation.json holds no per-row predictions, so a predicted-against-actual
scatter or a ROC curve cannot be drawn from what a version carries; these two charts can."""

from __future__ import annotations

from html import escape

_BAR_HEIGHT, _GAP, _LABEL_WIDTH, _BAR_WIDTH = 22, 8, 190, 300


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


def _short(label: str) -> str:
    text = str(label)
    return text if len(text) <= 12 else text[:11] + "…"
