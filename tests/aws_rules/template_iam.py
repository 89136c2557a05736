"""Reading roles, their policies and the pipeline definition out of synthesized templates (for the AWS-rule tests)."""

from __future__ import annotations

import json

from tests.synth_helpers import only, resources


def role_id(template: dict, prefix: str) -> str:
    """Logical id of the one role whose id starts with `prefix` (JobRole, PipelineRole, ...)."""
    found = [name for name in resources(template, "AWS::IAM::Role") if name.startswith(prefix)]
    assert len(found) == 1, f"expected one role {prefix}*, found {found}"
    return found[0]


def role_statements(template: dict, role: str) -> list[dict]:
    """Every statement of the policies attached to `role` (by logical id)."""
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def trust_statements(template: dict, role: str) -> list[dict]:
    return template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


def actions(statement: dict) -> list[str]:
    return listed(statement["Action"])


def allowing(statements: list[dict], action: str) -> list[dict]:
    """Allow statements that name `action` exactly or by a wildcard that covers it."""
    service, name = action.split(":")
    return [
        s
        for s in statements
        if s["Effect"] == "Allow"
        and any(
            a == action or a == "*" or (a.endswith("*") and action.startswith(a[:-1])) or a == f"{service}:*"
            for a in actions(s)
        )
    ]


def flat(value) -> str:
    """A template value as one string, so tests can look for literal ARN parts inside Fn::Join."""
    return json.dumps(value, sort_keys=True)


def pipeline(training: dict) -> dict:
    return only(training, "AWS::SageMaker::Pipeline")["Properties"]


def definition(training: dict) -> tuple[dict, dict]:
    """(the pipeline definition as JSON with ${Variable} left in, the Fn::Sub variables)."""
    body, variables = pipeline(training)["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    return json.loads(body.replace("${!", "${")), variables
