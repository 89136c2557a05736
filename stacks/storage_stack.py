"""Stateful resources: the data key, the data bucket (and its access-log bucket), the model registry group."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct


class StorageStack(Stack):
    """Everything that holds data or models; retained on stack deletion unless settings say otherwise."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project_name: str,
        retain: bool,
        bucket_events_to_eventbridge: bool,
        model_package_group_name: str,
        use_existing_model_package_group: bool,
        **kwargs,
    ) -> None:
        """`retain`: keep the key, buckets and group on stack deletion; `bucket_events_to_eventbridge`: for
        retraining on new data; `use_existing_model_package_group`: the group outlived an earlier deploy."""
        super().__init__(scope, construct_id, **kwargs)
        self._removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        self.key = self._key(project_name)
        log_bucket = self._access_log_bucket()
        self.bucket = self._data_bucket(log_bucket)
        if bucket_events_to_eventbridge:
            self._send_bucket_events_to_eventbridge()
        self.model_package_group_name = model_package_group_name
        if not use_existing_model_package_group:
            self._model_package_group(project_name, model_package_group_name)
        self._outputs()

    def _key(self, project_name: str) -> kms.Key:
        return kms.Key(
            self,
            "DataKey",
            alias=f"alias/{project_name}-data",
            description="Encrypts Scoreline data, model artifacts and predictions",
            enable_key_rotation=True,
            removal_policy=self._removal,
        )

    def _access_log_bucket(self) -> s3.Bucket:
        # S3 server access logs cannot be written to a KMS-encrypted bucket: SSE-S3 is the supported choice.
        return s3.Bucket(
            self,
            "AccessLogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(365), noncurrent_version_expiration=Duration.days(30))
            ],
            removal_policy=self._removal,
            auto_delete_objects=False,
        )

    def _data_bucket(self, log_bucket: s3.Bucket) -> s3.Bucket:
        return s3.Bucket(
            self,
            "DataBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=log_bucket,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(30))],
            removal_policy=self._removal,
        )

    def _send_bucket_events_to_eventbridge(self) -> None:
        """Retraining on new data listens to S3's "Object Created" events in EventBridge. The bucket's own
        NotificationConfiguration.EventBridgeConfiguration (CloudFormation AWS::S3::Bucket) turns them on;
        `event_bridge_enabled=True` would do it through a custom resource and its own Lambda function instead."""
        bucket = self.bucket.node.default_child
        bucket.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)

    def _model_package_group(self, project_name: str, name: str) -> None:
        """The group's name is fixed (users and the scoring rule type it) and it is retained by default, so after
        `cdk destroy` it still exists and creating it again fails with "already exists": then the app uses it as
        it is (use_existing_model_package_group) and does not create it."""
        group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=name,
            model_package_group_description=f"{project_name}: two-container models (features, model)",
        )
        group.apply_removal_policy(self._removal)

    def _outputs(self) -> None:
        """What users type (README, Use it): `aws cloudformation describe-stacks --stack-name <this stack>`."""
        CfnOutput(
            self,
            "DataBucketName",
            value=self.bucket.bucket_name,
            description="Data bucket: training CSVs under training/input/, rows to score under scoring/input/<date>/",
        )
        CfnOutput(
            self,
            "ModelPackageGroupName",
            value=self.model_package_group_name,
            description="Model registry group: list, review and approve the versions the pipeline registers",
        )
