"""The drift check after every scoring job: a function that starts a processing job when a scoring transform job
completes and publishes its result (metrics, one alert per drifted run), its two rules and its dashboard widgets.
The statistics run in the processing job (container_code/drift/check.py); README, "Drift check"."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from scoreline.instance_types import has_instance_storage
from scoreline.layout import DRIFT_PREFIX, SENT_ALERTS_PREFIX
from scoreline.names import DRIFT_CHECK, environment
from scoreline.settings import Settings
from stacks.alerts import FUNCTION_RETRY_ATTEMPTS, MAX_EVENT_AGE, lambda_target
from stacks.python_function import python_function
from stacks.sagemaker_events import sagemaker_event
from stacks.security import data_key_for_sagemaker_resources, pass_role_to_sagemaker

FUNCTION_CODE = Path(__file__).resolve().parents[1] / "functions" / "drift_check"
METRIC_NAMESPACE = "Scoreline"


class DriftCheck(Construct):
    """Completed scoring transform job -> drift check processing job -> drift.json, metrics, alert."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        bucket: s3.IBucket,
        data_key: kms.IKey,
        execution_role: iam.IRole,
        check_code: s3_assets.Asset,
        alert_topic: sns.ITopic,
        dead_letter_queue: sqs.IQueue,
        failed_invocations_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self.function = self._function(
            bucket, data_key, execution_role, check_code, alert_topic, failed_invocations_queue
        )
        self._grant(bucket, data_key, execution_role, alert_topic)
        self._rules(dead_letter_queue)

    def _function(self, bucket, data_key, execution_role, check_code, alert_topic, failed_invocations_queue):
        settings = self._settings
        return python_function(
            self,
            "DriftCheckFunction",
            code_dir=FUNCTION_CODE,
            description="Starts a drift check after each scoring job and publishes its result",
            role_description="Scoreline drift check function: start drift check jobs, publish their results",
            timeout=Duration.minutes(1),
            memory_size=256,
            retry_attempts=FUNCTION_RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(failed_invocations_queue),
            environment=environment(
                DRIFT_CHECK,
                scoring_name_prefix=settings.scoring_name_prefix,
                drift_name_prefix=settings.drift_name_prefix,
                execution_role_arn=execution_role.role_arn,
                kms_key_arn=data_key.key_arn,
                instance_type=settings.drift_instance_type,
                instance_storage=str(has_instance_storage(settings.drift_instance_type)).lower(),
                check_code_uri=check_code.s3_object_url,
                drift_uri=f"s3://{bucket.bucket_name}/{DRIFT_PREFIX}",
                psi_threshold=str(settings.drift_psi_threshold),
                null_rate_threshold=str(settings.drift_null_rate_threshold),
                min_rows=str(settings.drift_min_rows),
                metric_namespace=METRIC_NAMESPACE,
                alert_topic_arn=alert_topic.topic_arn,
                sent_alerts_uri=f"s3://{bucket.bucket_name}/{SENT_ALERTS_PREFIX}",
            ),
        )

    def _grant(self, bucket: s3.IBucket, data_key: kms.IKey, execution_role: iam.IRole, alert_topic) -> None:
        settings = self._settings
        arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}}
        statements = [
            iam.PolicyStatement(
                sid="OwnDriftCheckJobs",
                actions=["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:AddTags"],
                resources=[f"{arn}:processing-job/{settings.drift_name_prefix}-*"],
            ),
            iam.PolicyStatement(
                sid="ReadScoringJobTags",
                actions=["sagemaker:ListTags"],
                resources=[f"{arn}:transform-job/{settings.scoring_name_prefix}-*"],
            ),
            iam.PolicyStatement(
                sid="ReadDriftBaselines",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[f"{arn}:model-package/{settings.model_package_group_name}/*"],
            ),
            pass_role_to_sagemaker("PassExecutionRoleToDriftChecks", execution_role),
            iam.PolicyStatement(
                sid="ReadDriftReports", actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{DRIFT_PREFIX}*")]
            ),
            # One record per drifted run, written If-None-Match (functions/drift_check/app.py, _alert_once).
            iam.PolicyStatement(
                sid="RecordSentDriftAlerts",
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[bucket.arn_for_objects(f"{SENT_ALERTS_PREFIX}drift/*")],
            ),
            iam.PolicyStatement(
                sid="DataKeyThroughS3",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[data_key.key_arn],
                conditions=via_s3,
            ),  # fmt: skip
            # PutMetricData has no resource-level permissions; the cloudwatch:namespace condition key limits it to
            # this namespace (CloudWatch: "Using condition keys to limit access to CloudWatch namespaces").
            iam.PolicyStatement(
                sid="PublishDriftMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
            ),
            # CreateProcessingJob passes the data key (output and volume): kms:CreateGrant for AWS resources and
            # kms:DescribeKey, as for the scoring function's transform jobs.
            *data_key_for_sagemaker_resources("GrantDriftChecksTheDataKey", data_key, "DescribeTheDataKeyForDrift"),
        ]
        for statement in statements:
            self.function.add_to_role_policy(statement)
        alert_topic.grant_publish(self.function)
        NagSuppressions.add_resource_suppressions(
            self.function.role,
            [
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": (
                        "Wildcards limited to this app's drift check jobs and scoring jobs by name prefix, the "
                        "versions of its model package group, the drift reports (scoring/drift/*) and its records of "
                        "sent drift alerts; cloudwatch:PutMetricData has no resource-level permissions and is limited "
                        "to the Scoreline namespace; KMS data-key actions on the alerts key only, from the topic grant."
                    ),
                }
            ],
            apply_to_children=True,
        )

    def _rules(self, dead_letter_queue: sqs.IQueue) -> None:
        settings = self._settings
        for construct_id, description, detail_type, detail in (
            (
                "ScoringJobCompletedRule",
                "A scoring transform job completed: check its input and predictions for drift",
                "SageMaker Transform Job State Change",
                {
                    "TransformJobName": [{"prefix": f"{settings.scoring_name_prefix}-"}],
                    "TransformJobStatus": ["Completed"],
                },
            ),
            (
                "DriftCheckEndedRule",
                "A drift check job ended: publish its result",
                "SageMaker Processing Job State Change",
                {
                    "ProcessingJobName": [{"prefix": f"{settings.drift_name_prefix}-"}],
                    "ProcessingJobStatus": ["Completed", "Failed"],
                },
            ),
        ):
            rule = events.Rule(
                self, construct_id, description=description, event_pattern=sagemaker_event(detail_type, detail)
            )
            rule.add_target(lambda_target(self.function, dead_letter_queue))

    def widgets(self) -> list[cloudwatch.IWidget]:
        """The drift history: PSI per feature over time, and each check's outcome."""
        psi = cloudwatch.MathExpression(
            expression=f"SEARCH('{{{METRIC_NAMESPACE},Feature}} MetricName=\"PSI\"', 'Maximum', 86400)",
            label="",
            period=Duration.days(1),
        )
        threshold = cloudwatch.HorizontalAnnotation(value=self._settings.drift_psi_threshold, label="drift threshold")
        return [
            cloudwatch.GraphWidget(
                title="Drift: PSI per feature, each day's largest", left=[psi], left_annotations=[threshold], width=12
            ),  # fmt: skip
            cloudwatch.LogQueryWidget(
                title="Drift checks: outcome per scoring job",
                log_group_names=[self.function.log_group.log_group_name],
                query_lines=[
                    "fields @timestamp, transform_job, action, rows, reason",
                    "filter ispresent(action)",
                    "sort @timestamp desc",
                    "limit 50",
                ],
                width=12,
            ),
        ]
