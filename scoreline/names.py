"""The environment variables the stacks pass to the Lambda functions, one table per function: {the function's
setting: the variable}. The stacks build each function's environment with `environment`, which refuses a missing or
unknown setting at synth; local mode and the demo find a deployed function by its variables.

The functions ship alone (functions/<name>/), so each keeps its own copy of its table (ENVIRONMENT in
functions/scoring, serving and drift_check; functions/retrain_debounce/app.py reads its variables by name); the
tests check that every copy equals this one. The TrainingData function takes no variables:
the pipeline's Lambda step gives it its inputs (InputDataUri, ManifestPrefix)."""

from __future__ import annotations

from collections.abc import Mapping

SCORING = {
    "group": "MODEL_PACKAGE_GROUP_NAME",
    "execution_role_arn": "EXECUTION_ROLE_ARN",
    "name_prefix": "NAME_PREFIX",
    "input_uri": "SCORING_INPUT_URI",
    "output_uri": "SCORING_OUTPUT_URI",
    "kms_key_arn": "KMS_KEY_ARN",
    "instance_type": "TRANSFORM_INSTANCE_TYPE",
    "instance_storage": "TRANSFORM_INSTANCE_STORAGE",
    "instance_count": "TRANSFORM_INSTANCE_COUNT",
    "max_payload_mb": "MAX_PAYLOAD_MB",
    "max_concurrent": "MAX_CONCURRENT_TRANSFORMS",
    "container_environments": "CONTAINER_ENVIRONMENT",
    "input_filter": "INPUT_FILTER",
    "alert_topic_arn": "ALERT_TOPIC_ARN",
    "sent_alerts_uri": "SENT_ALERTS_URI",
}

SERVING = {
    "group": "MODEL_PACKAGE_GROUP_NAME",
    "execution_role_arn": "EXECUTION_ROLE_ARN",
    "name_prefix": "SERVING_NAME_PREFIX",
    "endpoint_name": "SERVING_ENDPOINT_NAME",
    "kms_key_arn": "KMS_KEY_ARN",
    "instance_type": "SERVING_INSTANCE_TYPE",
    "instance_storage": "SERVING_INSTANCE_STORAGE",
    "instance_count": "SERVING_INSTANCE_COUNT",
    "container_environments": "SERVING_CONTAINER_ENVIRONMENT",
    "min_instances": "SERVING_MIN_INSTANCES",
    "max_instances": "SERVING_MAX_INSTANCES",
    "invocations_per_instance": "SERVING_INVOCATIONS_PER_INSTANCE",
    "canary_percent": "SERVING_CANARY_PERCENT",
    "baking_seconds": "SERVING_BAKING_SECONDS",
    "latency_alarm_ms": "SERVING_LATENCY_ALARM_MS",
    "errors_alarm_name": "SERVING_ERRORS_ALARM_NAME",
    "latency_alarm_name": "SERVING_LATENCY_ALARM_NAME",
    "alert_topic_arn": "ALERT_TOPIC_ARN",
}

RETRAIN_DEBOUNCE = {
    "schedule_name": "RETRAIN_SCHEDULE_NAME",
    "pipeline_arn": "RETRAIN_PIPELINE_ARN",
    "schedule_role_arn": "RETRAIN_SCHEDULE_ROLE_ARN",
    "dead_letter_queue_arn": "RETRAIN_DEAD_LETTER_QUEUE_ARN",
    "debounce_seconds": "RETRAIN_DEBOUNCE_SECONDS",
}

DRIFT_CHECK = {
    "scoring_name_prefix": "SCORING_NAME_PREFIX",
    "drift_name_prefix": "DRIFT_NAME_PREFIX",
    "execution_role_arn": "EXECUTION_ROLE_ARN",
    "kms_key_arn": "KMS_KEY_ARN",
    "instance_type": "INSTANCE_TYPE",
    "instance_storage": "INSTANCE_STORAGE",
    "check_code_uri": "CHECK_CODE_URI",
    "drift_uri": "DRIFT_URI",
    "psi_threshold": "PSI_THRESHOLD",
    "null_rate_threshold": "NULL_RATE_THRESHOLD",
    "min_rows": "MIN_ROWS",
    "metric_namespace": "METRIC_NAMESPACE",
    "alert_topic_arn": "ALERT_TOPIC_ARN",
    "sent_alerts_uri": "SENT_ALERTS_URI",
}

# {function folder under functions/: its table}
FUNCTION_VARIABLES = {
    "scoring": SCORING,
    "serving": SERVING,
    "retrain_debounce": RETRAIN_DEBOUNCE,
    "drift_check": DRIFT_CHECK,
}


def environment(variables: Mapping[str, str], **values: str) -> dict[str, str]:
    """A function's environment: each setting's value under its variable, in the order given. Every setting of
    `variables` must have a value and no other may: a function refuses to start without one of its variables."""
    missing, unknown = sorted(variables.keys() - values.keys()), sorted(values.keys() - variables.keys())
    if missing or unknown:
        raise ValueError(f"function environment: missing {missing}, unknown {unknown}")
    return {variables[setting]: value for setting, value in values.items()}
