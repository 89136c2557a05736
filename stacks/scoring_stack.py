"""Batch scoring: the function, what triggers it (approval, schedule), and the alerts when anything fails."""

from __future__ import annotations

import json
from pathlib import Path

import jsii
from aws_cdk import ArnFormat, Aws, CfnCustomResource, CfnOutput, Duration, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from scoreline.instance_types import has_instance_storage
from scoreline.layout import SENT_ALERTS_PREFIX
from scoreline.model_servers import transform_serving
from scoreline.settings import Settings
from stacks.drift_check import DriftCheck
from stacks.python_function import python_function
from stacks.security import data_key_for_sagemaker_resources, pass_role_to_sagemaker

FUNCTION_CODE = Path(__file__).resolve().parents[1] / "functions" / "scoring"
RETRY_ATTEMPTS = 3
MAX_EVENT_AGE = Duration.hours(2)
# Lambda's own retries of a failed asynchronous invocation (0-2). The function is idempotent (one job name per
# event and version), so both retries are safe; they give a SageMaker or S3 fault that outlasted botocore's
# in-call retries two more chances, about one and two minutes later. A malformed event fails the same way three
# times within minutes and then lands in the failed-invocations queue, which alarms.
FUNCTION_RETRY_ATTEMPTS = 2
# The function's own prefix of the data bucket: one small object per alert it sent, so that a second delivery of the
# same run does not alert again (functions/scoring/app.py).


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
        self._alerts_key = self._alerts_key_()
        self.alert_topic = self._alert_topic()
        self.dead_letter_queue = self._dead_letter_queue()
        self.failed_invocations_queue = self._failed_invocations_queue()
        # The serving stack uses these by their ARNs, built from fixed names: an export it imported would stop this
        # stack's update when `realtime` is turned off ("You can't modify or remove an output value that is
        # referenced by another stack", CloudFormation Fn::ImportValue).
        self.alert_topic_arn = self._names.topic_arn
        self.dead_letter_queue_arn = self._names.dead_letter_queue_arn
        self.failed_invocations_queue_arn = self._names.failed_invocations_queue_arn
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
            alert_topic=self.alert_topic,
            dead_letter_queue=self.dead_letter_queue,
            failed_invocations_queue=self.failed_invocations_queue,
        )

    def _alerts_key_(self) -> kms.Key:
        """Encrypts the alert topic and the queues; the services that write to them may use it for that only."""
        key = kms.Key(
            self,
            "AlertsKey",
            alias=f"alias/{self._settings.project_name}-alerts",
            description="Encrypts Scoreline alerts and undelivered scoring events",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        names = self._names
        # SNS "Enable compatibility between event sources from AWS services and encrypted topics": the publishing
        # service principal needs kms:GenerateDataKey* and kms:Decrypt in the key policy. SNS encrypts under the
        # topic's ARN as encryption context (kms:EncryptionContext:aws:sns:topicArn, as AWS's service examples show),
        # so each grant holds for this topic only. ARNs are built from the fixed names: the key cannot refer to the
        # topic, alarms or rules themselves, which all depend on it.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsPublishToTheAlertTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "ArnLike": {"aws:SourceArn": names.alarm_arns},
                    "StringEquals": {
                        "aws:SourceAccount": Aws.ACCOUNT_ID,
                        "kms:EncryptionContext:aws:sns:topicArn": names.topic_arn,
                    },
                },
            )
        )
        # EventBridge: aws:SourceArn/aws:SourceAccount are not supported in the key policy for its deliveries to an
        # encrypted topic (a condition on them would drop every alert silently), so these two grants are bound by
        # encryption context instead: this topic only, this dead-letter queue only.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="RulesPublishToTheAlertTopic",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": names.topic_arn}},
            )
        )
        # SQS encrypts under the queue's ARN as encryption context (aws:sqs:arn).
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ApprovalRuleDeadLettersToTheQueue",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"kms:EncryptionContext:aws:sqs:arn": names.dead_letter_queue_arn}},
            )
        )
        return key

    def _alert_topic(self) -> sns.Topic:
        topic = sns.Topic(
            self,
            "AlertTopic",
            topic_name=self._names.topic,
            display_name="Scoreline alerts",
            master_key=self._alerts_key,
            enforce_ssl=True,
        )
        if self._settings.alert_email:
            topic.add_subscription(subscriptions.EmailSubscription(self._settings.alert_email))
        # Alarms publish as cloudwatch.amazonaws.com, rules as events.amazonaws.com; each only for this stack's
        # alarms and rules (SNS access policy examples: aws:SourceArn of the alarm or rule, aws:SourceAccount).
        names = self._names
        for sid, service, source_arns in (
            ("AlarmsOfThisApp", "cloudwatch.amazonaws.com", names.alarm_arns),
            ("FailureRulesOfThisApp", "events.amazonaws.com", names.failure_rule_arns),
        ):
            topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(service)],
                    actions=["sns:Publish"],
                    resources=[topic.topic_arn],
                    conditions={
                        "ArnLike": {"aws:SourceArn": source_arns},
                        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    },
                )
            )
        return topic

    def _dead_letter_queue(self) -> sqs.Queue:
        queue = self._queue(
            "ScoringDeadLetterQueue",
            self._names.dead_letter_queue,
            "This queue is the dead-letter queue of the scoring triggers.",
        )
        if self._settings.realtime:
            # The serving stack's rules send their undelivered events here too: EventBridge writes a dead letter as
            # events.amazonaws.com, so the queue policy must allow it for those rules ("Using dead-letter queues to
            # process undelivered events": granting permissions to the dead-letter queue). Their ARNs are built from
            # the fixed names: the serving stack depends on this one, not the other way round. The key already lets
            # EventBridge encrypt for this queue (ApprovalRuleDeadLettersToTheQueue).
            queue.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="ServingRulesDeadLetters",
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["sqs:SendMessage"],
                    resources=[queue.queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": self._names.serving_rule_arns}},
                )
            )
        return queue

    def _failed_invocations_queue(self) -> sqs.Queue:
        """Where Lambda puts an event the function failed on after its retries (its own queue: these records carry
        the function's error, the dead-letter queue's carry delivery failures; each has its own alarm)."""
        return self._queue(
            "FailedInvocationsQueue",
            self._settings.failed_invocations_queue_name,
            "This queue is the on-failure destination of the scoring function's async invocations.",
        )

    def _queue(self, construct_id: str, name: str, why_no_dead_letter_queue: str) -> sqs.Queue:
        """A queue of failed events: encrypted with the alerts key, kept 14 days, TLS only."""
        queue = sqs.Queue(
            self,
            construct_id,
            queue_name=name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self._alerts_key,
            retention_period=Duration.days(14),
            enforce_ssl=True,
        )
        NagSuppressions.add_resource_suppressions(
            queue, [{"id": "AwsSolutions-SQS3", "reason": why_no_dead_letter_queue}]
        )
        return queue

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
            on_failure=destinations.SqsDestination(self.failed_invocations_queue),
            environment={
                "MODEL_PACKAGE_GROUP_NAME": settings.model_package_group_name,
                "EXECUTION_ROLE_ARN": execution_role.role_arn,
                "NAME_PREFIX": settings.scoring_name_prefix,
                "SCORING_INPUT_URI": f"s3://{bucket.bucket_name}/{settings.scoring_input_prefix}",
                "SCORING_OUTPUT_URI": f"s3://{bucket.bucket_name}/{settings.scoring_output_prefix}",
                "KMS_KEY_ARN": data_key.key_arn,
                "TRANSFORM_INSTANCE_TYPE": settings.transform_instance_type,
                "TRANSFORM_INSTANCE_STORAGE": str(has_instance_storage(settings.transform_instance_type)).lower(),
                "TRANSFORM_INSTANCE_COUNT": str(settings.transform_instance_count),
                "MAX_PAYLOAD_MB": str(settings.transform_max_payload_mb),
                "MAX_CONCURRENT_TRANSFORMS": str(serving.concurrency),
                "CONTAINER_ENVIRONMENT": json.dumps(serving.container_environments(), sort_keys=True),
                "INPUT_FILTER": settings.transform_input_filter,
                "ALERT_TOPIC_ARN": self.alert_topic.topic_arn,
                "SENT_ALERTS_URI": f"s3://{bucket.bucket_name}/{SENT_ALERTS_PREFIX}",
            },
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
        self.alert_topic.grant_publish(function)
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
        names = self._names
        role = iam.Role(
            self,
            "SchedulerRole",
            # "Confused deputy prevention in EventBridge Scheduler": aws:SourceAccount, and aws:SourceArn = the
            # schedule group's ARN ("Do not scope the aws:SourceArn statement to a specific schedule ... The ARN you
            # specify must be a schedule group"); the schedule is in the default group.
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnEquals": {"aws:SourceArn": names.schedule_group_arn},
                },
            ),
            description="EventBridge Scheduler: invoke the scoring function",
        )
        # Scheduler writes to the dead-letter queue with this role, and the queue is encrypted with the alerts key:
        # a producer to an encrypted queue needs kms:GenerateDataKey and kms:Decrypt (SQS key management), here
        # only through SQS.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DeadLettersThroughSqs",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self._alerts_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sqs.{Aws.REGION}.amazonaws.com"}},
            )
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
        events.Rule(
            self,
            "PipelineFailedRule",
            rule_name=self._names.pipeline_failed_rule,
            description="The training pipeline failed",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Building Pipeline Execution Status Change"],
                resources=[pipeline_arn],
                detail={"currentPipelineExecutionStatus": ["Failed"]},
            ),
            targets=[_TopicTarget(self.alert_topic)],
        )
        events.Rule(
            self,
            "TransformFailedRule",
            rule_name=self._names.transform_failed_rule,
            description="A scoring transform job failed",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Transform Job State Change"],
                detail={
                    "TransformJobName": [{"prefix": f"{self._settings.scoring_name_prefix}-"}],
                    "TransformJobStatus": ["Failed"],
                },
            ),
            targets=[_TopicTarget(self.alert_topic)],
        )

    def _alarms(self) -> list[cloudwatch.Alarm]:
        five_minutes = Duration.minutes(5)
        names = self._names
        alarms = [
            self._alarm(
                "ScoringFunctionErrors",
                names.function_errors_alarm,
                "The scoring function raised an error",
                self.function.metric_errors(period=five_minutes),
            ),
            self._alarm(
                "UndeliveredScoringEvents",
                names.undelivered_events_alarm,
                ("Scoring or serving" if self._settings.realtime else "Scoring")
                + " events could not be delivered and wait in the dead-letter queue",
                self.dead_letter_queue.metric_approximate_number_of_messages_visible(period=five_minutes),
            ),
            self._alarm(
                "FailedScoringInvocations",
                names.failed_invocations_alarm,
                ("The scoring or serving" if self._settings.realtime else "The scoring")
                + " function failed an event after its retries; it waits in the failed-invocations queue",
                self.failed_invocations_queue.metric_approximate_number_of_messages_visible(period=five_minutes),
            ),
        ]
        if self._settings.retraining:
            # The retraining triggers' dead-letter queue (training stack) by its fixed name: a failed retrain start
            # must not go unnoticed (SQS: "Creating alarms for dead-letter queues using Amazon CloudWatch").
            alarms.append(
                self._alarm(
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
        for alarm in alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alert_topic))
        return alarms

    def _alarm(self, construct_id: str, name: str, description: str, metric: cloudwatch.IMetric) -> cloudwatch.Alarm:
        """Alarms at the first occurrence: any error or undelivered event needs a look."""
        return cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=name,
            alarm_description=description,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

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
                title="Undelivered scoring events (dead-letter queue) and failed invocations",
                left=[
                    self.dead_letter_queue.metric_approximate_number_of_messages_visible(label="Dead-letter queue"),
                    self.failed_invocations_queue.metric_approximate_number_of_messages_visible(
                        label="Failed invocations"
                    ),
                ],
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms),
        )
        # Batch transform gives each instance whole input objects: a job with fewer objects than instances pays for
        # idle instances. The function's started_job line counts them (idle_instances).
        dashboard.add_widgets(
            cloudwatch.LogQueryWidget(
                title="Transform jobs with idle instances (fewer input files than transform_instance_count)",
                log_group_names=[self.function.log_group.log_group_name],
                query_lines=[
                    "fields @timestamp, job_name, idle_instances, reason",
                    "filter idle_instances > 0",
                    "sort @timestamp desc",
                    "limit 20",
                ],
                width=24,
            )
        )
        return dashboard

    def _outputs(self, dashboard: cloudwatch.Dashboard) -> None:
        """What users type or open: where alerts go, and the dashboard."""
        CfnOutput(self, "AlertTopicArn", value=self.alert_topic.topic_arn, description="SNS topic of Scoreline alerts")
        CfnOutput(
            self,
            "DashboardUrl",
            value=(
                f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
                f"#dashboards/dashboard/{dashboard.dashboard_name}"
            ),
            description="CloudWatch dashboard: pipeline runs, scoring decisions, failures and alarms",
        )


