"""Settings are validated once; a bad value is named with what is allowed."""

import json
from pathlib import Path

import pytest

from scoreline.settings import SettingsError, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_cdk_json_holds_every_setting_with_its_default():
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    settings = load_settings(context)
    defaults = load_settings({})
    assert settings == defaults
    ours = {key for key in context if ":" not in key and "/" not in key}
    assert ours == set(type(settings).model_fields)


def test_command_line_strings_are_converted():
    settings = load_settings(
        {"transform_instance_count": "3", "retain_stateful": "false", "categorical_columns": "ocean, county"}
    )
    assert settings.transform_instance_count == 3
    assert settings.retain_stateful is False
    assert settings.categorical_columns == ("ocean", "county")


@pytest.mark.parametrize(
    "values, named",
    [
        ({"model_flavour": "lightgbm"}, "Setting 'model_flavour' input should be 'sklearn', 'pytorch' or 'xgboost'"),
        (
            {"schedule_expression": "cron(0 6 * * * *)"},
            "Setting 'schedule_expression' is not an EventBridge cron",
        ),
        ({"schedule_expression": "0 6 * * *"}, "Setting 'schedule_expression' must be cron(...) or rate("),
        ({"training_instance_count": -1}, "Setting 'training_instance_count' input should be greater than"),
        ({"project_name": "My_Project"}, "Setting 'project_name' must be 3 to 20 lowercase letters"),
        ({"schedule_time_zone": "Mars/Olympus"}, "Setting 'schedule_time_zone' must be an IANA time zone"),
        (
            {"transform_instance_type": "m5.xlarge"},
            "Setting 'transform_instance_type' must be a SageMaker instance",
        ),
        ({"scoring_input_prefix": "in/{day}/"}, "Setting 'scoring_input_prefix' may hold only the {date}"),
        ({"alert_email": "not-an-address"}, "Setting 'alert_email' must be empty or an e-mail address"),
        ({"model_flavor": "sklearn"}, "Unknown setting 'model_flavor'"),
        ({"gate_confidence": 1.5}, "Setting 'gate_confidence' must be a confidence level from 0.5 to 0.999"),
        ({"gate_confidence": "high"}, "Setting 'gate_confidence' must be a confidence level from 0.5 to 0.999"),
        (
            {"scoring_reserved_concurrency": -1},
            "Setting 'scoring_reserved_concurrency' must be a whole number from 0 (no reservation, the default)",
        ),
        ({"scoring_reserved_concurrency": "five"}, "Setting 'scoring_reserved_concurrency' must be a whole number"),
        (
            {"retrain_schedule_expression": "cron(0 3 * * * *)"},
            "Setting 'retrain_schedule_expression' is not an EventBridge cron",
        ),
        ({"retrain_schedule_expression": "weekly"}, "Setting 'retrain_schedule_expression' must be cron(...) or rate("),
        ({"retrain_on_new_data": "sometimes"}, "Setting 'retrain_on_new_data' must be true or false"),
        ({"retrain_debounce_minutes": 0}, "Setting 'retrain_debounce_minutes' must be a number of minutes above 0"),
        ({"retrain_debounce_minutes": "soon"}, "Setting 'retrain_debounce_minutes' must be a number of minutes"),
        (
            {"transform_max_concurrent": 17},
            "Setting 'transform_max_concurrent' must be 0 (automatic) or at most 16, so that times "
            "transform_max_payload_mb (6) it stays within the 100 MB",
        ),
        (
            {"transform_max_payload_mb": 40, "transform_max_concurrent": 3},
            "Setting 'transform_max_concurrent' must be 0 (automatic) or at most 2",
        ),
        ({"tuning_max_jobs": -1}, "Setting 'tuning_max_jobs' input should be greater than or equal to 0"),
        ({"tuning_strategy": "Grid"}, "Setting 'tuning_strategy' input should be 'Random' or 'Bayesian'"),
        (
            {"tuning_max_jobs": 4, "tuning_max_parallel_jobs": 8},
            "Setting 'tuning_max_parallel_jobs' must be at most tuning_max_jobs (4) (got 8).",
        ),
        (
            {"model_flavour": "pytorch", "training_instance_count": 2, "tuning_max_jobs": 4},
            "Setting 'tuning_max_jobs' needs training_instance_count 1 (got 2): each trial cross-validates in one",
        ),
        (
            {"realtime_instance_type": "ml.t3.medium"},
            "Setting 'realtime_instance_type' has a size whose vCPUs Scoreline does not know",
        ),
    ],
)
def test_bad_value_names_the_setting_and_what_is_allowed(values, named):
    with pytest.raises(SettingsError) as raised:
        load_settings(values)
    assert str(raised.value).startswith(named)
    assert "\n" not in str(raised.value)


def test_cdk_own_context_keys_are_not_settings():
    assert load_settings({"@aws-cdk/core:checkSecretUsage": True, "aws:cdk:enable-path-metadata": True})


def test_rate_schedules_are_accepted():
    assert load_settings({"schedule_expression": "rate(6 hours)"}).schedule_expression == "rate(6 hours)"


def test_reserved_concurrency_is_off_unless_asked():
    assert load_settings({}).scoring_reserved_concurrency == 0
    assert load_settings({"scoring_reserved_concurrency": "5"}).scoring_reserved_concurrency == 5


def test_training_triggers_are_off_unless_asked():
    settings = load_settings({})
    assert settings.retrain_schedule_expression == "" and settings.retrain_on_new_data is False
    asked = load_settings(
        {
            "retrain_schedule_expression": "rate(7 days)",
            "retrain_on_new_data": "true",
            "retrain_debounce_minutes": "0.5",
        }
    )
    assert asked.retrain_schedule_expression == "rate(7 days)"
    assert asked.retrain_on_new_data is True and asked.retrain_debounce_minutes == 0.5


def test_problem_type_and_gate_metric_default_to_auto():
    settings = load_settings({})
    assert (settings.problem_type, settings.gate_metric) == ("auto", "auto")
    assert load_settings({"problem_type": "binary", "gate_metric": "f1"}).gate_metric == "f1"
    assert load_settings({"gate_metric": "auc"}).gate_metric == "auc"  # auto type: Evaluate checks it at run time


@pytest.mark.parametrize(
    "values, named",
    [
        ({"problem_type": "classification"}, "Setting 'problem_type' input should be 'auto', 'regression', 'binary'"),
        (
            {"problem_type": "multiclass", "gate_metric": "auc"},
            "Setting 'gate_metric' must be auto or one of weighted_f1, accuracy for problem_type multiclass",
        ),
        ({"problem_type": "regression", "gate_metric": "f1"}, "one of rmse, mae, r2 for problem_type regression"),
    ],
)
def test_problem_type_and_gate_metric_mistakes_are_one_sentence(values, named):
    with pytest.raises(SettingsError) as error:
        load_settings(values)
    assert named in str(error.value)


def test_min_improvement_may_be_negative_but_above_minus_one():
    """Negative: the candidate may be up to that fraction worse than the best baseline (small, linear data)."""
    assert load_settings({"min_improvement_over_baseline": "-0.5"}).min_improvement_over_baseline == -0.5
    with pytest.raises(SettingsError, match="Setting 'min_improvement_over_baseline' input should be greater than -1"):
        load_settings({"min_improvement_over_baseline": "-1"})
