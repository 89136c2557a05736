"""The app's alerts, shared by the stacks: a rotated KMS key, the SNS topic `<project>-alerts`, encrypted queues of
failed events, alarms that publish to the topic at the first occurrence, and how long deliveries are retried before
an event becomes a dead letter.

The scoring stack holds the alerts (`Alerts`); the serving stack uses them by their fixed names (`BorrowedAlerts`),
and retraining keeps its own key and dead-letter queue (`encryption_key`, `dead_letter_queue`) because its queue
lives in the training stack. These are plain classes and functions, not constructs: what they create are direct
children of the scope they are given, so the resources keep the logical IDs they had inside the stacks."""

from __future__ import annotations

import jsii
from aws_cdk import ArnFormat, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from scoreline.settings import Settings

# A rule or schedule retries delivering an event for up to two hours; an event it cannot deliver goes to a
# dead-letter queue (without one EventBridge drops it: "How EventBridge retries delivering events").
RETRY_ATTEMPTS = 3
MAX_EVENT_AGE = Duration.hours(2)
# Lambda's own retries of a failed asynchronous invocation (0-2). The functions are idempotent, so both retries are
# safe; they give a SageMaker or S3 fault that outlasted botocore's in-call retries two more chances, about one and
# two minutes later. A malformed event fails the same way three times within minutes and then lands in the
# function's on-failure destination, which alarms.
FUNCTION_RETRY_ATTEMPTS = 2


def encryption_key(scope: Construct, construct_id: str, *, alias: str, description: str) -> kms.Key:
    """A rotated key for alerts and failed events; it goes with its stack (what it encrypts is kept 14 days)."""
    return kms.Key(
        scope,
        construct_id,
        alias=alias,
        description=description,
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.DESTROY,
    )


def dead_letter_queue(
    scope: Construct, construct_id: str, *, name: str, key: kms.IKey, why_no_dead_letter_queue: str
) -> sqs.Queue:
    """A queue of failed events: encrypted with `key`, kept 14 days, TLS only; it is itself the last stop."""
    queue = sqs.Queue(
        scope,
        construct_id,
        queue_name=name,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        retention_period=Duration.days(14),
        enforce_ssl=True,
    )
    NagSuppressions.add_resource_suppressions(queue, [{"id": "AwsSolutions-SQS3", "reason": why_no_dead_letter_queue}])
    return queue


def rules_may_dead_letter_to(key: kms.Key, sid: str, queue_arn: str) -> None:
    """EventBridge writes a rule's dead letters as events.amazonaws.com: the key policy must let it use the queue's
    key ("Using dead-letter queues to process undelivered events": granting permissions to the dead-letter queue),
    bound by SQS's encryption context (aws:sqs:arn) to that queue, whose ARN is built from its fixed name."""
    key.add_to_resource_policy(
        _service_may_encrypt(
            sid, "events.amazonaws.com", {"StringEquals": {"kms:EncryptionContext:aws:sqs:arn": queue_arn}}
        )
    )


def lambda_target(function: lambda_.IFunction, dead_letters: sqs.IQueue) -> targets.LambdaFunction:
    """A rule's function target: retried for up to two hours, then a dead letter."""
    return targets.LambdaFunction(
        function, dead_letter_queue=dead_letters, retry_attempts=RETRY_ATTEMPTS, max_event_age=MAX_EVENT_AGE
    )


class AlertNames:
    """Fixed names of what the alerts key and topic policies name in their conditions, and their ARNs: the key
    cannot refer to the topic, alarms or rules themselves, which all depend on it."""

    def __init__(self, stack: Stack, settings: Settings) -> None:
        project = settings.project_name
        self.project = project
        self.topic = settings.alert_topic_name
        self.dead_letter_queue = f"{project}-scoring-dlq"
        self.failed_invocations_queue = settings.failed_invocations_queue_name
        self.pipeline_failed_rule = f"{project}-pipeline-failed"
        self.transform_failed_rule = f"{project}-transform-failed"
        self.function_errors_alarm = f"{project}-scoring-function-errors"
        self.undelivered_events_alarm = f"{project}-undelivered-scoring-events"
        self.failed_invocations_alarm = f"{project}-failed-scoring-invocations"
        self.retrain_dead_letters_alarm = f"{project}-undelivered-retrain-triggers"
        self.topic_arn = stack.format_arn(service="sns", resource=self.topic, arn_format=ArnFormat.NO_RESOURCE_NAME)
        self.dead_letter_queue_arn, self.failed_invocations_queue_arn = (
            stack.format_arn(service="sqs", resource=name, arn_format=ArnFormat.NO_RESOURCE_NAME)
            for name in (self.dead_letter_queue, self.failed_invocations_queue)
        )
        self.alarm_arns = [
            stack.format_arn(
                service="cloudwatch", resource="alarm", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
            )
            for name in (self.function_errors_alarm, self.undelivered_events_alarm, self.failed_invocations_alarm)
            + ((self.retrain_dead_letters_alarm,) if settings.retraining else ())
        ]
        # The serving stack's rules send their dead letters to this app's dead-letter queue (realtime only).
        self.serving_rule_arns = [
            stack.format_arn(service="events", resource="rule", resource_name=name)
            for name in settings.serving_rule_names
        ]
        self.failure_rule_arns = [
            stack.format_arn(service="events", resource="rule", resource_name=name)
            for name in (self.pipeline_failed_rule, self.transform_failed_rule)
        ]


