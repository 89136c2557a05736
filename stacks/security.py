"""Security as one mechanism: cdk-nag's AwsSolutions checks plus the rules this team wants everywhere."""

from __future__ import annotations

import jsii
from aws_cdk import Annotations, Aspects, IAspect
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks
from constructs import Construct, IConstruct


@jsii.implements(IAspect)
class EncryptedAndRetained:
    """Fails synth for any bucket, queue, topic or log group that misses the team's baseline.

    Each construct sets these itself; this aspect makes a forgotten flag a synth error, not a review comment.
    """

    def visit(self, node: IConstruct) -> None:
        problem = _baseline_problem(node)
        if problem:
            Annotations.of(node).add_error(problem)


def _baseline_problem(node: IConstruct) -> str | None:
    if isinstance(node, s3.CfnBucket) and node.bucket_encryption is None:
        return "Every bucket must be encrypted (set `encryption`)."
    if isinstance(node, sqs.CfnQueue) and node.kms_master_key_id is None:
        return "Every queue must be encrypted with a KMS key."
    if isinstance(node, sns.CfnTopic) and node.kms_master_key_id is None:
        return "Every topic must be encrypted with a KMS key."
    if isinstance(node, logs.CfnLogGroup) and node.retention_in_days is None:
        return "Every log group must have a retention period."
    if isinstance(node, s3.Bucket) and not _denies_insecure_transport(node):
        return "Every bucket must deny requests without TLS (set `enforce_ssl=True`)."
    return None


def _denies_insecure_transport(bucket: s3.Bucket) -> bool:
    policy = bucket.policy
    if policy is None:
        return False
    statements = policy.document.to_json().get("Statement", [])
    return any("aws:SecureTransport" in str(statement.get("Condition", {})) for statement in statements)


def apply_security_checks(app: Construct) -> None:
    Aspects.of(app).add(EncryptedAndRetained())
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True))


def pass_role_to_sagemaker(sid: str, role: iam.IRole) -> iam.PolicyStatement:
    """iam:PassRole on exactly `role`, and only to SageMaker (IAM: iam:PassedToService)."""
    return iam.PolicyStatement(
        sid=sid,
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    )


def data_key_for_sagemaker_resources(sid: str, key: kms.IKey, describe_sid: str) -> list[iam.PolicyStatement]:
    """What a caller needs to hand `key` to the SageMaker jobs, transform jobs or endpoints it creates: kms:CreateGrant
    for AWS resources only (kms:GrantIsForAWSResource) and kms:DescribeKey ("KMS permissions" of CreateProcessingJob,
    CreateTrainingJob, CreateTransformJob and CreateEndpointConfig in the SageMaker API permissions reference)."""
    return [
        iam.PolicyStatement(
            sid=sid,
            actions=["kms:CreateGrant"],
            resources=[key.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
        iam.PolicyStatement(sid=describe_sid, actions=["kms:DescribeKey"], resources=[key.key_arn]),
    ]
