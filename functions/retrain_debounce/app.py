"""Debounces new training data: each "Object Created" event under the training prefix moves one one-time
EventBridge Scheduler schedule to RETRAIN_DEBOUNCE_SECONDS from now, so a burst of uploads starts the pipeline
once, after the last object. The schedule starts the pipeline itself (Scheduler's templated SageMaker target, no
function) and deletes itself after it ran (ActionAfterCompletion=DELETE); the next upload creates it again."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta

import boto3
from botocore.exceptions import ClientError

log = logging.getLogger()
log.setLevel(logging.INFO)


def handler(event: dict, _context) -> dict:
    key = event.get("detail", {}).get("object", {}).get("key", "")
    start_at = datetime.now(UTC) + timedelta(seconds=float(os.environ["RETRAIN_DEBOUNCE_SECONDS"]))
    action = _upsert_schedule(_schedule_request(start_at))
    decision = {"action": action, "key": key, "pipeline_start_at": start_at.isoformat(timespec="seconds")}
    log.info(json.dumps(decision))
    return decision


def _schedule_request(start_at: datetime) -> dict:
    """CreateSchedule/UpdateSchedule take the whole definition (an update replaces every field)."""
    return {
        "Name": os.environ["RETRAIN_SCHEDULE_NAME"],
        "GroupName": "default",
        # A one-time schedule: at(yyyy-mm-ddThh:mm:ss) in ScheduleExpressionTimezone ("Schedule types").
        "ScheduleExpression": f"at({start_at:%Y-%m-%dT%H:%M:%S})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Description": "Starts the training pipeline after new training data stopped arriving",
        # EventBridge Scheduler, "Using templated targets": the pipeline's ARN as the target is StartPipelineExecution,
        # which Scheduler calls itself; SageMakerPipelineParameters is its parameter set (empty: the pipeline's
        # defaults), and it takes no Input. A universal target sends its Input as the request, and that would need the
        # ClientRequestToken StartPipelineExecution requires.
        "Target": {
            "Arn": os.environ["RETRAIN_PIPELINE_ARN"],
            "RoleArn": os.environ["RETRAIN_SCHEDULE_ROLE_ARN"],
            "SageMakerPipelineParameters": {"PipelineParameterList": []},
            "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 7200},
            "DeadLetterConfig": {"Arn": os.environ["RETRAIN_DEAD_LETTER_QUEUE_ARN"]},
        },
    }


def _upsert_schedule(request: dict) -> str:
    scheduler = boto3.client("scheduler")
    try:
        scheduler.update_schedule(**request)
        return "postponed"
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    try:
        scheduler.create_schedule(**request)
        return "scheduled"
    except ClientError as error:  # another invocation created it in between: move that one
        if error.response["Error"]["Code"] != "ConflictException":
            raise
    scheduler.update_schedule(**request)
    return "postponed"
