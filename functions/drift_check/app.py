"""Drift check function: every completed scoring transform job gets a drift check, and every check's result goes
where people look.

Triggers (EventBridge rules of the scoring stack; the detail is the Describe* response, "Events that Amazon
SageMaker AI sends to Amazon EventBridge"):
- "SageMaker Transform Job State Change", TransformJobStatus Completed, name starting with SCORING_NAME_PREFIX-:
  starts a processing job, DRIFT_NAME_PREFIX plus the rest of the transform job's name, which runs
  container_code/drift/check.py in the version's own features image (it parsed these rows, so it has numpy and
  pandas) with the job role, reading the transform output and the version's DriftCheckBaselines
  (ModelDataQuality.Statistics) and writing DRIFT_URI/<transform job name>/drift.json.
- "SageMaker Processing Job State Change", Completed or Failed, name starting with DRIFT_NAME_PREFIX-: publishes
  the check's figures as CloudWatch metrics (METRIC_NAMESPACE; PSI per Feature, and RowsChecked, DriftedFeatures),
  and one alert per drifted run (or failed check) to ALERT_TOPIC_ARN.

Why a processing job, and not this function: the output of a scoring job can be any size (millions of rows),
Lambda stops at 15 minutes and this runtime has neither numpy nor pandas, and a processing job runs where the data
is with the role the transform job had. It also keeps this function's own role small: it starts one kind of job and
reads one prefix. Small inputs are not checked here either: one path is one behaviour to test.

Idempotent: a job name per transform job (a second delivery finds the job and logs job_exists); one alert per
drifted run, recorded under SENT_ALERTS_URI/drift/ with a conditional write, as the scoring function does.
Runs on the Lambda python3.12 runtime: stdlib and boto3 only.
"""

from __future__ import annotations

import json
import os
import re

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

