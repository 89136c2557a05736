"""Security checks on the synthesized app: cdk-nag, cfn-lint, IAM wildcards, the team's baseline aspect."""

import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import cx_api

from stacks.security import apply_security_checks
from tests.synth_helpers import resources

# Actions that have no resource-level permissions: the only ones allowed on Resource "*".
ACTIONS_WITHOUT_RESOURCES = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "sagemaker:ListModelPackages",
    "sagemaker:ListTransformJobs",
}


def _findings(assembly, level: cx_api.SynthesisMessageLevel) -> list[str]:
    return [
        f"{message.id}: {message.entry.data}"
        for stack in assembly.stacks
        for message in stack.messages
        if message.level == level
    ]


def test_no_unsuppressed_nag_errors_or_warnings(assembly):
    assert _findings(assembly, cx_api.SynthesisMessageLevel.ERROR) == []
    assert _findings(assembly, cx_api.SynthesisMessageLevel.WARNING) == []


def test_every_nag_suppression_sits_on_its_resource_with_a_reason(templates):
    for template in templates.values():
        for name, resource in template["Resources"].items():
            for suppression in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                assert len(suppression["reason"]) >= 30, f"{name}: {suppression['id']} needs a real reason"


def test_cfn_lint_finds_nothing(assembly):
    paths = [stack.template_full_path for stack in assembly.stacks]
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), *paths], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _statements(templates):
    for template in templates.values():
        for name, policy in resources(template, "AWS::IAM::Policy").items():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                yield name, statement


def test_no_statement_allows_every_action(templates):
    for name, statement in _statements(templates):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(action != "*" and not action.endswith(":*") for action in actions), name


def test_resource_star_only_for_actions_without_resource_level_permissions(templates):
    for name, statement in _statements(templates):
        if statement["Resource"] == "*" or "*" in (
            statement["Resource"] if isinstance(statement["Resource"], list) else []
        ):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert set(actions) <= ACTIONS_WITHOUT_RESOURCES, f"{name}: {json.dumps(statement)}"


@pytest.mark.parametrize(
    "make_resource, expected",
    [
        (lambda stack: s3.Bucket(stack, "Plain"), "Every bucket must be encrypted"),
        (lambda stack: sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.SQS_MANAGED), "Every queue"),
        (
            lambda stack: s3.Bucket(stack, "NoTls", encryption=s3.BucketEncryption.S3_MANAGED),
            "deny requests without TLS",
        ),
    ],
)
def test_baseline_aspect_rejects_resources_missing_the_baseline(tmp_path: Path, make_resource, expected):
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe")
    make_resource(stack)
    apply_security_checks(app)
    errors = _findings(app.synth(), cx_api.SynthesisMessageLevel.ERROR)
    assert any(expected in error for error in errors), errors
