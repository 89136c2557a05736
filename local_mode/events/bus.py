"""EventBridge: events as AWS sends them (SageMaker's state changes, S3's "Object Created"), matched against the
deployed rules with moto's EventPattern matcher, delivered to the deployed functions (asynchronously, through
local_mode/lambda_/provider.py), SNS topics and SQS queues; schedules and alarms deliver through it too. Events are
put after the API call that caused them returns, on the bus's own thread, as in AWS.

Every delivery needs what AWS needs: a rule delivers as events.amazonaws.com and an alarm as
cloudwatch.amazonaws.com, with the rule's or alarm's ARN as aws:SourceArn, so the target's resource policy (Lambda
permission, topic or queue policy) and an encrypted target's key policy must allow them; a schedule delivers with its
execution role, which the Scheduler must be able to assume (trust policy, aws:SourceArn of the schedule group) and
whose identity policies must allow the invocation, the templated SageMaker target's StartPipelineExecution and the
dead-letter queue write.

LIMITATIONS: retries of failed deliveries (a schedule's pipeline start) are immediate and a refused delivery is
never retried (EventBridge documents "no retry attempts" for missing permissions; Scheduler documents only retries
then its DLQ); targets other than functions, topics, queues and SageMaker pipelines of this account and region
(Scheduler's universal targets among them) are logged, not delivered; the EventBridge and Scheduler dead-letter
records carry the event and the error attributes but not every field AWS adds; alarms fire only when asked
(`LocalCloud.alarm`), no metric is evaluated; an SNS topic's subscribers are moto's; one thread delivers every event
in turn."""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from moto.events.models import EventPattern

from local_mode.clients import Clients
from local_mode.cloudformation.deploy import Deployment, Rule, Target
from local_mode.iam.evaluator import AccessDenied, Authorizer, Request
from local_mode.iam.requests import key_arn, moto_queue, moto_topic
from local_mode.lambda_.provider import Functions
from local_mode.store import LocalStore

log = logging.getLogger("local_mode")


