"""Delivering to a target as an AWS service does: the target's resource policy (Lambda permission, topic or queue
policy) and an encrypted target's key policy must allow the delivering service with the source's ARN; then the
function is invoked asynchronously, the message published or sent. Rules (events/bus.py), schedules
(scheduler/delivery.py) and alarm actions (cloudwatch/alarms.py) deliver through it.

LIMITATIONS: targets other than functions, topics and queues are logged, not delivered (the Scheduler delivers to
SageMaker pipelines itself); an SNS topic's subscribers are moto's."""

from __future__ import annotations

import json
import logging
from typing import Any

from local_mode.clients import Clients
from local_mode.iam.evaluator import Authorizer, Request
from local_mode.iam.requests import key_arn, moto_queue, moto_topic
from local_mode.lambda_.provider import Functions
from local_mode.model import Deployment, Target

log = logging.getLogger("local_mode")


class Targets:
    def __init__(self, deployment: Deployment, authorizer: Authorizer, clients: Clients, functions: Functions):
        self._deployment = deployment
        self._authorizer = authorizer
        self._clients = clients
        self.functions = functions

    def authorize_service_delivery(
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

    def send(self, target: Target, payload: Any, source: str) -> None:
        if target.arn in self._deployment.functions:
            self.functions.invoke_async(self._deployment.functions[target.arn], payload, source)
        elif target.arn.startswith("arn:aws:sns:"):
            self._clients.client("sns").publish(TopicArn=target.arn, Message=json.dumps(payload))
        elif target.arn in self._deployment.queues:
            self._clients.client("sqs").send_message(
                QueueUrl=self._deployment.queues[target.arn], MessageBody=json.dumps(payload)
            )
        else:
            log.warning("%s: target %s is not something local mode can deliver to", source, target.arn)