def _schedule_expression(settings: Settings) -> scheduler.ScheduleExpression:
    time_zone = TimeZone.of(settings.schedule_time_zone)
    expression = settings.schedule_expression
    if expression.startswith("rate("):
        return scheduler.ScheduleExpression.expression(expression)
    return scheduler.ScheduleExpression.expression(expression, time_zone)


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """The alert topic as a rule target, without the unconditioned events.amazonaws.com grant that
    targets.SnsTopic adds to the topic policy (the topic's policy grants this stack's rules instead)."""

    def __init__(self, topic: sns.ITopic) -> None:
        self._topic = topic

    def bind(self, _rule: events.IRule, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self._topic.topic_arn, target_resource=self._topic)


class _Names:
    """Fixed names of what the alerts key and topic policy name in their conditions, and their ARNs."""

    def __init__(self, stack: Stack, settings: Settings) -> None:
        project = settings.project_name
        self.topic = settings.alert_topic_name
        self.dead_letter_queue = f"{project}-scoring-dlq"
        self.schedule = f"{project}-scoring"
        self.approval_rule = f"{project}-model-approved-or-rejected"
        self.pipeline_failed_rule = f"{project}-pipeline-failed"
        self.transform_failed_rule = f"{project}-transform-failed"
        self.function_errors_alarm = f"{project}-scoring-function-errors"
        self.undelivered_events_alarm = f"{project}-undelivered-scoring-events"
        self.failed_invocations_alarm = f"{project}-failed-scoring-invocations"
        self.retrain_dead_letters_alarm = f"{project}-undelivered-retrain-triggers"
        self.topic_arn = stack.format_arn(service="sns", resource=self.topic, arn_format=ArnFormat.NO_RESOURCE_NAME)
        self.dead_letter_queue_arn, self.failed_invocations_queue_arn = (
            stack.format_arn(service="sqs", resource=name, arn_format=ArnFormat.NO_RESOURCE_NAME)
            for name in (self.dead_letter_queue, settings.failed_invocations_queue_name)
        )
        self.alarm_arns = [
            stack.format_arn(
                service="cloudwatch", resource="alarm", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
            )
            for name in (self.function_errors_alarm, self.undelivered_events_alarm, self.failed_invocations_alarm)
            + ((self.retrain_dead_letters_alarm,) if settings.retraining else ())
        ]
        self.serving_rule_arns = [
            stack.format_arn(service="events", resource="rule", resource_name=name)
            for name in settings.serving_rule_names
        ]
        self.failure_rule_arns = [
            stack.format_arn(service="events", resource="rule", resource_name=name)
            for name in (self.pipeline_failed_rule, self.transform_failed_rule)
        ]
        self.schedule_group_arn = stack.format_arn(
            service="scheduler", resource="schedule-group", resource_name="default"
        )
