"""Synthesize the app in-process, with optional setting overrides."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import cx_api

from app import build_app, cdk_json_context


def synth_assembly(outdir: Path, **overrides) -> cx_api.CloudAssembly:
    app = cdk.App(context={**cdk_json_context(), **overrides}, outdir=str(outdir))
    return build_app(app).synth()


def templates_of(assembly: cx_api.CloudAssembly) -> dict[str, dict]:
    return {stack.stack_name: json.loads(Path(stack.template_full_path).read_text()) for stack in assembly.stacks}


def synth(outdir: Path, **overrides) -> dict[str, dict]:
    """Synthesize into `outdir`; return {stack name: template dict}."""
    return templates_of(synth_assembly(outdir, **overrides))


def resources(template: dict, resource_type: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def only(template: dict, resource_type: str, prefix: str = "") -> dict:
    """The one resource of this type (whose logical id starts with `prefix`)."""
    found = [r for name, r in resources(template, resource_type).items() if name.startswith(prefix)]
    assert len(found) == 1, f"expected one {resource_type} {prefix}, found {len(found)}"
    return found[0]


def main_function(template: dict) -> dict:
    """The scoring or serving stack's own function, not the drift check's (stacks/drift_check.py)."""
    found = [r for name, r in resources(template, "AWS::Lambda::Function").items() if not name.startswith("DriftCheck")]
    assert len(found) == 1, f"expected one function besides the drift check's, found {len(found)}"
    return found[0]
