"""Batch scoring: the function, what triggers it (approval, schedule), and the alerts when anything fails."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from stacks.settings import Settings

FUNCTION_CODE = Path(__file__).resolve().parents[1] / "functions" / "scoring"
RETRY_ATTEMPTS = 3
MAX_EVENT_AGE = Duration.hours(2)


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
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._settings = settings
        self._alerts_key = self._alerts_key_()
        self.alert_topic = self._alert_topic()
        self.dead_letter_queue = self._dead_letter_queue()
        self.function = self._scoring_function(bucket, data_key, execution_role)
        self._approval_rule()
        self._schedule()
        self._failure_rules(pipeline_name)
        alarms = self._alarms()
        self._dashboard(pipeline_name, alarms)

    def _alerts_key_(self) -> kms.Key:
        """Encrypts the alert topic and the dead-letter queue; the services that write to them may use it."""
        key = kms.Key(
            self,
            "AlertsKey",
            alias=f"alias/{self._settings.project_name}-alerts",
            description="Encrypts Scoreline alerts and undelivered scoring events",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        for service in ("events.amazonaws.com", "scheduler.amazonaws.com", "cloudwatch.amazonaws.com"):
            key.grant(iam.ServicePrincipal(service), "kms:Decrypt", "kms:GenerateDataKey*")
        return key

    def _alert_topic(self) -> sns.Topic:
        topic = sns.Topic(
            self,
            "AlertTopic",
            topic_name=f"{self._settings.project_name}-alerts",
            display_name="Scoreline alerts",
            master_key=self._alerts_key,
            enforce_ssl=True,
        )
        if self._settings.alert_email:
            topic.add_subscription(subscriptions.EmailSubscription(self._settings.alert_email))
        return topic

    def _dead_letter_queue(self) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "ScoringDeadLetterQueue",
            queue_name=f"{self._settings.project_name}-scoring-dlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self._alerts_key,
            retention_period=Duration.days(14),
            enforce_ssl=True,
        )
        NagSuppressions.add_resource_suppressions(
            queue,
            [
                {
                    "id": "AwsSolutions-SQS3",
                    "reason": "This queue is the dead-letter queue of the scoring triggers.",
                }
            ],
        )
        return queue

    def _scoring_function(self, bucket: s3.IBucket, data_key: kms.IKey, execution_role: iam.IRole):
        settings = self._settings
        log_group = logs.LogGroup(
            self,
            "ScoringFunctionLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        function = lambda_.Function(
            self,
            "ScoringFunction",
            description="Starts batch transform with the latest approved two-container model",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="app.handler",
            code=lambda_.Code.from_asset(str(FUNCTION_CODE), exclude=["__pycache__", "*.pyc"]),
            timeout=Duration.minutes(1),
            memory_size=256,
            log_group=log_group,
            role=self._function_role(log_group),
            reserved_concurrent_executions=5,
            environment={
                "MODEL_PACKAGE_GROUP_NAME": settings.model_package_group_name,
                "EXECUTION_ROLE_ARN": execution_role.role_arn,
                "NAME_PREFIX": settings.scoring_name_prefix,
                "SCORING_INPUT_URI": f"s3://{bucket.bucket_name}/{settings.scoring_input_prefix}",
                "SCORING_OUTPUT_URI": f"s3://{bucket.bucket_name}/{settings.scoring_output_prefix}",
                "KMS_KEY_ARN": data_key.key_arn,
                "TRANSFORM_INSTANCE_TYPE": settings.transform_instance_type,
                "TRANSFORM_INSTANCE_COUNT": str(settings.transform_instance_count),
                "MAX_PAYLOAD_MB": str(settings.transform_max_payload_mb),
                "MAX_CONCURRENT_TRANSFORMS": str(settings.transform_max_concurrent),
                "INPUT_FILTER": settings.transform_input_filter,
                "ALERT_TOPIC_ARN": self.alert_topic.topic_arn,
            },
        )
        self._grant_scoring(function, bucket, execution_role)
        _depend_only_on_policy(function)
        NagSuppressions.add_resource_suppressions(
            function,
            [
                {
                    "id": "AwsSolutions-L1",
                    "reason": "Python 3.12 is the runtime the function and its boto3 calls are tested against.",
                }
            ],
        )
        return function

    def _function_role(self, log_group: logs.LogGroup) -> iam.Role:
        role = iam.Role(
            self,
            "ScoringFunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Scoreline scoring function: create and stop its own models and transform jobs",
        )
        log_group.grant_write(role)
        return role

    def _grant_scoring(self, function: lambda_.Function, bucket: s3.IBucket, execution_role: iam.IRole) -> None:
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
            iam.PolicyStatement(
                sid="ReadModelRegistry",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[f"{arn}:model-package/{group}/*"],
            ),
            iam.PolicyStatement(
                sid="ListApprovedVersionsAndRunningJobs",
                actions=["sagemaker:ListModelPackages", "sagemaker:ListTransformJobs"],
                resources=["*"],  # these List actions have no resource-level permissions
            ),
            iam.PolicyStatement(
                sid="PassExecutionRoleToSageMaker",
                actions=["iam:PassRole"],
                resources=[execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="CheckScoringInput",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [settings.scoring_input_prefix.split("{", 1)[0] + "*"]}},
            ),
        ]
        for statement in statements:
            function.add_to_role_policy(statement)
        self.alert_topic.grant_publish(function)
        NagSuppressions.add_resource_suppressions(
            function.role,
            [
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": (
                        "Wildcards limited to this app's name prefix for models and transform jobs, the "
                        "versions of its model package group, its log group's streams, and the scoring input "
                        "prefix; ListModelPackages and ListTransformJobs have no resource-level permissions; "
                        "KMS data-key actions come from the topic grant on the alerts key."
                    ),
                }
            ],
            apply_to_children=True,
        )

    def _approval_rule(self) -> events.Rule:
        rule = events.Rule(
            self,
            "ApprovedModelRule",
            description="A version of this app's model package group was approved or rejected",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={
                    "ModelPackageGroupName": [self._settings.model_package_group_name],
                    "ModelApprovalStatus": ["Approved", "Rejected"],
                },
            ),
        )
        rule.add_target(
            targets.LambdaFunction(
                self.function,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
            )
        )
        return rule

    def _schedule(self) -> scheduler.Schedule:
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="EventBridge Scheduler: invoke the scoring function",
        )
        target = scheduler_targets.LambdaInvoke(
            self.function,
            input=scheduler.ScheduleTargetInput.from_object(
                {"trigger": "schedule", "scheduled_time": scheduler.ContextAttribute.scheduled_time}
            ),
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            role=role,
        )
        schedule = scheduler.Schedule(
            self,
            "ScoringSchedule",
            schedule_name=f"{self._settings.project_name}-scoring",
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
        events.Rule(
            self,
            "PipelineFailedRule",
            description="The training pipeline failed",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Building Pipeline Execution Status Change"],
                resources=[pipeline_arn],
                detail={"currentPipelineExecutionStatus": ["Failed"]},
            ),
            targets=[targets.SnsTopic(self.alert_topic)],
        )
        events.Rule(
            self,
            "TransformFailedRule",
            description="A scoring transform job failed",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Transform Job State Change"],
                detail={
                    "TransformJobName": [{"prefix": f"{self._settings.scoring_name_prefix}-"}],
                    "TransformJobStatus": ["Failed"],
                },
            ),
            targets=[targets.SnsTopic(self.alert_topic)],
        )

    def _alarms(self) -> list[cloudwatch.Alarm]:
        five_minutes = Duration.minutes(5)
        alarms = [
            self._alarm(
                "ScoringFunctionErrors",
                "The scoring function raised an error",
                self.function.metric_errors(period=five_minutes),
            ),
            self._alarm(
                "UndeliveredScoringEvents",
                "Scoring events could not be delivered and wait in the dead-letter queue",
                self.dead_letter_queue.metric_approximate_number_of_messages_visible(period=five_minutes),
            ),
        ]
        for alarm in alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alert_topic))
        return alarms

    def _alarm(self, construct_id: str, description: str, metric: cloudwatch.IMetric) -> cloudwatch.Alarm:
        """Alarms at the first occurrence: any error or undelivered event needs a look."""
        return cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _dashboard(self, pipeline_name: str, alarms: list[cloudwatch.Alarm]) -> None:
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
            cloudwatch.LogQueryWidget(
                title="Scoring decisions and transform jobs started",
                log_group_names=[self.function.log_group.log_group_name],
                query_lines=[
                    "fields @timestamp, trigger, version, job_name, action, reason",
                    "filter ispresent(action)",
                    "sort @timestamp desc",
                    "limit 50",
                ],
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Scoring function",
                left=[self.function.metric_invocations(), self.function.metric_errors()],
            ),
            cloudwatch.GraphWidget(
                title="Undelivered scoring events (dead-letter queue)",
                left=[self.dead_letter_queue.metric_approximate_number_of_messages_visible()],
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms),
        )


def _depend_only_on_policy(function: lambda_.Function) -> None:
    """Keep the function's wait for its role's policy, drop the DependsOn the role's GetAtt already implies."""
    policy = function.role.node.find_child("DefaultPolicy").node.default_child
    function.node.default_child.add_override("DependsOn", [Stack.of(function).get_logical_id(policy)])


def _schedule_expression(settings: Settings) -> scheduler.ScheduleExpression:
    time_zone = TimeZone.of(settings.schedule_time_zone)
    expression = settings.schedule_expression
    if expression.startswith("rate("):
        return scheduler.ScheduleExpression.expression(expression)
    return scheduler.ScheduleExpression.expression(expression, time_zone)
