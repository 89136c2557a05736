"""Batch scoring: the function, what triggers it (approval, schedule), and the alerts when anything fails."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Aws, CfnCustomResource, CfnOutput, Duration, Stack, TimeZone
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from cdk_nag import NagSuppressions
from constructs import Construct

from scoreline.instance_types import has_instance_storage
from scoreline.layout import SENT_ALERTS_PREFIX
from scoreline.model_servers import transform_serving
from scoreline.names import SCORING, environment
from scoreline.settings import Settings
from stacks.alerts import FUNCTION_RETRY_ATTEMPTS, MAX_EVENT_AGE, RETRY_ATTEMPTS, AlertNames, Alerts, lambda_target
from stacks.dashboards import console_url, logged_lines
from stacks.drift_check import DriftCheck
from stacks.python_function import python_function
from stacks.sagemaker_events import approved_or_rejected, sagemaker_event
from stacks.scheduler_role import scheduler_role
from stacks.security import data_key_for_sagemaker_resources, pass_role_to_sagemaker

FUNCTION_CODE = Path(__file__).resolve().parents[1] / "functions" / "scoring"


class ScoringStack(Stack):
    """Approved model or scheduled time -> scoring function -> CreateModel + CreateTransformJob."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        bucket: s3.IBucket,
        data_key: kms.IKey,
        execution_role: iam.IRole,
        pipeline_name: str,
        drift_check_code: s3_assets.Asset | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._settings = settings
        self._names = _Names(self, settings)
        # The app's alerts live here; the serving stack borrows them by name (stacks/alerts.py).
        self.alerts = Alerts(
            self, self._names.alerts, alert_email=settings.alert_email, serving_rules_dead_letters=settings.realtime
        )
        self.function = self._scoring_function(bucket, data_key, execution_role)
        self._remove_models_on_delete()
        self._approval_rule()
        self._schedule()
        self._failure_rules(pipeline_name)
        drift = self._drift_check(bucket, data_key, execution_role, drift_check_code)
        alarms = self._alarms()
        dashboard = self._dashboard(pipeline_name, alarms)
        if drift:
            dashboard.add_widgets(*drift.widgets())
        self._outputs(dashboard)

    def _drift_check(self, bucket, data_key, execution_role, check_code) -> DriftCheck | None:
        """A drift check after every completed scoring job (stacks/drift_check.py), unless drift_check=false."""
        if not (self._settings.drift_check and check_code):
            return None
        return DriftCheck(
            self,
            "DriftCheck",
            settings=self._settings,
            bucket=bucket,
            data_key=data_key,
            execution_role=execution_role,
            check_code=check_code,
            alert_topic=self.alerts.topic,
            dead_letter_queue=self.alerts.dead_letter_queue,
            failed_invocations_queue=self.alerts.failed_invocations_queue,
        )

    def _remove_models_on_delete(self) -> None:
        """The models the function makes at run time are outside CloudFormation: the function is also this custom
        resource, whose Delete removes them (CloudFormation "Custom resources": ServiceToken, a Lambda function).
        Deleted before the function's role and policy, which it runs with."""
        resource = CfnCustomResource(self, "RunTimeResources", service_token=self.function.function_arn)
        resource.node.add_dependency(self.function.role)

    def _scoring_function(self, bucket: s3.IBucket, data_key: kms.IKey, execution_role: iam.IRole):
        settings = self._settings
        serving = transform_serving(settings)  # requests in flight, model-server workers and threads
        function = python_function(
            self,
            "ScoringFunction",
            code_dir=FUNCTION_CODE,
            follow_symlinks=True,  # model_registry.py, shared with the other functions (functions/common)
            description="Starts batch transform with the latest approved two-container model",
            role_description="Scoreline scoring function: create and stop its own models and transform jobs",
            timeout=Duration.minutes(1),
            memory_size=256,
            reserved_concurrent_executions=settings.scoring_reserved_concurrency or None,
            # Lambda retries a failed asynchronous invocation, then sends the invocation record to the on-failure
            # destination (Lambda: "Capturing records of Lambda asynchronous invocations"); without one the event
            # is dropped. The function's role writes to it: SqsDestination grants sqs:SendMessage and the queue
            # key's kms:GenerateDataKey*/kms:Decrypt (SQS: what a producer to an encrypted queue needs).
            retry_attempts=FUNCTION_RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.alerts.failed_invocations_queue),
            environment=environment(
                SCORING,
                group=settings.model_package_group_name,
                execution_role_arn=execution_role.role_arn,
                name_prefix=settings.scoring_name_prefix,
                input_uri=f"s3://{bucket.bucket_name}/{settings.scoring_input_prefix}",
                output_uri=f"s3://{bucket.bucket_name}/{settings.scoring_output_prefix}",
                kms_key_arn=data_key.key_arn,
                instance_type=settings.transform_instance_type,
                instance_storage=str(has_instance_storage(settings.transform_instance_type)).lower(),
                instance_count=str(settings.transform_instance_count),
                max_payload_mb=str(settings.transform_max_payload_mb),
                max_concurrent=str(serving.concurrency),
                container_environments=json.dumps(serving.container_environments(), sort_keys=True),
                input_filter=settings.transform_input_filter,
                alert_topic_arn=self.alerts.topic.topic_arn,
                # One record per alert sent, so that a second delivery of the same run does not alert again.
                sent_alerts_uri=f"s3://{bucket.bucket_name}/{SENT_ALERTS_PREFIX}",
            ),
        )
        self._grant_scoring(function, bucket, data_key, execution_role)
        return function

    def _grant_scoring(
        self, function: lambda_.Function, bucket: s3.IBucket, data_key: kms.IKey, execution_role: iam.IRole
    ) -> None:
        settings = self._settings
        arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        prefix = settings.scoring_name_prefix
        group = settings.model_package_group_name
        statements = [
            iam.PolicyStatement(
                sid="OwnModelsAndTransformJobs",
                actions=[
                    "sagemaker:CreateModel",
                    "sagemaker:DescribeModel",
                    "sagemaker:CreateTransformJob",
                    "sagemaker:DescribeTransformJob",
                    "sagemaker:StopTransformJob",
                    "sagemaker:AddTags",
                ],
                resources=[f"{arn}:model/{prefix}-*", f"{arn}:transform-job/{prefix}-*"],
            ),
            # The stack's deletion removes the models the function made (_remove_models_on_delete).
            iam.PolicyStatement(
                sid="DeleteItsModels",
                actions=["sagemaker:DeleteModel"],
                resources=[f"{arn}:model/{prefix}-*"],
            ),
            iam.PolicyStatement(
                sid="ReadModelRegistry",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[f"{arn}:model-package/{group}/*"],
            ),
            iam.PolicyStatement(
                sid="ListApprovedVersionsAndRunningJobs",
                actions=["sagemaker:ListModelPackages", "sagemaker:ListTransformJobs", "sagemaker:ListModels"],
                resources=["*"],  # these List actions have no resource-level permissions
            ),
            pass_role_to_sagemaker("PassExecutionRoleToSageMaker", execution_role),
            iam.PolicyStatement(
                sid="CheckScoringInput",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [settings.scoring_input_prefix.split("{", 1)[0] + "*"]}},
            ),
            # Records of sent alerts: a conditional PutObject (If-None-Match) needs s3:PutObject only (S3 User Guide,
            # "How to prevent object overwrites with conditional writes"); a record whose alert could not be sent
            # is deleted so that a retry sends it.
            iam.PolicyStatement(
                sid="RecordSentAlerts",
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[bucket.arn_for_objects(f"{SENT_ALERTS_PREFIX}*")],
            ),
            # The bucket encrypts new objects with the data key (SSE-KMS): PutObject needs kms:GenerateDataKey on it
            # (S3 API reference, PutObject), here only through S3.
            iam.PolicyStatement(
                sid="EncryptSentAlertRecords",
                actions=["kms:GenerateDataKey"],
                resources=[data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            ),
            # CreateTransformJob passes the data key (TransformOutput.KmsKeyId, TransformResources.VolumeKmsKeyId):
            # the caller needs kms:CreateGrant, for AWS resources only, and kms:DescribeKey on it (SageMaker:
            # "KMS permissions for ... CreateTransformJob"; KMS: kms:GrantIsForAWSResource).
            *data_key_for_sagemaker_resources("GrantTransformJobsTheDataKey", data_key, "DescribeTheDataKey"),
        ]
        for statement in statements:
            function.add_to_role_policy(statement)
        self.alerts.topic.grant_publish(function)
        NagSuppressions.add_resource_suppressions(
            function.role,
            [
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": (
                        "Wildcards limited to this app's name prefix for models and transform jobs, the "
                        "versions of its model package group, its log group's streams, the scoring input "
                        "prefix and its records of sent alerts (scoring/alerts/*); ListModelPackages and "
                        "ListTransformJobs have no resource-level permissions; "
                        "KMS data-key actions (GenerateDataKey*, ReEncrypt*) on the alerts key only, from the topic "
                        "and failed-invocations queue grants."
                    ),
                }
            ],
            apply_to_children=True,
        )

    def _approval_rule(self) -> events.Rule:
        rule = events.Rule(
            self,
            "ApprovedModelRule",
            rule_name=self._names.approval_rule,
            description="A version of this app's model package group was approved or rejected",
            event_pattern=approved_or_rejected(self._settings.model_package_group_name),
        )
        rule.add_target(lambda_target(self.function, self.alerts.dead_letter_queue))
        return rule

    def _schedule(self) -> scheduler.Schedule:
        names = self._names
        role = scheduler_role(
            self,
            "SchedulerRole",
            description="EventBridge Scheduler: invoke the scoring function",
            dead_letter_key=self.alerts.key,
        )
        target = scheduler_targets.LambdaInvoke(
            self.function,
            input=scheduler.ScheduleTargetInput.from_object(
                {"trigger": "schedule", "scheduled_time": scheduler.ContextAttribute.scheduled_time}
            ),
            dead_letter_queue=self.alerts.dead_letter_queue,
            retry_attempts=RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            role=role,
        )
        schedule = scheduler.Schedule(
            self,
            "ScoringSchedule",
            schedule_name=names.schedule,
            description="Scores new data with the latest approved model version",
            schedule=_schedule_expression(self._settings),
            target=target,
        )
        NagSuppressions.add_resource_suppressions(
            role,
            [
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": "The scheduler may invoke the scoring function's versions (<function ARN>:*) only.",
                    "applies_to": [{"regex": "/^Resource::<ScoringFunction[A-Z0-9]+\\.Arn>:\\*$/"}],
                }
            ],
            apply_to_children=True,
        )
        return schedule

    def _failure_rules(self, pipeline_name: str) -> None:
        pipeline_arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:pipeline/{pipeline_name}"
        names = self.alerts.names
        self.alerts.failure_rule(
            "PipelineFailedRule",
            names.pipeline_failed_rule,
            "The training pipeline failed",
            sagemaker_event(
                "SageMaker Model Building Pipeline Execution Status Change",
                {"currentPipelineExecutionStatus": ["Failed"]},
                resources=[pipeline_arn],
            ),
        )
        self.alerts.failure_rule(
            "TransformFailedRule",
            names.transform_failed_rule,
            "A scoring transform job failed",
            sagemaker_event(
                "SageMaker Transform Job State Change",
                {
                    "TransformJobName": [{"prefix": f"{self._settings.scoring_name_prefix}-"}],
                    "TransformJobStatus": ["Failed"],
                },
            ),
        )

    def _alarms(self) -> list[cloudwatch.Alarm]:
        five_minutes = Duration.minutes(5)
        names = self.alerts.names
        alarms = [
            self.alerts.alarm(
                "ScoringFunctionErrors",
                names.function_errors_alarm,
                "The scoring function raised an error",
                self.function.metric_errors(period=five_minutes),
            ),
            self.alerts.alarm(
                "UndeliveredScoringEvents",
                names.undelivered_events_alarm,
                ("Scoring or serving" if self._settings.realtime else "Scoring")
                + " events could not be delivered and wait in the dead-letter queue",
                self.alerts.dead_letter_queue.metric_approximate_number_of_messages_visible(period=five_minutes),
            ),
            self.alerts.alarm(
                "FailedScoringInvocations",
                names.failed_invocations_alarm,
                ("The scoring or serving" if self._settings.realtime else "The scoring")
                + " function failed an event after its retries; it waits in the failed-invocations queue",
                self.alerts.failed_invocations_queue.metric_approximate_number_of_messages_visible(period=five_minutes),
            ),
        ]
        if self._settings.retraining:
            # The retraining triggers' dead-letter queue (training stack) by its fixed name: a failed retrain start
            # must not go unnoticed (SQS: "Creating alarms for dead-letter queues using Amazon CloudWatch").
            alarms.append(
                self.alerts.alarm(
                    "UndeliveredRetrainTriggers",
                    names.retrain_dead_letters_alarm,
                    "A retraining trigger could not start the pipeline and waits in the retrain dead-letter queue",
                    cloudwatch.Metric(
                        namespace="AWS/SQS",
                        metric_name="ApproximateNumberOfMessagesVisible",
                        dimensions_map={"QueueName": self._settings.retrain_dead_letter_queue_name},
                        statistic="Maximum",
                        period=five_minutes,
                    ),
                )
            )
        return alarms

    def _dashboard(self, pipeline_name: str, alarms: list[cloudwatch.Alarm]) -> cloudwatch.Dashboard:
        def sagemaker_metric(name: str, dimensions: dict[str, str], namespace: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=namespace,
                metric_name=name,
                dimensions_map=dimensions,
                statistic="Sum",
                period=Duration.hours(1),
            )

        pipeline = {"PipelineName": pipeline_name}
        dashboard = cloudwatch.Dashboard(
            self, "ScorelineDashboard", dashboard_name=f"{self._settings.project_name}-overview"
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Pipeline executions",
                left=[
                    sagemaker_metric(name, pipeline, "AWS/Sagemaker/ModelBuildingPipeline")
                    for name in ("ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed")
                ],
            ),
            logged_lines(
                "Scoring decisions and transform jobs started",
                self.function,
                "trigger, version, job_name, action, reason",
                where="filter ispresent(action)",
                limit=50,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Scoring function",
                left=[self.function.metric_invocations(), self.function.metric_errors()],
            ),
            cloudwatch.GraphWidget(
                title="Undelivered scoring events (dead-letter queue) and failed invocations",
                left=[
                    self.alerts.dead_letter_queue.metric_approximate_number_of_messages_visible(
                        label="Dead-letter queue"
                    ),
                    self.alerts.failed_invocations_queue.metric_approximate_number_of_messages_visible(
                        label="Failed invocations"
                    ),
                ],
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms),
        )
        # Batch transform gives each instance whole input objects: a job with fewer objects than instances pays for
        # idle instances. The function's started_job line counts them (idle_instances).
        dashboard.add_widgets(
            logged_lines(
                "Transform jobs with idle instances (fewer input files than transform_instance_count)",
                self.function,
                "job_name, idle_instances, reason",
                where="filter idle_instances > 0",
                limit=20,
                width=24,
            )
        )
        return dashboard

    def _outputs(self, dashboard: cloudwatch.Dashboard) -> None:
        """What users type or open: where alerts go, and the dashboard."""
        CfnOutput(self, "AlertTopicArn", value=self.alerts.topic.topic_arn, description="SNS topic of Scoreline alerts")
        CfnOutput(
            self,
            "DashboardUrl",
            value=console_url(dashboard),
            description="CloudWatch dashboard: pipeline runs, scoring decisions, failures and alarms",
        )


def _schedule_expression(settings: Settings) -> scheduler.ScheduleExpression:
    time_zone = TimeZone.of(settings.schedule_time_zone)
    expression = settings.schedule_expression
    if expression.startswith("rate("):
        return scheduler.ScheduleExpression.expression(expression)
    return scheduler.ScheduleExpression.expression(expression, time_zone)


class _Names:
    """Fixed names of the scoring triggers (the approval rule and the schedule) and of the alerts."""

    def __init__(self, stack: Stack, settings: Settings) -> None:
        project = settings.project_name
        self.alerts = AlertNames(stack, settings)
        self.schedule = f"{project}-scoring"
        self.approval_rule = f"{project}-model-approved-or-rejected"
