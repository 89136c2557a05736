"""The EventBridge patterns of the SageMaker events the stacks' rules listen to (source aws.sagemaker); the scoring
and serving stacks both follow a version of the app's model package group being approved or rejected."""

from __future__ import annotations

from aws_cdk import aws_events as events


def sagemaker_event(detail_type: str, detail: dict, resources: list[str] | None = None) -> events.EventPattern:
    return events.EventPattern(source=["aws.sagemaker"], detail_type=[detail_type], resources=resources, detail=detail)


def approved_or_rejected(model_package_group_name: str) -> events.EventPattern:
    """A version of the group was approved or rejected (or changed while it was): scoring and serving act on it."""
    return sagemaker_event(
        "SageMaker Model Package State Change",
        {"ModelPackageGroupName": [model_package_group_name], "ModelApprovalStatus": ["Approved", "Rejected"]},
    )
