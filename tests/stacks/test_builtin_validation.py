"""CDK's built-in CloudFormation validation finds nothing in the app's templates.

`python app.py` turns the plugin off to save 2-3 s of every synth (app.py, main); the test fixtures synthesize with
CDK's defaults, so the plugin runs here and writes its report into the assembly, at no extra synth."""

from __future__ import annotations

import json
from pathlib import Path


def _violations(assembly) -> list[dict]:
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    return [violation for plugin in report["pluginReports"] for violation in plugin.get("violations", [])]


def test_builtin_validation_ran_and_found_nothing(assembly):
    assert _violations(assembly) == []


def test_builtin_validation_found_nothing_with_training_triggers(training_triggers_assembly):
    assert _violations(training_triggers_assembly) == []
