"""The version view's evaluation report from evaluation.json alone (pages.version_view on a dict, no cloud): the
predicted-against-actual scatter for regression, the ROC curve for binary classification, and what an older
evaluation.json without "plots" showed before."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from registry import pages
from registry.aws import Version

GATE = {"metric": "rmse", "candidate_score": -0.5, "baseline_required_score": -0.7, "champion_required_score": -1}


def version_page(evaluation: dict) -> str:
    return pages.version_view(
        {
            "version": Version(3, "arn:aws:sagemaker:eu-west-1:1:model-package/g/3", "Approved", datetime.now(UTC)),
            "package": {},
            "evaluation": evaluation,
            "champion": None,
            "manifest": None,
            "runs": [],
            "allow_approve": False,
        }
    )


def report(body: str) -> str:
    return body.split("<h2>Evaluation report</h2>", 1)[1].split("<h2>", 1)[0]


def regression(**extra) -> dict:
    return {"regression_metrics": {"rmse": {"value": 0.5}}, "row_count": 4, "gate": GATE, **extra}


def test_a_regression_version_shows_predicted_against_actual_with_the_line_of_perfect_predictions():
    pairs = [[1.0, 1.2], [2.0, 1.9], [3.5, 3.0], [0.25, 0.5]]
    shown = report(version_page(regression(plots={"actual_predicted": pairs})))
    assert "<title>Predicted against actual (test rows)</title>" in shown
    assert shown.count("<circle ") == 4
    assert 'stroke-dasharray="4 4"' in shown  # predicted = actual
    assert ">0.25</text>" in shown and ">3.5</text>" in shown  # the axes' min and max ticks
    assert "ROC" not in shown and "<script" not in shown


def test_a_binary_version_shows_its_roc_curve_and_auc_beside_the_confusion_matrix():
    evaluation = {
        "binary_classification_metrics": {
            "confusion_matrix": {"no": {"no": 40, "yes": 5}, "yes": {"no": 6, "yes": 49}},
            "auc": {"value": 0.93},
        },
        "gate": {**GATE, "metric": "auc"},
        "plots": {"roc": {"points": [[0.0, 0.0], [0.1, 0.7], [0.4, 0.95], [1.0, 1.0]], "auc": 0.9123}},
    }
    shown = report(version_page(evaluation))
    assert "<title>ROC curve (test rows), AUC 0.9123</title>" in shown
    polyline = re.search(r'<polyline points="([^"]+)"', shown).group(1)
    assert len(polyline.split()) == 4
    assert "Confusion matrix" in shown and "Predicted against actual" not in shown


def test_an_evaluation_without_plots_shows_what_it_showed_before():
    shown = report(version_page(regression()))
    assert "<svg" in shown and "<circle" not in shown and "<polyline" not in shown


def test_malformed_plots_draw_nothing_and_text_is_escaped():
    body = version_page(regression(plots={"actual_predicted": [["<b>", 1], [1]], "roc": "nonsense"}))
    assert "<circle" not in body and "<polyline" not in body and "<b>" not in body
