"""The role EventBridge Scheduler runs a schedule's target with, shared by the scoring schedule and the retraining
schedules. A plain function, not a construct: the role is a direct child of `scope`, so it keeps its logical ID."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


def scheduler_role(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    dead_letter_key: kms.IKey,
    statements: Sequence[iam.PolicyStatement] = (),
) -> iam.Role:
    """A role only EventBridge Scheduler may assume, for this account's schedules, with `statements` and the use of
    `dead_letter_key` for the dead letters it writes to an encrypted queue."""
    role = iam.Role(
        scope,
        construct_id,
        # "Confused deputy prevention in EventBridge Scheduler": aws:SourceAccount, and aws:SourceArn = the schedule
        # group's ARN ("Do not scope the aws:SourceArn statement to a specific schedule ... The ARN you specify must
        # be a schedule group"); this app's schedules are in the default group.
        assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com",
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnEquals": {"aws:SourceArn": default_schedule_group_arn(Stack.of(scope))},
            },
        ),
        description=description,
    )
    for statement in statements:
        role.add_to_policy(statement)
    # Scheduler sends dead letters with the schedule's role ("Configuring a dead-letter queue"), and a producer to a
    # queue under a customer managed key needs kms:GenerateDataKey and kms:Decrypt (SQS key management), here only
    # through SQS.
    role.add_to_policy(
        iam.PolicyStatement(
            sid="DeadLettersThroughSqs",
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[dead_letter_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"sqs.{Aws.REGION}.amazonaws.com"}},
        )
    )
    return role


def default_schedule_group_arn(stack: Stack) -> str:
    return stack.format_arn(service="scheduler", resource="schedule-group", resource_name="default")