class EventBus:
    """A refused delivery is not retried and goes to the target's dead-letter queue with ERROR_CODE NO_PERMISSIONS
    (EventBridge, "Using dead-letter queues to process undelivered events"), or is dropped and logged when there is
    none or it cannot be written."""

    def __init__(
        self, deployment: Deployment, store: LocalStore, authorizer: Authorizer, clients: Clients, functions: Functions
    ):
        self._deployment = deployment
        self._store = store
        self._authorizer = authorizer
        self._clients = clients
        self.functions = functions
        self._patterns = [(rule, EventPattern.load(json.dumps(rule.pattern))) for rule in deployment.rules]
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-events")

    @property
    def invocations(self) -> list[dict[str, Any]]:
        return self._store.invocations

    def invoke(self, function, payload: Any, source: str) -> str | None:  # tests call the bus
        return self.functions.invoke(function, payload, source)

    # Delivery after the API call returns -------------------------------------------------------------------------
    def later(self, work, *args) -> None:
        """Events reach rules after the API call returns, as in AWS: `work(*args)` runs on the bus's thread."""
        self._thread.submit(_guarded, work, *args)

    def wait(self) -> None:
        """Block until everything handed to `later` so far has run."""
        self._thread.submit(lambda: None).result()

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)

    def object_created(self, bucket: str, key) -> None:
        """S3 sends "Object Created" for a new object of a bucket with EventBridge notifications (S3, "EventBridge
        event message structure"); moto_patches calls this as the S3 backend's listener."""
        detail = {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key.name, "size": key.size, "etag": key.etag.strip('"'), "version-id": key.version_id},
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": self._deployment.account,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        }
        self.later(self.put_event, "aws.s3", "Object Created", detail, [f"arn:aws:s3:::{bucket}"])

    def put_event(self, source: str, detail_type: str, detail: dict, resources: list[str]) -> dict:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": self._deployment.account,
            "time": _now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._deployment.region,
            "resources": resources,
            "detail": json.loads(json.dumps(detail, default=_json_default)),
        }
        for rule, pattern in self._patterns:
            if pattern.matches_event(event):
                for target in rule.targets:
                    self.deliver_from_rule(rule, target, event)
        return event

    def fire_schedule(self, name: str, scheduled_time: datetime | None = None) -> None:
        schedule = self._deployment.schedules[name]
        moment = (scheduled_time or _now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        payload = (schedule.target.input or "{}").replace("<aws.scheduler.scheduled-time>", moment)
        self.deliver(schedule.target, json.loads(payload), source=f"schedule {name}", group=schedule.group)

    # Rules ----------------------------------------------------------------------------------------------------
    def deliver_from_rule(self, rule: Rule, target: Target, event: dict) -> None:
        source = f"rule {rule.name}"
        try:
            self._authorize_service_delivery(_EVENTS, target.arn, rule.arn, with_source_in_key_context=False)
        except AccessDenied as denial:
            log.warning("%s: cannot deliver to %s: %s", source, target.arn, denial)
            self.invocations.append({"target": target.arn, "source": source, "payload": event, "error": str(denial)})
            self._rule_dead_letter(rule, target, event, str(denial))
            return
        self._send(target, event, source)

    def _rule_dead_letter(self, rule: Rule, target: Target, event: dict, error: str) -> None:
        queue = target.dead_letter_arn
        if queue not in self._deployment.queues:
            log.warning("rule %s: the event is dropped (no dead-letter queue)", rule.name)
            return
        try:
            self._authorize_service_delivery(_EVENTS, queue, rule.arn, with_source_in_key_context=False)
        except AccessDenied as denial:  # counted as InvocationsFailedToBeSentToDlq on AWS
            log.warning("rule %s: the event is dropped, its dead-letter queue refuses it: %s", rule.name, denial)
            return
        attributes = {"RULE_ARN": rule.arn, "TARGET_ARN": target.arn, "ERROR_CODE": "NO_PERMISSIONS"}
        attributes["ERROR_MESSAGE"] = error[:1000]
        self._clients.client("sqs").send_message(
            QueueUrl=self._deployment.queues[queue],
            MessageBody=json.dumps(event),
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )

    def _authorize_service_delivery(
        self, service: str, target_arn: str, source_arn: str, with_source_in_key_context: bool
    ) -> None:
        """A service principal delivering on a resource's behalf (aws:SourceArn, aws:SourceAccount): the target's
        resource policy must allow it, and an encrypted target's key policy must let the service use the key (SNS,
        "Enable compatibility between event sources from AWS services and encrypted topics"; EventBridge passes no
        aws:SourceArn to KMS, CloudWatch does)."""
        source = {"aws:SourceArn": source_arn, "aws:SourceAccount": self._deployment.account}
        context = {**source, "aws:SecureTransport": "true"}  # services call each other over TLS
        key_context = dict(source) if with_source_in_key_context else {}
        if target_arn in self._deployment.functions:
            function = self._deployment.functions[target_arn]
            request = Request("lambda:InvokeFunction", function.arn, context)
            self._authorizer.deliver(service, request, [{"Statement": function.permissions}], None, key_context)
        elif target_arn.startswith("arn:aws:sns:"):
            topic = moto_topic(self._deployment.account, self._deployment.region, target_arn)
            key = key_arn(self._deployment.account, self._deployment.region, topic.kms_master_key_id)
            key_context["kms:EncryptionContext:aws:sns:topicArn"] = target_arn
            request = Request("sns:Publish", target_arn, context)
            self._authorizer.deliver(service, request, [json.loads(topic.policy)], key, key_context)
        elif target_arn in self._deployment.queues:
            queue = moto_queue(self._deployment.account, self._deployment.region, target_arn)
            key = key_arn(self._deployment.account, self._deployment.region, queue.kms_master_key_id)
            key_context["kms:EncryptionContext:aws:sqs:arn"] = target_arn
            policy = [json.loads(queue.policy)] if queue.policy else []
            self._authorizer.deliver(service, Request("sqs:SendMessage", target_arn, context), policy, key, key_context)

    # Alarms ---------------------------------------------------------------------------------------------------
    def alarm(self, name: str, reason: str) -> None:
        """An alarm going into ALARM: its actions publish as cloudwatch.amazonaws.com; a topic whose policy or key
        refuses it gets nothing, and the alarm's history records the failed action (CloudWatch, "Alarm actions")."""
        alarm = self._deployment.alarms[name]
        message = {"AlarmName": name, "AlarmArn": alarm.arn, "NewStateValue": "ALARM", "NewStateReason": reason}
        for action in alarm.actions:
            try:
                self._authorize_service_delivery(_CLOUDWATCH, action, alarm.arn, with_source_in_key_context=True)
            except AccessDenied as denial:
                log.warning("alarm %s: failed to execute action %s: %s", name, action, denial)
                self.invocations.append({"target": action, "source": f"alarm {name}", "error": str(denial)})
                continue
            self._send(Target(arn=action), message, f"alarm {name}")

    # Schedules ------------------------------------------------------------------------------------------------
    def deliver(self, target: Target, payload: Any, source: str, group: str = "default") -> None:
        """A schedule's delivery with its execution role (rules deliver through deliver_from_rule)."""
        if target.role_arn:
            try:
                group_arn = f"arn:aws:scheduler:{self._deployment.region}:{self._deployment.account}:"
                self._authorizer.assume(
                    target.role_arn, "scheduler.amazonaws.com", f"{group_arn}schedule-group/{group}"
                )
                if target.arn in self._deployment.functions:
                    self._authorizer.authorize(target.role_arn, Request("lambda:InvokeFunction", target.arn))
            except AccessDenied as denial:
                log.warning("%s: cannot invoke %s: %s", source, target.arn, denial)
                self.invocations.append(
                    {"target": target.arn, "source": source, "payload": payload, "error": str(denial)}
                )
                self._schedule_dead_letter(target, payload, source, str(denial))
                return
        self._send(target, payload, source)

    def _send(self, target: Target, payload: Any, source: str) -> None:
        if target.arn in self._deployment.functions:
            self.functions.invoke_async(self._deployment.functions[target.arn], payload, source)
        elif self._pipeline_name(target.arn):
            self._start_pipeline_with_retries(target, payload, source)
        elif target.arn.startswith("arn:aws:sns:"):
            self._clients.client("sns").publish(TopicArn=target.arn, Message=json.dumps(payload))
        elif target.arn in self._deployment.queues:
            self._clients.client("sqs").send_message(
                QueueUrl=self._deployment.queues[target.arn], MessageBody=json.dumps(payload)
            )
        else:
            log.warning("%s: target %s is not something local mode can deliver to", source, target.arn)

    def _pipeline_name(self, arn: str) -> str | None:
        """The name in a SageMaker pipeline ARN of this account and region (the local cloud has one of each)."""
        prefix = f"arn:aws:sagemaker:{self._deployment.region}:{self._deployment.account}:pipeline/"
        return arn[len(prefix) :] if arn.startswith(prefix) and "/" not in arn[len(prefix) :] else None

    def _start_pipeline_with_retries(self, target: Target, payload: Any, source: str) -> None:
        """Scheduler's templated SageMaker target (EventBridge Scheduler, "Using templated targets": with a resource's
        ARN as the target, Scheduler calls that service's supported operation): StartPipelineExecution on the pipeline,
        its SageMakerPipelineParameters' PipelineParameterList as the PipelineParameters, signed as the schedule's
        execution role, whose policies decide it ("you must also grant permissions to the schedule's execution role to
        perform the targeted API operation"). Scheduler builds the request itself (here botocore fills its
        ClientRequestToken); the target takes no Input. A refusal is a dead letter at once, any other error after the
        retries, as for the other targets."""
        request = {
            "PipelineName": self._pipeline_name(target.arn),
            "PipelineParameters": list(target.pipeline_parameters or []),
        }
        error = None
        for _attempt in range(1 + target.retry_attempts):
            try:
                result = self._clients.client("sagemaker", target.role_arn).start_pipeline_execution(**request)
            except Exception as exception:  # an API error: retried, then a dead letter, as Scheduler does
                error = f"{type(exception).__name__}: {exception}"
                if isinstance(exception, ClientError) and "AccessDenied" in exception.response["Error"]["Code"]:
                    break  # a permission error is not retried
                continue
            result.pop("ResponseMetadata", None)
            self.invocations.append({"target": target.arn, "source": source, "payload": request, "result": result})
            return
        log.warning("%s: %s failed after its retries: %s", source, target.arn, error)
        self.invocations.append({"target": target.arn, "source": source, "payload": request, "error": error})
        self._schedule_dead_letter(target, payload, source, error)

    def _schedule_dead_letter(self, target: Target, payload: Any, source: str, error: str) -> None:
        """The Scheduler writes its dead-letter queue with the schedule's execution role, which needs sqs:SendMessage
        (and the queue key through SQS) ("Configuring a schedule's dead-letter queue")."""
        if target.dead_letter_arn not in self._deployment.queues:
            return
        try:
            self._clients.client("sqs", target.role_arn).send_message(
                QueueUrl=self._deployment.queues[target.dead_letter_arn],
                MessageBody=json.dumps(payload),
                MessageAttributes={"ERROR_MESSAGE": {"DataType": "String", "StringValue": error[:1000]}},
            )
        except ClientError as refusal:
            log.warning("%s: the dead letter is dropped, the queue refuses the role: %s", source, refusal)


_EVENTS = "events.amazonaws.com"
_CLOUDWATCH = "cloudwatch.amazonaws.com"


def _now() -> datetime:
    return datetime.now(UTC)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _guarded(work, *args) -> None:
    """Background work logs its failure instead of vanishing in a thread pool."""
    try:
        work(*args)
    except Exception:
        log.error("local cloud: %s failed\n%s", getattr(work, "__name__", work), traceback.format_exc())
