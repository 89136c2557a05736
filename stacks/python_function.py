"""One way to build this app's Lambda functions: a folder of this repository on Python 3.12, with its own log group
and its own role, which may write only that log group until the caller grants it more."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack, SymlinkFollowMode
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct


def python_function(
    scope: Construct,
    construct_id: str,
    *,
    code_dir: Path,
    description: str,
    role_description: str,
    timeout: Duration,
    memory_size: int,
    follow_symlinks: bool = False,
    **options,
) -> lambda_.Function:
    """`<construct_id>` with `<construct_id>Logs` (kept 3 months) and `<construct_id>Role`; `options` go to the
    Function (environment, on-failure destination, ...). `follow_symlinks` copies what links in `code_dir` point to
    into the asset, for a module shared with another function."""
    log_group = logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        retention=logs.RetentionDays.THREE_MONTHS,
        removal_policy=RemovalPolicy.DESTROY,
    )
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=role_description,
    )
    log_group.grant_write(role)
    function = lambda_.Function(
        scope,
        construct_id,
        description=description,
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="app.handler",
        code=lambda_.Code.from_asset(str(code_dir), exclude=["__pycache__", "*.pyc"], **_symlinks(follow_symlinks)),
        timeout=timeout,
        memory_size=memory_size,
        log_group=log_group,
        role=role,
        **options,
    )
    # The role's GetAtt already orders the function after the role: keep only the wait for the role's policy.
    policy = role.node.find_child("DefaultPolicy").node.default_child
    function.node.default_child.add_override("DependsOn", [Stack.of(function).get_logical_id(policy)])
    NagSuppressions.add_resource_suppressions(
        function,
        [{"id": "AwsSolutions-L1", "reason": "Python 3.12 is the runtime the function is tested against."}],
    )
    return function


def _symlinks(follow: bool) -> dict:
    """Only when asked, so the other functions' asset options (and hashes) stay as they were."""
    return {"follow_symlinks": SymlinkFollowMode.ALWAYS} if follow else {}
