"""The code that ships alone (container_code/ into SageMaker's images, functions/ into Lambda) cannot import the
core package (scoreline/), so it keeps its own copy of the facts it needs; each copy must equal the core's."""

from local_mode.modules import load_module
from scoreline.settings import GATE_METRICS
from tests.conftest import REPO_ROOT


def test_evaluate_knows_the_gate_metrics_the_settings_accept():
    evaluate = load_module(REPO_ROOT / "container_code" / "evaluation" / "evaluate.py", "evaluate_copy")
    assert evaluate.GATE_METRICS == GATE_METRICS


def test_evaluate_defaults_to_the_gate_confidence_the_settings_default_to():
    from scoreline.settings import Settings

    evaluate = load_module(REPO_ROOT / "container_code" / "evaluation" / "evaluate.py", "evaluate_copy")
    assert Settings().gate_confidence == evaluate.GATE_CONFIDENCE
    assert evaluate.parse_args(["--target-column", "y"]).confidence == Settings().gate_confidence
