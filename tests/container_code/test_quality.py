"""The quality goals on California housing, through the real scripts with their default hyperparameters."""

import pytest

from tests.container_code.helpers import evaluate, flavours, preprocess, train

# Test-split RMSE in units of $100k (a linear model gets about 0.75).
GOALS = {"sklearn": 0.46, "pytorch": 0.52}


@pytest.fixture(scope="module")
def processed(housing, tmp_path_factory):
    return preprocess(housing, tmp_path_factory.mktemp("housing"), "--target-column", "MedHouseVal")


@pytest.mark.slow
@pytest.mark.parametrize("flavour", flavours(*sorted(GOALS)))
def test_default_hyperparameters_meet_the_quality_goal(flavour, processed, tmp_path):
    model_dir, _, seconds = train(flavour, processed, tmp_path)
    report = evaluate(flavour, processed, model_dir, tmp_path, "MedHouseVal")
    rmse = report["regression_metrics"]["rmse"]["value"]
    print(f"{flavour}: test RMSE {rmse:.4f} (goal <= {GOALS[flavour]}), trained in {seconds:.1f} s")  # measured only
    assert report["row_count"] == 3096
    assert rmse <= GOALS[flavour]
