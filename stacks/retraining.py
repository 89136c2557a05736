"""Training triggers, both optional and off by default (README, Retraining): a retrain schedule, and retraining
when new training data lands (debounced). Both start the pipeline through EventBridge Scheduler's templated target
for SageMaker StartPipelineExecution (the pipeline's ARN), with one role that may start this pipeline only."""

from __future__ import annotations

from pathlib import Path

import jsii
from aws_cdk import ArnFormat, CfnResource, Duration, Stack, TimeZone
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from scoreline.names import RETRAIN_DEBOUNCE, environment
from scoreline.settings import Settings
from stacks.alerts import (
    FUNCTION_RETRY_ATTEMPTS,
    MAX_EVENT_AGE,
    RETRY_ATTEMPTS,
    dead_letter_queue,
    encryption_key,
    lambda_target,
    rules_may_dead_letter_to,
)
from stacks.python_function import python_function
from stacks.scheduler_role import scheduler_role

FUNCTION_CODE = Path(__file__).resolve().parents[1] / "functions" / "retrain_debounce"


def add_retraining(
    stack: Stack, settings: Settings, bucket: s3.IBucket, training_input_prefix: str, pipeline: CfnResource
) -> None:
    """The app's one-line hook: nothing is added unless a training trigger is on."""
    if settings.retraining:
        Retraining(
            stack,
            "Retraining",
            settings=settings,
            bucket=bucket,
            training_input_prefix=training_input_prefix,
            pipeline=pipeline,
        )


