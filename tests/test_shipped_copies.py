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


def test_evaluate_bins_predictions_as_preprocess_bins_features():
    """The drift baseline's prediction distribution (evaluate.py) and its features' (preprocess.py) use one rule,
    the one the drift check counts with (container_code/drift/check.py)."""
    import numpy as np

    evaluate = load_module(REPO_ROOT / "container_code" / "evaluation" / "evaluate.py", "evaluate_copy")
    preprocess = load_module(REPO_ROOT / "container_code" / "features" / "preprocess.py", "preprocess_copy")
    check = load_module(REPO_ROOT / "container_code" / "drift" / "check.py", "check_copy")
    assert evaluate.BASELINE_QUANTILES == preprocess.BASELINE_QUANTILES
    values = np.concatenate([np.random.default_rng(5).gamma(2.0, 1.5, 5000), [np.nan] * 50, [3.0] * 500])
    baseline = preprocess.numeric_baseline(values)
    assert evaluate.numeric_baseline(values) == baseline
    counts = check.bin_counts(values, baseline["edges"])
    assert (counts / counts.sum()).tolist() == baseline["proportions"]
