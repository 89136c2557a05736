"""The code that ships alone (container_code/ into SageMaker's images, functions/ into Lambda) cannot import the
core package (scoreline/), so it keeps its own copy of the facts it needs; each copy must equal the core's. The
functions' environment variables are checked beside their other tests (tests/functions: variables_the_stack_passes,
from scoreline/names.py)."""

from local_mode.modules import load_module
from scoreline.settings import GATE_METRICS
from tests.conftest import REPO_ROOT


def test_evaluate_knows_the_gate_metrics_the_settings_accept():
    evaluate = load_module(REPO_ROOT / "container_code" / "evaluation" / "evaluate.py", "evaluate_copy")
    assert evaluate.GATE_METRICS == GATE_METRICS
