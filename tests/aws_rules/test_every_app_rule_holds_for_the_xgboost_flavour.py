"""Every AWS rule in this folder that is checked on an app holds for the XGBoost flavour too: each rule test that
takes `app_templates` (or the training template, for image pulls) runs here on the xgboost app, with its own
parameters. The rules themselves are in their files; this one only adds the app."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from tests.synth_helpers import synth

_APP_ARGUMENTS = {"app_templates", "training"}


@pytest.fixture(scope="session")
def xgboost_app(tmp_path_factory) -> dict[str, dict]:
    return synth(tmp_path_factory.mktemp("xgboost-app"), model_flavour="xgboost")


def _rule_tests() -> list:
    """(id, test function, its parametrized arguments) for each rule test that takes an app."""
    found = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        if path.name == Path(__file__).name:
            continue
        module = importlib.import_module(f"tests.aws_rules.{path.stem}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            parameters = list(inspect.signature(function).parameters)
            if not name.startswith("test_") or not _APP_ARGUMENTS & set(parameters):
                continue
            for arguments in _parametrizations(function):
                found.append(pytest.param(function, arguments, id=f"{path.stem}::{name}{_suffix(arguments)}"))
    return found


def _parametrizations(function) -> list[dict]:
    """The keyword arguments of each case of the test's @pytest.mark.parametrize marks (one case without)."""
    cases = [{}]
    for mark in getattr(function, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names, values = mark.args[0], mark.args[1]
        names = [name.strip() for name in names.split(",")] if isinstance(names, str) else list(names)
        rows = [value.values if hasattr(value, "values") else value for value in values]
        rows = [row if len(names) > 1 else (row,) for row in rows]
        cases = [{**case, **dict(zip(names, row, strict=True))} for case in cases for row in rows]
    return cases


def _suffix(arguments: dict) -> str:
    return f"[{'-'.join(str(value) for value in arguments.values())}]" if arguments else ""


@pytest.mark.parametrize(("rule", "arguments"), _rule_tests())
def test_the_rule_holds_for_the_xgboost_flavour(xgboost_app, rule, arguments):
    parameters = inspect.signature(rule).parameters
    app = {"app_templates": xgboost_app, "training": xgboost_app["ScorelineTraining"]}
    rule(**{name: app[name] for name in parameters if name in app}, **arguments)


def test_the_rules_found_include_images_pulls_and_serving_code():
    """The collection above cannot silently shrink to nothing."""
    names = {case.id.split("::")[0] for case in _rule_tests()}
    assert {
        "test_images_are_listed_for_their_scope",
        "test_image_pulls_are_pinned_to_image_accounts",
        "test_serving_code_is_inside_the_model_artifact",
        "test_failure_reason_files",
        "test_job_role_cannot_start_jobs_or_pass_roles",
    } <= names
    assert len(_rule_tests()) >= 40