class Retraining(Construct):
    """One dead-letter queue and one schedule role for both triggers; the schedule and the debounce function and
    rule exist only when their setting is on."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        bucket: s3.IBucket,
        training_input_prefix: str,
        pipeline: CfnResource,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        stack = Stack.of(self)
        self._pipeline_arn = stack.format_arn(
            service="sagemaker", resource="pipeline", resource_name=settings.pipeline_name
        )
        self._queue_name = settings.retrain_dead_letter_queue_name
        self._queue_arn = stack.format_arn(
            service="sqs", resource=self._queue_name, arn_format=ArnFormat.NO_RESOURCE_NAME
        )
        self._key = self._dead_letter_key()
        self.dead_letter_queue = dead_letter_queue(
            self,
            "DeadLetterQueue",
            name=self._queue_name,
            key=self._key,
            why_no_dead_letter_queue="This queue is the dead-letter queue of the retraining triggers.",
        )
        self.schedule_role = self._schedule_role()
        if settings.retrain_schedule_expression:
            # The schedule's target is the pipeline's ARN built from its fixed name, not a reference: CloudFormation
            # would create both at once. DependsOn creates the pipeline first and deletes the schedule first
            # ("DependsOn attribute").
            self._retrain_schedule().node.add_dependency(pipeline)
        if settings.retrain_on_new_data:
            function = self._debounce_function()
            self._new_data_rule(function, bucket, training_input_prefix)

    def _dead_letter_key(self) -> kms.Key:
        key = encryption_key(
            self,
            "DeadLetterKey",
            alias=f"alias/{self._settings.project_name}-retrain",
            description="Encrypts Scoreline retraining triggers that could not be delivered",
        )
        rules_may_dead_letter_to(key, "NewDataRuleDeadLettersToTheQueue", self._queue_arn)
        return key

    def _schedule_role(self) -> iam.Role:
        """The role both schedules start the pipeline with: StartPipelineExecution on this pipeline, dead letters."""
        return scheduler_role(
            self,
            "ScheduleRole",
            description="EventBridge Scheduler: start the Scoreline training pipeline",
            dead_letter_key=self._key,
            statements=[
                # "To configure a templated target, you must also grant permissions to the schedule's execution role
                # to perform the targeted API operation" (EventBridge Scheduler, "Using templated targets"):
                # StartPipelineExecution, on this pipeline only.
                iam.PolicyStatement(
                    sid="StartThisPipeline",
                    actions=["sagemaker:StartPipelineExecution"],
                    resources=[self._pipeline_arn],
                ),
                # Scheduler sends dead letters with the schedule's role (EventBridge Scheduler, "Configuring a
                # dead-letter queue"): sqs:SendMessage on the queue.
                iam.PolicyStatement(
                    sid="DeadLettersToTheQueue",
                    actions=["sqs:SendMessage"],
                    resources=[self.dead_letter_queue.queue_arn],
                ),
            ],
        )

    def _retrain_schedule(self) -> scheduler.Schedule:
        settings = self._settings
        expression = settings.retrain_schedule_expression
        time_zone = None if expression.startswith("rate(") else TimeZone.of(settings.schedule_time_zone)
        return scheduler.Schedule(
            self,
            "RetrainSchedule",
            schedule_name=settings.retrain_schedule_name,
            description="Starts the training pipeline on the retrain schedule",
            schedule=scheduler.ScheduleExpression.expression(expression, time_zone),
            target=_StartPipelineTarget(self.schedule_role, self.dead_letter_queue, self._pipeline_arn),
        )

    def _debounce_function(self) -> lambda_.Function:
        settings = self._settings
        function = python_function(
            self,
            "DebounceFunction",
            code_dir=FUNCTION_CODE,
            description="Starts the training pipeline once new training data stopped arriving",
            role_description="Scoreline retraining: move the one-time schedule that starts the pipeline after new data",
            timeout=Duration.seconds(30),
            memory_size=128,
            retry_attempts=FUNCTION_RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
            environment=environment(
                RETRAIN_DEBOUNCE,
                schedule_name=settings.retrain_after_new_data_schedule_name,
                pipeline_arn=self._pipeline_arn,
                schedule_role_arn=self.schedule_role.role_arn,
                dead_letter_queue_arn=self.dead_letter_queue.queue_arn,
                debounce_seconds=str(round(settings.retrain_debounce_minutes * 60)),
            ),
        )
        self._grant_schedule_upserts(function.role)
        return function

    def _grant_schedule_upserts(self, role: iam.Role) -> None:
        """Create and move its one schedule, and hand it the schedule role (EventBridge Scheduler, "Using identity-based
        policies in EventBridge Scheduler": creating a schedule needs iam:PassRole for its execution role, passed to
        scheduler.amazonaws.com)."""
        schedule_arn = Stack.of(self).format_arn(
            service="scheduler",
            resource="schedule",
            resource_name=f"default/{self._settings.retrain_after_new_data_schedule_name}",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="MoveTheRetrainSchedule",
                actions=["scheduler:CreateSchedule", "scheduler:UpdateSchedule"],
                resources=[schedule_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PassTheScheduleRoleToScheduler",
                actions=["iam:PassRole"],
                resources=[self.schedule_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            )
        )
        NagSuppressions.add_resource_suppressions(
            role,
            [
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": "Wildcards only from the grants on its own log group's streams and the dead-letter "
                    "queue key's data-key actions (GenerateDataKey*, ReEncrypt*).",
                }
            ],
            apply_to_children=True,
        )

    def _new_data_rule(self, function: lambda_.Function, bucket: s3.IBucket, training_input_prefix: str) -> None:
        # S3 sends "Object Created" to EventBridge for a bucket with EventBridge notifications on (StorageStack),
        # with detail.bucket.name and detail.object.key (S3, "EventBridge event message structure").
        events.Rule(
            self,
            "NewTrainingDataRule",
            rule_name=f"{self._settings.project_name}-new-training-data",
            description="A training object was created: start the pipeline once uploads stop",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"prefix": training_input_prefix}]},
                },
            ),
            targets=[lambda_target(function, self.dead_letter_queue)],
        )


@jsii.implements(scheduler.IScheduleTarget)
class _StartPipelineTarget:
    """EventBridge Scheduler's templated target for SageMaker StartPipelineExecution, with the schedule role as it is:
    `scheduler_targets.SageMakerStartPipelineExecution` needs an `aws_sagemaker.IPipeline`, which nothing in
    aws-cdk-lib implements (`CfnPipeline.from_pipeline_name` is only an `IPipelineRef`), and would add its own
    statements to the role."""

    def __init__(self, role: iam.IRole, dead_letter_queue: sqs.IQueue, pipeline_arn: str) -> None:
        self._role = role
        self._dead_letter_queue = dead_letter_queue
        self._pipeline_arn = pipeline_arn

    def bind(self, _schedule: scheduler.ISchedule) -> scheduler.ScheduleTargetConfig:
        # "Using templated targets": with the pipeline's ARN as the target, Scheduler calls StartPipelineExecution
        # itself; SageMakerPipelineParameters is that target's parameter set (empty: the pipeline's defaults), and it
        # takes no Input. A universal target sends its Input as the request, and that would need the
        # ClientRequestToken StartPipelineExecution requires.
        return scheduler.ScheduleTargetConfig(
            arn=self._pipeline_arn,
            role=self._role,
            sage_maker_pipeline_parameters=scheduler.CfnSchedule.SageMakerPipelineParametersProperty(
                pipeline_parameter_list=[]
            ),
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                maximum_retry_attempts=RETRY_ATTEMPTS, maximum_event_age_in_seconds=int(MAX_EVENT_AGE.to_seconds())
            ),
            dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=self._dead_letter_queue.queue_arn),
        )
