"""Each function gets exactly the environment variables of its table in scoreline/names.py, the table its shipped
copy is checked against (tests/functions): a variable the stack forgot would stop the function at its first event."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from scoreline.names import FUNCTION_VARIABLES, RETRAIN_DEBOUNCE, environment

# (the app's templates fixture, stack, the function's logical id prefix, its folder under functions/)
DEPLOYED_FUNCTIONS = [
    ("templates", "ScorelineScoring", "ScoringFunction", "scoring"),
    ("templates", "ScorelineScoring", "DriftCheckDriftCheckFunction", "drift_check"),
    ("realtime_app", "ScorelineServing", "ServingFunction", "serving"),
    ("training_triggers_app", "ScorelineTraining", "RetrainingDebounceFunction", "retrain_debounce"),
]


@pytest.mark.parametrize(("app", "stack", "logical_prefix", "function"), DEPLOYED_FUNCTIONS)
def test_each_function_gets_exactly_the_variables_of_its_table(request, app, stack, logical_prefix, function):
    template = Template.from_json(request.getfixturevalue(app)[stack])
    [variables] = [
        resource["Properties"]["Environment"]["Variables"]
        for logical_id, resource in template.find_resources("AWS::Lambda::Function").items()
        if logical_id.startswith(logical_prefix)
    ]
    assert set(variables) == set(FUNCTION_VARIABLES[function].values())


def test_a_missing_or_unknown_setting_stops_synth():
    given = {setting: "x" for setting in RETRAIN_DEBOUNCE if setting != "debounce_seconds"}
    with pytest.raises(ValueError, match=r"missing \['debounce_seconds'\], unknown \['debounce_minutes'\]"):
        environment(RETRAIN_DEBOUNCE, **given, debounce_minutes="10")


def test_the_environment_keeps_the_order_given():
    values = {setting: setting for setting in reversed(RETRAIN_DEBOUNCE)}
    assert list(environment(RETRAIN_DEBOUNCE, **values)) == [RETRAIN_DEBOUNCE[s] for s in values]