BOTO_CONFIG = Config(retries={"mode": "standard"})
TRANSFORM_EVENT = "SageMaker Transform Job State Change"
PROCESSING_EVENT = "SageMaker Processing Job State Change"
DRIFT_FILE = "drift.json"
# ProcessingJobName: up to 63 letters, digits and hyphens (API reference, CreateProcessingJob).
NAME_RULE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
CODE_DIR = "/opt/ml/processing/code"
BASELINE_DIR, SCORED_DIR, OUTPUT_DIR = (
    "/opt/ml/processing/baseline",
    "/opt/ml/processing/input",
    "/opt/ml/processing/output",
)
# The processing job's message file: its first 1 KB is the job's ExitMessage (SageMaker, "Save and Access Metadata
# Information About Your Processing Job").
MESSAGE_FILE = "/opt/ml/output/message"
MAX_RUNTIME_SECONDS = 3 * 3600
VOLUME_GB = 30
# Settings field -> environment variable the scoring stack sets (a copy of scoreline/names.py's DRIFT_CHECK).
ENVIRONMENT = {
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


class MalformedEvent(ValueError):
    pass


def handler(event, _context):
    settings = load_settings()
    kind, detail = parse_event(event)
    if kind == TRANSFORM_EVENT:
        return start_check(settings, detail)
    return publish_result(settings, detail)


def load_settings() -> dict[str, str]:
    missing = [name for name in ENVIRONMENT.values() if not os.environ.get(name)]
    if missing:
        raise RuntimeError(f"environment variables missing: {', '.join(missing)} (the scoring stack sets them)")
    return {name: os.environ[name] for name in ENVIRONMENT.values()}


def parse_event(event) -> tuple[str, dict]:
    """(detail-type, detail) of a transform or processing job state change; anything else is MalformedEvent."""
    if not isinstance(event, dict) or event.get("detail-type") not in (TRANSFORM_EVENT, PROCESSING_EVENT):
        kind = event.get("detail-type") if isinstance(event, dict) else type(event).__name__
        raise MalformedEvent(f"not a transform or processing job state change: {kind!r}")
    detail = event.get("detail")
    key = "TransformJobName" if event["detail-type"] == TRANSFORM_EVENT else "ProcessingJobName"
    if not isinstance(detail, dict) or not isinstance(detail.get(key), str):
        raise MalformedEvent(f"{event['detail-type']} event without detail.{key}")
    return event["detail-type"], detail


# --- after a scoring job: start the check --------------------------------------------------------------------


def start_check(settings: dict, transform: dict) -> dict:
    transform_job = transform["TransformJobName"]
    if transform.get("TransformJobStatus") != "Completed":
        return log("ignored", transform_job, f"transform job is {transform.get('TransformJobStatus')}")
    package_arn = package_of(transform)
    package = _client("sagemaker").describe_model_package(ModelPackageName=package_arn)
    baseline = package.get("DriftCheckBaselines", {}).get("ModelDataQuality", {}).get("Statistics", {}).get("S3Uri")
    if not baseline:
        return log("no_baseline", transform_job, f"{package_arn} was registered without DriftCheckBaselines")
    job_name = drift_job_name(settings, transform_job)
    request = processing_job_request(settings, job_name, transform, baseline, package)
    try:
        _client("sagemaker").describe_processing_job(ProcessingJobName=job_name)
        return log("job_exists", transform_job, job_name)
    except ClientError as error:
        if _code(error) not in ("ValidationException", "ResourceNotFound"):
            raise
    _client("sagemaker").create_processing_job(**request)
    return log("started_check", transform_job, job_name)


def package_of(transform: dict) -> str:
    """The version's ARN: the scoring function tags each job with it (scoreline:model-package-arn). Read with
    ListTags rather than from the event, whose Tags field is not DescribeTransformJob's shape."""
    tags = _client("sagemaker").list_tags(ResourceArn=transform["TransformJobArn"])["Tags"]
    arn = {tag["Key"]: tag["Value"] for tag in tags}.get("scoreline:model-package-arn")
    if not arn:
        raise MalformedEvent(f"transform job {transform['TransformJobName']} has no scoreline:model-package-arn tag")
    return arn


def drift_job_name(settings: dict, transform_job: str) -> str:
    """The transform job's name with the drift prefix: one check per scoring job, and it says which."""
    scoring = settings["SCORING_NAME_PREFIX"]
    if not transform_job.startswith(f"{scoring}-"):
        raise MalformedEvent(f"transform job {transform_job!r} is not a scoring job ({scoring}-...)")
    name = settings["DRIFT_NAME_PREFIX"] + transform_job[len(scoring) :]
    if not NAME_RULE.match(name):
        raise MalformedEvent(f"drift job name {name!r} breaks SageMaker's name rule (63 letters, digits, hyphens)")
    return name


def processing_job_request(settings: dict, job_name: str, transform: dict, baseline: str, package: dict) -> dict:
    """CreateProcessingJob for container_code/drift/check.py on the transform job's output."""
    transform_job = transform["TransformJobName"]
    output_uri = transform["TransformOutput"]["S3OutputPath"].rstrip("/") + "/"
    code_name = settings["CHECK_CODE_URI"].rsplit("/", 1)[-1]
    image = package["InferenceSpecification"]["Containers"][0]["Image"]  # the features container's image
    arguments = [
        "--transform-job", transform_job,
        "--psi-threshold", settings["PSI_THRESHOLD"],
        "--null-rate-threshold", settings["NULL_RATE_THRESHOLD"],
        "--min-rows", settings["MIN_ROWS"],
        "--baseline-dir", BASELINE_DIR,
        "--input-dir", SCORED_DIR,
        "--output-dir", OUTPUT_DIR,
        "--message-file", MESSAGE_FILE,
    ]  # fmt: skip
    return {
        "ProcessingJobName": job_name,
        "RoleArn": settings["EXECUTION_ROLE_ARN"],
        "AppSpecification": {
            "ImageUri": image,
            "ContainerEntrypoint": ["python3", f"{CODE_DIR}/{code_name}"],
            "ContainerArguments": arguments,
        },
        "ProcessingInputs": [
            _input("code", settings["CHECK_CODE_URI"], CODE_DIR),
            _input("baseline", baseline, BASELINE_DIR),
            _input("scored", output_uri, SCORED_DIR),
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "drift",
                    "S3Output": {
                        "S3Uri": f"{settings['DRIFT_URI']}{transform_job}",
                        "LocalPath": OUTPUT_DIR,
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ],
            "KmsKeyId": settings["KMS_KEY_ARN"],
        },
        "ProcessingResources": {"ClusterConfig": _cluster(settings)},
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS},
        "NetworkConfig": {"EnableNetworkIsolation": True},  # reads and writes S3 through SageMaker only
        "Tags": [{"Key": "scoreline:transform-job", "Value": transform_job}],
    }


def _input(name: str, uri: str, local_path: str) -> dict:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def _cluster(settings: dict) -> dict:
    cluster = {"InstanceCount": 1, "InstanceType": settings["INSTANCE_TYPE"], "VolumeSizeInGB": VOLUME_GB}
    # ProcessingClusterConfig VolumeKmsKeyId: refused for instance types with NVMe instance storage.
    if settings["INSTANCE_STORAGE"] != "true":
        cluster["VolumeKmsKeyId"] = settings["KMS_KEY_ARN"]
    return cluster


# --- after a check: metrics, alert, event ------------------------------------------------------------------------


