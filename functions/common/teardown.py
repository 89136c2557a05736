"""What a function created at run time goes when its stack goes: the function is its stack's custom resource
(ServiceToken), and CloudFormation's Delete event removes the models and endpoint configurations it made.

CloudFormation "Custom resources": the function answers every request (Create, Update, Delete) with a PUT of a JSON
response to the pre-signed ResponseURL; a request left unanswered keeps the stack waiting for an hour. A FAILED answer
on Delete leaves the stack DELETE_FAILED with the reason, so nothing billing is left behind unnoticed.
Stdlib and boto3 only (Lambda python3.12 runtime)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

PHYSICAL_ID = "scoreline-run-time-resources"


def is_stack_event(event) -> bool:
    return isinstance(event, dict) and "RequestType" in event and "ResponseURL" in event


def answer_stack_event(event: dict, delete: Callable[[], str]) -> dict:
    """Runs `delete` on a Delete request (it returns what it removed, in words) and answers CloudFormation."""
    status, reason = "SUCCESS", "nothing to do"
    if event["RequestType"] == "Delete":
        try:
            reason = delete()
        except Exception as error:  # any failure is answered: unanswered, the stack would wait an hour
            status, reason = "FAILED", f"could not remove what the function created: {error}"
    response = {
        "Status": status,
        "Reason": reason[:1000],
        "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_ID,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
    }
    body = json.dumps(response).encode()
    # The pre-signed URL was signed for an empty Content-Type ("Custom resource response objects").
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30):
        pass
    print(json.dumps({"trigger": "cloudformation", "action": event["RequestType"].lower(), "reason": reason}))
    return response


def delete_endpoint_configs(sagemaker, prefix: str) -> list[str]:
    return _delete_named(sagemaker, "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", prefix)


def delete_models(sagemaker, prefix: str) -> list[str]:
    return _delete_named(sagemaker, "list_models", "Models", "ModelName", prefix)


def _delete_named(sagemaker, list_call: str, key: str, name_key: str, prefix: str) -> list[str]:
    """Every item whose name starts with `prefix-` (the List calls match NameContains anywhere in the name)."""
    delete = getattr(sagemaker, list_call.replace("list_", "delete_").rstrip("s"))
    names = [
        item[name_key]
        for page in sagemaker.get_paginator(list_call).paginate(NameContains=prefix)
        for item in page[key]
        if item[name_key].startswith(f"{prefix}-")
    ]
    for name in names:
        delete(**{name_key: name})
    return names