class Alerts:
    """The alerts key, the topic and the two queues of failed events, as direct children of `stack`."""

    def __init__(self, stack: Stack, names: AlertNames, *, alert_email: str, serving_rules_dead_letters: bool) -> None:
        self._stack = stack
        self.names = names
        self.key = self._key()
        self.topic = self._topic(alert_email)
        self.dead_letter_queue = self._dead_letter_queue(serving_rules_dead_letters)
        # Where Lambda puts an event the function failed on after its retries (its own queue: these records carry
        # the function's error, the dead-letter queue's carry delivery failures; each has its own alarm).
        self.failed_invocations_queue = dead_letter_queue(
            stack,
            "FailedInvocationsQueue",
            name=names.failed_invocations_queue,
            key=self.key,
            why_no_dead_letter_queue="This queue is the on-failure destination of the scoring function's async "
            "invocations.",
        )

    def _key(self) -> kms.Key:
        """Encrypts the alert topic and the queues; the services that write to them may use it for that only."""
        names = self.names
        key = encryption_key(
            self._stack,
            "AlertsKey",
            alias=f"alias/{names.project}-alerts",
            description="Encrypts Scoreline alerts and undelivered scoring events",
        )
        # SNS "Enable compatibility between event sources from AWS services and encrypted topics": the publishing
        # service principal needs kms:GenerateDataKey* and kms:Decrypt in the key policy. SNS encrypts under the
        # topic's ARN as encryption context (kms:EncryptionContext:aws:sns:topicArn, as AWS's service examples show),
        # so each grant holds for this topic only.
        key.add_to_resource_policy(
            _service_may_encrypt(
                "AlarmsPublishToTheAlertTopic",
                "cloudwatch.amazonaws.com",
                {
                    "ArnLike": {"aws:SourceArn": names.alarm_arns},
                    "StringEquals": {
                        "aws:SourceAccount": Aws.ACCOUNT_ID,
                        "kms:EncryptionContext:aws:sns:topicArn": names.topic_arn,
                    },
                },
            )
        )
        # EventBridge: aws:SourceArn/aws:SourceAccount are not supported in the key policy for its deliveries to an
        # encrypted topic (a condition on them would drop every alert silently), so this grant is bound by
        # encryption context instead: this topic only.
        key.add_to_resource_policy(
            _service_may_encrypt(
                "RulesPublishToTheAlertTopic",
                "events.amazonaws.com",
                {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": names.topic_arn}},
            )
        )
        rules_may_dead_letter_to(key, "ApprovalRuleDeadLettersToTheQueue", names.dead_letter_queue_arn)
        return key

    def _topic(self, alert_email: str) -> sns.Topic:
        names = self.names
        topic = sns.Topic(
            self._stack,
            "AlertTopic",
            topic_name=names.topic,
            display_name="Scoreline alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        if alert_email:
            topic.add_subscription(subscriptions.EmailSubscription(alert_email))
        # Alarms publish as cloudwatch.amazonaws.com, rules as events.amazonaws.com; each only for this stack's
        # alarms and rules (SNS access policy examples: aws:SourceArn of the alarm or rule, aws:SourceAccount).
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

    def _dead_letter_queue(self, serving_rules_dead_letters: bool) -> sqs.Queue:
        queue = dead_letter_queue(
            self._stack,
            "ScoringDeadLetterQueue",
            name=self.names.dead_letter_queue,
            key=self.key,
            why_no_dead_letter_queue="This queue is the dead-letter queue of the scoring triggers.",
        )
        if serving_rules_dead_letters:
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
                    conditions={"ArnEquals": {"aws:SourceArn": self.names.serving_rule_arns}},
                )
            )
        return queue

    def alarm(self, construct_id: str, name: str, description: str, metric: cloudwatch.IMetric) -> cloudwatch.Alarm:
        """Alarms at the first occurrence (any error or undelivered event needs a look) and tells the topic."""
        alarm = cloudwatch.Alarm(
            self._stack,
            construct_id,
            alarm_name=name,
            alarm_description=description,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        return alarm

    def failure_rule(self, construct_id: str, name: str, description: str, pattern: events.EventPattern) -> None:
        """A rule that tells the topic; `name` must be one of `AlertNames.failure_rule_arns`, which the topic's
        policy lets publish."""
        events.Rule(
            self._stack,
            construct_id,
            rule_name=name,
            description=description,
            event_pattern=pattern,
            targets=[_TopicTarget(self.topic)],
        )


class BorrowedAlerts:
    """Another stack's use of the alerts, by their fixed names' ARNs rather than by exports: an export the other
    stack imported would stop the alerts' stack from updating when that stack goes ("You can't modify or remove an
    output value that is referenced by another stack", CloudFormation Fn::ImportValue). The topic's and queues'
    policies name the borrowing stack's rules and function themselves (a statement added from here would make the
    alerts' stack depend on the borrowing one)."""

    def __init__(self, stack: Stack, names: AlertNames) -> None:
        self.topic = sns.Topic.from_topic_arn(stack, "AlertTopic", names.topic_arn)
        self.failed_invocations_queue = sqs.Queue.from_queue_arn(
            stack, "FailedInvocationsQueue", names.failed_invocations_queue_arn
        )
        self.dead_letter_queue = sqs.Queue.from_queue_arn(stack, "ScoringDeadLetterQueue", names.dead_letter_queue_arn)

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """Publish to the topic and use the alerts key for the topic and the failed-invocations queue."""
        self.topic.grant_publish(grantee)
        for statement in _alerts_key_for(self.topic.topic_arn, self.failed_invocations_queue.queue_arn):
            grantee.grant_principal.add_to_principal_policy(statement)


def _alerts_key_for(topic_arn: str, queue_arn: str) -> list[iam.PolicyStatement]:
    """The KMS use of a producer of the encrypted alert topic and failed-invocations queue, without naming their key
    (another stack's): kms:GenerateDataKey and kms:Decrypt (SNS "Encryption at rest", SQS "Key management"), only
    through SNS or SQS and only under that topic's or queue's encryption context (KMS condition keys
    kms:ViaService and kms:EncryptionContext:context-key; SNS encrypts under aws:sns:topicArn, SQS under
    aws:sqs:arn)."""
    any_key_of_the_account = f"arn:{Aws.PARTITION}:kms:{Aws.REGION}:{Aws.ACCOUNT_ID}:key/*"
    return [
        iam.PolicyStatement(
            sid=sid,
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[any_key_of_the_account],
            conditions={
                "StringEquals": {
                    "kms:ViaService": f"{service}.{Aws.REGION}.amazonaws.com",
                    f"kms:EncryptionContext:{context_key}": arn,
                }
            },
        )
        for sid, service, context_key, arn in (
            ("EncryptForTheAlertTopic", "sns", "aws:sns:topicArn", topic_arn),
            ("EncryptForTheFailedInvocationsQueue", "sqs", "aws:sqs:arn", queue_arn),
        )
    ]


def _service_may_encrypt(sid: str, service: str, conditions: dict) -> iam.PolicyStatement:
    """A key-policy statement: `service` may encrypt and decrypt with this key under `conditions`."""
    return iam.PolicyStatement(
        sid=sid,
        principals=[iam.ServicePrincipal(service)],
        actions=["kms:Decrypt", "kms:GenerateDataKey*"],
        resources=["*"],
        conditions=conditions,
    )


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """The alert topic as a rule target, without the unconditioned events.amazonaws.com grant that
    targets.SnsTopic adds to the topic policy (the topic's policy grants this stack's rules instead)."""

    def __init__(self, topic: sns.ITopic) -> None:
        self._topic = topic

    def bind(self, _rule: events.IRule, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self._topic.topic_arn, target_resource=self._topic)