def publish_result(settings: dict, job: dict) -> dict:
    job_name = job["ProcessingJobName"]
    transform_job = _transform_job_of(settings, job_name)
    status = job.get("ProcessingJobStatus")
    if status == "Failed":
        reason = job.get("ExitMessage") or job.get("FailureReason") or "no reason given"
        _alert_once(settings, transform_job, "Scoreline: drift check failed", f"The drift check {job_name} of "
                    f"scoring job {transform_job} failed: {reason.strip()}")  # fmt: skip
        return log("check_failed", transform_job, reason.strip())
    if status != "Completed":
        return log("ignored", transform_job, f"drift check is {status}")
    report = read_report(settings, transform_job)
    put_metrics(settings, report)
    if not report["drifted"]:
        reason = report["reason"] or "no drift"
        return log("no_drift", transform_job, reason, rows=report["rows"])
    message = alert_text(transform_job, report)
    sent = _alert_once(settings, transform_job, "Scoreline: drift in scoring input", message)
    return log("drifted" if sent else "already_alerted", transform_job, message, rows=report["rows"])


def _transform_job_of(settings: dict, job_name: str) -> str:
    drift = settings["DRIFT_NAME_PREFIX"]
    if not job_name.startswith(f"{drift}-"):
        raise MalformedEvent(f"processing job {job_name!r} is not a drift check ({drift}-...)")
    return settings["SCORING_NAME_PREFIX"] + job_name[len(drift) :]


def read_report(settings: dict, transform_job: str) -> dict:
    bucket, key = _split(f"{settings['DRIFT_URI']}{transform_job}/{DRIFT_FILE}")
    return json.loads(_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def put_metrics(settings: dict, report: dict) -> None:
    """PSI per feature (dimension Feature; the predictions as "prediction"), rows and drifted features per run.
    PutMetricData takes up to 1,000 metrics a request (CloudWatch API reference): sent in batches of 500."""
    metrics = [
        {"MetricName": "PSI", "Dimensions": [{"Name": "Feature", "Value": name}], "Value": result["psi"]}
        for name, result in {**report["features"], "prediction": report["prediction"]}.items()
    ]
    metrics += [
        {"MetricName": "RowsChecked", "Value": report["rows"], "Unit": "Count"},
        {"MetricName": "DriftedFeatures", "Value": len(report["drifted_features"]), "Unit": "Count"},
    ]
    cloudwatch = _client("cloudwatch")
    for start in range(0, len(metrics), 500):
        cloudwatch.put_metric_data(Namespace=settings["METRIC_NAMESPACE"], MetricData=metrics[start : start + 500])


def alert_text(transform_job: str, report: dict) -> str:
    """One sentence naming each drifted feature with its figures."""
    parts = [_figures(name, report["features"][name]) for name in report["drifted_features"]]
    if report["prediction_drifted"]:
        parts.append(_figures("the predictions", report["prediction"]))
    threshold = report["thresholds"]["psi"]
    return (
        f"Scoring job {transform_job} ({report['rows']} rows) drifted from the version's training data: "
        + "; ".join(parts)
        + f" (PSI threshold {threshold}; drift.json has every feature)."
    )


def _figures(name: str, result: dict) -> str:
    text = f"{name} PSI {result['psi']:.3f}"
    if "ks" in result:
        text += f", KS {result['ks']:.3f}"
    if result.get("unseen_share"):
        text += f", unseen levels {result['unseen_share']:.1%} ({', '.join(result['unseen_levels'])})"
    if result["null_rate_change"] > 0:
        text += f", null rate {result['baseline_null_rate']:.1%} -> {result['null_rate']:.1%}"
    return text


def _alert_once(settings: dict, transform_job: str, subject: str, message: str) -> bool:
    """Publishes unless a delivery for this run already did (If-None-Match record, as the scoring function)."""
    bucket, key = _split(f"{settings['SENT_ALERTS_URI']}drift/{transform_job}.json")
    try:
        _client("s3").put_object(Bucket=bucket, Key=key, Body=message.encode(), IfNoneMatch="*")
    except ClientError as error:
        if _code(error) == "PreconditionFailed":
            return False
        raise
    try:
        _client("sns").publish(TopicArn=settings["ALERT_TOPIC_ARN"], Subject=subject, Message=message)
    except Exception:
        _client("s3").delete_object(Bucket=bucket, Key=key)  # not sent: Lambda's retry sends it
        raise
    return True


# --- helpers -----------------------------------------------------------------------------------------------------


def log(action: str, transform_job: str, reason: str, **fields) -> dict:
    """One JSON line per decision; the dashboard's drift widget queries these fields."""
    line = {"action": action, "transform_job": transform_job, "reason": reason, **fields}
    print(json.dumps(line))
    return line


def _split(uri: str) -> tuple[str, str]:
    match = re.match(r"^s3://([^/]+)/(.*)$", uri)
    if not match:
        raise RuntimeError(f"not an S3 URI: {uri!r}")
    return match.group(1), match.group(2)


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _client(service: str):
    return boto3.client(service, config=BOTO_CONFIG)
