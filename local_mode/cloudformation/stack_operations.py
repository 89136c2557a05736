"""What CloudFormation does after the resources exist: custom resources (create on deploy, delete with their stack)
and DeleteStack, for a deployment whose functions run (local_mode/lambda_/).

A custom resource's function gets CloudFormation's request and answers with a PUT of its JSON response to the
pre-signed ResponseURL (CloudFormation "Custom resources", "Custom resource request objects"; here a pre-signed S3
PUT to the local cloud, as CloudFormation's own is one to S3). CloudFormation invokes the function asynchronously,
as the deploying user, so no Lambda permission is needed; FAILED or no answer fails the stack operation.

DeleteStack, in reverse creation order: refused whole if another stack imports one of its exports ("Export ... cannot
be deleted as it is in use by ..."; CloudFormation Fn::ImportValue: "you can't delete a stack if another stack
references one of its outputs"); then each custom resource's Delete, then the rules, schedules, alarms and
functions stop acting. LIMITATIONS: the other resources (roles, keys, queues, topics, buckets, the pipeline) stay in
moto, as if retained; deletion is immediate, not DELETE_IN_PROGRESS for minutes."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from local_mode.cloudformation.assembly import AssemblyError
from local_mode.model import CustomResource, DeployedStack, Deployment

log = logging.getLogger("local_mode")
RESPONSES_BUCKET = "local-cloudformation-custom-resource-responses"


class StackOperationFailed(AssemblyError):
    """What CloudFormation would show as the stack's status reason."""


def create_custom_resources(deployment: Deployment, functions, clients) -> None:
    for resource in deployment.custom_resources:
        resource.physical_id = _request(resource, "Create", deployment, functions, clients)


def delete_stack(deployment: Deployment, stack_name: str, functions, clients) -> None:
    stack = next((s for s in deployment.stacks if stack_name in (s.stack_name, s.stack_id)), None)
    if stack is None:
        return  # DeleteStack of a stack that does not exist succeeds and does nothing
    stack.stack_status = "DELETE_IN_PROGRESS"
    try:
        _refuse_exports_in_use(deployment, stack)
        for logical_id, resource_type, physical_id in reversed(stack.resources):
            _delete_resource(deployment, stack, logical_id, resource_type, physical_id, functions, clients)
    except StackOperationFailed as error:
        stack.stack_status, stack.stack_status_reason = "DELETE_FAILED", str(error)
        raise
    deployment.stacks.remove(stack)


def _refuse_exports_in_use(deployment: Deployment, stack: DeployedStack) -> None:
    for export in stack.exports:
        users = [other.stack_name for other in deployment.stacks if other is not stack and export in other.imports]
        if users:
            raise StackOperationFailed(f"Export {export} cannot be deleted as it is in use by {', '.join(users)}")


def _delete_resource(deployment, stack, logical_id, resource_type, physical_id, functions, clients) -> None:
    if resource_type == "AWS::CloudFormation::CustomResource" or resource_type.startswith("Custom::"):
        resource = next(
            r for r in deployment.custom_resources if (r.stack_id, r.logical_id) == (stack.stack_id, logical_id)
        )
        _request(resource, "Delete", deployment, functions, clients)
        deployment.custom_resources.remove(resource)
    elif resource_type == "AWS::Events::Rule":
        deployment.rules[:] = [rule for rule in deployment.rules if rule.name != physical_id]
    elif resource_type == "AWS::Scheduler::Schedule":
        deployment.schedules.pop(physical_id, None)
    elif resource_type == "AWS::CloudWatch::Alarm":
        deployment.alarms.pop(physical_id, None)
    elif resource_type == "AWS::Lambda::Function":
        arn = next((arn for arn, f in deployment.functions.items() if f.name == physical_id), None)
        deployment.functions.pop(arn, None)


def _request(resource: CustomResource, request_type: str, deployment: Deployment, functions, clients) -> str:
    """One request to the resource's function and its answer: the physical id, or StackOperationFailed."""
    function = deployment.functions.get(resource.service_token)
    if function is None:
        raise StackOperationFailed(f"{resource.logical_id}: ServiceToken {resource.service_token} is not a function")
    s3 = clients.client("s3")
    _ensure_bucket(s3)
    key = f"{resource.logical_id}/{uuid.uuid4()}"
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": resource.service_token,
        "ResponseURL": s3.generate_presigned_url(
            "put_object", Params={"Bucket": RESPONSES_BUCKET, "Key": key}, ExpiresIn=7200
        ),
        "StackId": resource.stack_id,
        "RequestId": key,
        "ResourceType": resource.resource_type,
        "LogicalResourceId": resource.logical_id,
        "ResourceProperties": {"ServiceToken": resource.service_token, **resource.properties},
    }
    if resource.physical_id:
        event["PhysicalResourceId"] = resource.physical_id
    functions.invoke_async(function, event, "cloudformation")
    try:
        answer = json.loads(s3.get_object(Bucket=RESPONSES_BUCKET, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        raise StackOperationFailed(f"{resource.logical_id}: the function did not answer the {request_type}") from None
    if answer.get("Status") != "SUCCESS":
        raise StackOperationFailed(f"{resource.logical_id}: {answer.get('Reason', 'FAILED without a reason')}")
    log.info("custom resource %s %s: %s", resource.logical_id, request_type, answer.get("Reason"))
    return answer.get("PhysicalResourceId") or resource.physical_id


def _ensure_bucket(s3) -> None:
    try:
        s3.head_bucket(Bucket=RESPONSES_BUCKET)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=RESPONSES_BUCKET)
