"""Instance counts mean something: counts the jobs cannot use are refused at synth with one sentence, and the
pipeline has no count parameter that an execution could override unchecked."""

from __future__ import annotations

import json

import pytest

from scoreline.settings import SettingsError, load_settings
from tests.pipeline_definitions.definitions import definition, steps_by_name
from tests.synth_helpers import only


@pytest.mark.parametrize(
    "values, sentence",
    [
        (
            {"processing_instance_count": 2},
            "Setting 'processing_instance_count' must be 1: Preprocess fits its transformer on all rows",
        ),
        (
            {"training_instance_count": 4},
            "Setting 'training_instance_count' must be at most 1 for model_flavour sklearn: scikit-learn's "
            "HistGradientBoosting models train in one process",
        ),
        (
            {"model_flavour": "xgboost", "training_instance_count": 9},
            "Setting 'training_instance_count' must be at most 8 for model_flavour xgboost: each instance reads "
            "every row and builds the gradient histograms of its share",
        ),
        (
            {"model_flavour": "pytorch", "training_instance_count": 9},
            "Setting 'training_instance_count' must be at most 8 for model_flavour pytorch: each training step's "
            "batch (batch-size, 256 rows by default) is split across the instances",
        ),
    ],
)
def test_counts_the_jobs_cannot_use_are_refused(values, sentence):
    with pytest.raises(SettingsError) as refused:
        load_settings(values)
    assert str(refused.value).startswith(sentence)
    assert str(refused.value).count(".") <= 3 and "Traceback" not in str(refused.value)


def test_transform_count_is_free_and_one_instance_is_accepted_everywhere():
    settings = load_settings({"transform_instance_count": 4, "model_flavour": "pytorch", "training_instance_count": 1})
    assert (settings.transform_instance_count, settings.processing_instance_count) == (4, 1)


@pytest.mark.parametrize("flavour", ["pytorch", "xgboost"])
@pytest.mark.parametrize("count", [2, 8])
def test_pytorch_and_xgboost_train_on_up_to_eight_instances(flavour, count):
    """PyTorch trains distributed data parallel and XGBoost with its collective, so their counts mean something up
    to the limit."""
    settings = load_settings({"model_flavour": flavour, "training_instance_count": count})
    assert settings.training_instance_count == count


def test_the_pipeline_has_no_instance_count_parameter():
    assert not [p["Name"] for p in definition("sklearn")["Parameters"] if "Count" in p["Name"]]
    steps = steps_by_name("sklearn")
    processing = [
        steps[name]["Arguments"]["ProcessingResources"]["ClusterConfig"] for name in ("Preprocess", "Evaluate")
    ]
    training = steps["Train"]["Arguments"]["ResourceConfig"]
    assert [resources["InstanceCount"] for resources in [*processing, training]] == [1, 1, 1]


def test_dashboard_lists_transform_jobs_with_idle_instances(templates):
    dashboard = only(templates["ScorelineScoring"], "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "Transform jobs with idle instances" in body
    assert "filter idle_instances > 0" in body
