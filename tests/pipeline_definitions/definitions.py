"""The generated definitions under test, built (uncached) once per flavour."""

from __future__ import annotations

import functools
import json

from pipeline_definitions.__main__ import DEFAULT_SPEC
from scoreline.pipeline_spec import PipelineSpec

FLAVOURS = ("sklearn", "pytorch", "xgboost")


@functools.cache
def definition(flavour: str) -> dict:
    from pipeline_definitions.training_pipeline import build_definition

    spec = PipelineSpec(**{**DEFAULT_SPEC.__dict__, "flavour": flavour})
    return json.loads(build_definition(spec))


def steps_by_name(flavour: str) -> dict[str, dict]:
    return nested_steps(definition(flavour))


def nested_steps(pipeline_definition: dict) -> dict[str, dict]:
    """Every step by name, including those nested in the conditions' branches."""
    found, pending = {}, list(pipeline_definition["Steps"])
    while pending:
        step = pending.pop()
        found[step["Name"]] = step
        pending += step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", [])
    return found
