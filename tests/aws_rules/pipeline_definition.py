"""The pipeline definition as deployed: the ScorelineTraining template's `PipelineDefinitionBody` (an `Fn::Sub`),
parsed with each deploy-time variable shown as `<Name>`; walk its steps with definitions.nested_steps."""

from __future__ import annotations

import json
import re

from tests.synth_helpers import only


def definition_and_variables(templates: dict[str, dict]) -> tuple[dict, dict]:
    """(definition with `${Name}` shown as `<Name>`, {Name: its CloudFormation value})."""
    pipeline = only(templates["ScorelineTraining"], "AWS::SageMaker::Pipeline")
    body, variables = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    text = re.sub(r"\$\{(\w+)\}", r"<\1>", body).replace("${!", "${")
    return json.loads(text), variables
