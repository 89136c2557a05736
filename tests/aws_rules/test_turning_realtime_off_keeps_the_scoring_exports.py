"""CloudFormation, Fn::ImportValue: "You can't modify or remove an output value that is referenced by another
stack." Turning `realtime` off removes the serving stack from the app (CDK neither deploys nor deletes it), so any
export of the other stacks that only the serving stack imports would make their update fail with "Export ... cannot
be deleted as it is in use by ScorelineServing". The serving stack may import only what the app exports anyway."""

import json
import re


def _exports(templates: dict[str, dict]) -> set[str]:
    return {
        output["Export"]["Name"]
        for template in templates.values()
        for output in template.get("Outputs", {}).values()
        if "Export" in output
    }


def _imports(template: dict) -> set[str]:
    return set(re.findall(r'"Fn::ImportValue": "([^"]+)"', json.dumps(template)))


def test_every_export_the_serving_stack_imports_exists_without_realtime(templates, realtime_app):
    imported = _imports(realtime_app["ScorelineServing"])
    assert imported <= _exports(templates), f"exported only for the serving stack: {imported - _exports(templates)}"


def test_realtime_adds_no_export_to_the_other_stacks(templates, realtime_app):
    assert _exports({name: t for name, t in realtime_app.items() if name != "ScorelineServing"}) == _exports(templates)
