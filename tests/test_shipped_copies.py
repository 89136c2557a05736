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


def test_evaluate_defaults_to_the_gate_confidence_the_settings_default_to():
    from scoreline.settings import Settings

    evaluate = load_module(REPO_ROOT / "container_code" / "evaluation" / "evaluate.py", "evaluate_copy")
    assert Settings().gate_confidence == evaluate.GATE_CONFIDENCE
    assert evaluate.parse_args(["--target-column", "y"]).confidence == Settings().gate_confidence


def test_evaluate_reads_the_out_of_fold_file_where_training_writes_it():
    import os

    evaluate = load_module(REPO_ROOT / "container_code" / "evaluation" / "evaluate.py", "evaluate_copy")
    model_io = load_module(REPO_ROOT / "container_code" / "common" / "model_io.py", "model_io_copy")
    assert os.path.join(model_io.CV_FOLDER, model_io.CV_FILE) == evaluate.CV_FILE


def test_evaluate_defaults_to_the_gate_settings_defaults():
    from scoreline.settings import Settings

    evaluate = load_module(REPO_ROOT / "container_code" / "evaluation" / "evaluate.py", "evaluate_copy")
    args = evaluate.parse_args(["--target-column", "y"])
    defaults = Settings()
    assert (args.min_improvement_over_baseline, args.champion_tolerance) == (
        defaults.min_improvement_over_baseline,
        defaults.champion_tolerance,
    )
