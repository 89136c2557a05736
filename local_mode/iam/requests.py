"""What an API request asks IAM for: the action and the real resource ARN (Service Authorization Reference, "Actions,
resources, and condition keys" of each service), plus what the call implies (iam:PassRole for a role handed to
SageMaker or the Scheduler, kms:GenerateDataKey and kms:Decrypt to write a KMS-encrypted topic or queue, the endpoint
and alarm permissions Application Auto Scaling needs for a SageMaker variant). And the AccessDenied answer in each
service's error format, given before the request reaches moto.

moto's own IAM check in server mode passes resource "*" for most services; these ARNs are computed here.

LIMITATIONS: actions this app's principals do not call get resource "*" (so a policy scoped to ARNs refuses them);
S3 requests are path-style only; scaling a SageMaker variant does not check sagemaker:DescribeEndpointConfig (the
endpoint's current configuration is not looked up); a versioned model package's ARN is computed from moto's count of
the group's versions."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

from local_mode.iam.evaluator import AccessDenied, Request


@dataclass
class ApiCall:
    """One HTTP request to the local cloud, as the WSGI server received it."""

    service: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    account: str
    region: str

    @property
    def target(self) -> str:
        """The operation of a JSON-protocol request (X-Amz-Target: SageMaker.CreateModel -> CreateModel)."""
        return self.headers.get("x-amz-target", "").rsplit(".", 1)[-1]

    def json(self) -> dict:
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            return {}

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode("utf-8", "replace")).items()}

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


# Classification, one function per service ------------------------------------------------------------------------
def _sagemaker(call: ApiCall) -> list[Request]:
    operation, body = call.target, call.json()
    action = f"sagemaker:{operation}"
    requests = [Request(action, _sagemaker_resource(call, operation, body))]
    # A tuning job passes its trials' role (TrainingJobDefinition.RoleArn): CreateHyperParameterTuningJob needs
    # iam:PassRole as CreateTrainingJob does ("Amazon SageMaker API Permissions" reference).
    passed = [
        body.get("RoleArn"),
        body.get("ExecutionRoleArn"),
        (body.get("TrainingJobDefinition") or {}).get("RoleArn"),
    ]
    for role in passed:
        if operation.startswith("Create") and role:
            requests.append(Request("iam:PassRole", role, {"iam:PassedToService": "sagemaker.amazonaws.com"}))
    return requests


# Operation -> (ARN resource type, request field with the name); names are lower-case in SageMaker job ARNs.
_SAGEMAKER_NAMED = {
    **{f"{verb}ProcessingJob": ("processing-job", "ProcessingJobName") for verb in ("Create", "Describe", "Stop")},
    **{f"{verb}TrainingJob": ("training-job", "TrainingJobName") for verb in ("Create", "Describe", "Stop")},
    **{f"{verb}TransformJob": ("transform-job", "TransformJobName") for verb in ("Create", "Describe", "Stop")},
    **{f"{verb}Model": ("model", "ModelName") for verb in ("Create", "Describe", "Delete")},
    **{f"{verb}Pipeline": ("pipeline", "PipelineName") for verb in ("Describe", "Update", "Delete")},
    **{f"{verb}EndpointConfig": ("endpoint-config", "EndpointConfigName") for verb in ("Create", "Describe", "Delete")},
    **{f"{verb}Endpoint": ("endpoint", "EndpointName") for verb in ("Create", "Describe", "Update", "Delete")},
    **{
        operation: ("hyper-parameter-tuning-job", "HyperParameterTuningJobName")
        for operation in (
            "CreateHyperParameterTuningJob",
            "DescribeHyperParameterTuningJob",
            "StopHyperParameterTuningJob",
            "ListTrainingJobsForHyperParameterTuningJob",
        )
    },
    "StartPipelineExecution": ("pipeline", "PipelineName"),
    "DescribeModelPackageGroup": ("model-package-group", "ModelPackageGroupName"),
}
_SAGEMAKER_ARN_FIELDS = ("ModelPackageName", "ModelPackageArn", "ResourceArn", "PipelineExecutionArn")


def _sagemaker_resource(call: ApiCall, operation: str, body: dict) -> str:
    if operation in _SAGEMAKER_NAMED:
        kind, name_field = _SAGEMAKER_NAMED[operation]
        name = str(body.get(name_field, ""))
        return name if name.startswith("arn:") else call.arn("sagemaker", f"{kind}/{name.lower()}")
    if operation == "CreateModelPackage" and body.get("ModelPackageGroupName"):
        group = body["ModelPackageGroupName"].rsplit("/", 1)[-1]
        return call.arn("sagemaker", f"model-package/{group}/{_next_version(call, group)}")
    value = next((body[name] for name in _SAGEMAKER_ARN_FIELDS if body.get(name)), None)
    if value and not value.startswith("arn:"):  # a model package named by its unversioned name
        value = call.arn("sagemaker", f"model-package/{value.lower()}")
    return value or "*"


def _next_version(call: ApiCall, group: str) -> int:
    from moto.sagemaker.models import sagemaker_backends

    packages = sagemaker_backends[call.account][call.region].model_packages.values()
    return 1 + sum(1 for package in packages if package.model_package_group_name == group)


def _s3(call: ApiCall) -> list[Request]:
    bucket, _, key = call.path.lstrip("/").partition("/")
    key, bucket_arn = unquote(key), f"arn:aws:s3:::{bucket}"
    if not bucket:
        return [Request("s3:ListAllMyBuckets", "*")]
    if not key:
        if call.method == "PUT":
            return [Request("s3:CreateBucket", bucket_arn)]
        if "location" in call.query:
            return [Request("s3:GetBucketLocation", bucket_arn)]
        if "delete" in call.query:
            return [Request("s3:DeleteObject", f"{bucket_arn}/*")]
        return [Request("s3:ListBucket", bucket_arn, {"s3:prefix": call.query.get("prefix", "")})]
    object_arn = f"{bucket_arn}/{key}"
    if call.method in ("GET", "HEAD"):
        return [Request("s3:GetObjectVersion" if "versionId" in call.query else "s3:GetObject", object_arn)]
    if call.method == "DELETE":
        return [Request("s3:AbortMultipartUpload" if "uploadId" in call.query else "s3:DeleteObject", object_arn)]
    requests = [Request("s3:PutObject", object_arn)]  # PUT, multipart create/part/complete all need s3:PutObject
    source = call.headers.get("x-amz-copy-source")
    if source:
        requests.append(Request("s3:GetObject", f"arn:aws:s3:::{unquote(source).lstrip('/').split('?')[0]}"))
    return requests


def _sqs(call: ApiCall) -> list[Request]:
    operation, body = call.target, call.json()
    if "QueueUrl" in body:
        name = urlparse(body["QueueUrl"]).path.rstrip("/").rsplit("/", 1)[-1]
    else:
        name = body.get("QueueName", "*")
    queue_arn = call.arn("sqs", name)
    requests = [Request(f"sqs:{operation}", queue_arn)]
    if operation in ("SendMessage", "SendMessageBatch"):
        requests += _encrypted_write(call, "sqs", queue_arn, _queue_key(call, queue_arn))
    return requests


def _sns(call: ApiCall) -> list[Request]:
    form = call.form()
    operation, topic_arn = form.get("Action", ""), form.get("TopicArn") or form.get("TargetArn") or "*"
    requests = [Request(f"sns:{operation}", topic_arn)]
    if operation in ("Publish", "PublishBatch"):
        requests += _encrypted_write(call, "sns", topic_arn, _topic_key(call, topic_arn))
    return requests


def _encrypted_write(call: ApiCall, service: str, arn: str, key_arn: str | None) -> list[Request]:
    """A producer of an SSE-KMS topic or queue needs kms:GenerateDataKey and kms:Decrypt on its key (SNS, "Encryption
    at rest": "the publisher must have kms:GenerateDataKey* and kms:Decrypt"; SQS, "Key management")."""
    if not key_arn:
        return []
    context = {
        "kms:ViaService": f"{service}.{call.region}.amazonaws.com",
        "kms:EncryptionContext:aws:sns:topicArn" if service == "sns" else "kms:EncryptionContext:aws:sqs:arn": arn,
    }
    return [Request(action, key_arn, context) for action in ("kms:GenerateDataKey", "kms:Decrypt")]


def moto_topic(account: str, region: str, topic_arn: str):
    from moto.sns.models import sns_backends

    return sns_backends[account][region].topics.get(topic_arn)


def moto_queue(account: str, region: str, queue_arn: str):
    from moto.sqs.models import sqs_backends

    return sqs_backends[account][region].queues.get(queue_arn.rsplit(":", 1)[-1])


def _topic_key(call: ApiCall, topic_arn: str) -> str | None:
    topic = moto_topic(call.account, call.region, topic_arn)
    return key_arn(call.account, call.region, topic.kms_master_key_id) if topic else None


def _queue_key(call: ApiCall, queue_arn: str) -> str | None:
    queue = moto_queue(call.account, call.region, queue_arn)
    return key_arn(call.account, call.region, getattr(queue, "kms_master_key_id", None)) if queue else None


def key_arn(account: str, region: str, key_id: str | None) -> str | None:
    if not key_id:
        return None
    return key_id if key_id.startswith("arn:") else f"arn:aws:kms:{region}:{account}:key/{key_id}"


def _kms(call: ApiCall) -> list[Request]:
    key = call.json().get("KeyId")
    return [Request(f"kms:{call.target}", key_arn(call.account, call.region, key) or "*")]


def _scheduler(call: ApiCall) -> list[Request]:
    match = re.fullmatch(r"/schedules(?:/([^/]+))?", call.path)
    if not match or not match.group(1):
        return [Request("scheduler:ListSchedules", "*")]
    body = call.json()
    group = body.get("GroupName") or call.query.get("groupName") or "default"
    operation = {"POST": "CreateSchedule", "PUT": "UpdateSchedule", "GET": "GetSchedule", "DELETE": "DeleteSchedule"}
    requests = [Request(f"scheduler:{operation[call.method]}", call.arn("scheduler", f"schedule/{group}/{match[1]}"))]
    role = body.get("Target", {}).get("RoleArn")
    if role:
        requests.append(Request("iam:PassRole", role, {"iam:PassedToService": "scheduler.amazonaws.com"}))
    return requests


def _lambda(call: ApiCall) -> list[Request]:
    match = re.search(r"/functions/([^/]+)(/invocations)?", call.path)
    if not match:
        return [Request("lambda:ListFunctions", "*")]
    name = unquote(match.group(1))
    arn = name if name.startswith("arn:") else call.arn("lambda", f"function:{name}")
    return [Request("lambda:InvokeFunction" if match.group(2) else "lambda:GetFunction", arn)]


def _cloudwatch(call: ApiCall) -> list[Request]:
    """CloudWatch's endpoint is `monitoring`, its IAM prefix `cloudwatch`; alarms are named by ARN
    (Service Authorization Reference, Amazon CloudWatch: alarm `arn:aws:cloudwatch:<region>:<account>:alarm:<name>`)."""
    # The SDKs speak CloudWatch's JSON, CBOR or query protocol: read the operation and body from whichever it is.
    if call.target:
        operation, body = call.target, call.json()
    elif "/operation/" in call.path:
        operation, body = call.path.rsplit("/", 1)[-1], _cbor(call.body)
    else:
        operation, body = call.form().get("Action", ""), call.form()
    if operation == "PutMetricData":  # no resource; the cloudwatch:namespace condition key (CloudWatch, "Using
        # condition keys to limit access to CloudWatch namespaces")
        return [Request("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": str(body.get("Namespace", ""))})]
    names = body.get("AlarmNames") or ([body["AlarmName"]] if body.get("AlarmName") else [])
    resources = [call.arn("cloudwatch", f"alarm:{name}") for name in names] or ["*"]
    return [Request(f"cloudwatch:{operation}", resource) for resource in resources]


def _cbor(body: bytes) -> dict:
    """A Smithy RPC v2 CBOR request body, read with botocore's own CBOR reader."""
    from botocore.parsers import BaseCBORParser

    return BaseCBORParser().parse_data_item(io.BytesIO(body)) if body else {}


def _application_autoscaling(call: ApiCall) -> list[Request]:
    """Application Auto Scaling authorizes on `*` with the request's namespace and dimension as condition keys
    (Service Authorization Reference: application-autoscaling:service-namespace, :scalable-dimension)."""
    body = call.json()
    context = {
        "application-autoscaling:service-namespace": body.get("ServiceNamespace", ""),
        "application-autoscaling:scalable-dimension": body.get("ScalableDimension", ""),
    }
    requests = [Request(f"application-autoscaling:{call.target}", "*", {k: v for k, v in context.items() if v})]
    if body.get("ServiceNamespace") == "sagemaker":
        requests += _sagemaker_scaling(call, body)
    return requests


def _sagemaker_scaling(call: ApiCall, body: dict) -> list[Request]:
    """Application Auto Scaling acts on the target service and CloudWatch with the caller's permissions: for SageMaker
    endpoints sagemaker:DescribeEndpoint, UpdateEndpointWeightsAndCapacities and cloudwatch:DescribeAlarms,
    PutMetricAlarm, DeleteAlarms (Application Auto Scaling, "Identity-based policy examples": "Permissions required
    for API actions on target services and CloudWatch"). Registering a variant needs the endpoint's; a target-tracking
    policy needs its alarms', which it names TargetTracking-<resource id>-AlarmHigh-<id> (and AlarmLow)."""
    match = re.fullmatch(r"endpoint/([^/]+)/variant/[^/]+", body.get("ResourceId", ""))
    if not match:
        return []
    if call.target == "RegisterScalableTarget":
        endpoint = call.arn("sagemaker", f"endpoint/{match[1].lower()}")
        return [Request(f"sagemaker:{action}", endpoint) for action in _SCALING_TARGET_ACTIONS]
    if call.target == "PutScalingPolicy" and body.get("PolicyType") == "TargetTrackingScaling":
        alarm = call.arn("cloudwatch", f"alarm:TargetTracking-{body['ResourceId']}-AlarmHigh-{uuid.uuid4()}")
        return [Request(f"cloudwatch:{action}", alarm) for action in _SCALING_ALARM_ACTIONS]
    return []


_SCALING_TARGET_ACTIONS = ("DescribeEndpoint", "UpdateEndpointWeightsAndCapacities")
_SCALING_ALARM_ACTIONS = ("PutMetricAlarm", "DescribeAlarms", "DeleteAlarms")


def _other(call: ApiCall) -> list[Request]:
    operation = call.target or call.form().get("Action", "") or call.method
    if call.service == "sts" and operation == "GetCallerIdentity":
        return []  # "No permissions are required to perform this operation" (STS API reference)
    return [Request(f"{call.service}:{operation}", "*")]


CLASSIFIERS: dict[str, Callable[[ApiCall], list[Request]]] = {
    "sagemaker": _sagemaker,
    "s3": _s3,
    "sqs": _sqs,
    "sns": _sns,
    "kms": _kms,
    "scheduler": _scheduler,
    "lambda": _lambda,
    "monitoring": _cloudwatch,
    "application-autoscaling": _application_autoscaling,
}


def requests_for(call: ApiCall) -> list[Request]:
    return CLASSIFIERS.get(call.service, _other)(call)


# Errors in each service's format -----------------------------------------------------------------------------------
def access_denied_response(call: ApiCall, denial: AccessDenied) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status, headers and body of AWS's AccessDenied answer for the call's protocol."""
    message, request_id = str(denial), str(uuid.uuid4())
    if call.service == "s3":
        body = b"" if call.method == "HEAD" else _xml("Error", "AccessDenied", message, request_id).encode()
        return "403 Forbidden", [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body
    if call.service in ("sns", "iam", "sts", "cloudformation"):
        code = "AuthorizationError" if call.service == "sns" else "AccessDenied"
        error = f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{_escape(message)}</Message></Error>"
        body = f"<ErrorResponse>{error}<RequestId>{request_id}</RequestId></ErrorResponse>"
        return "403 Forbidden", [("Content-Type", "text/xml")], body.encode()
    code = "AccessDenied" if call.service == "sqs" else "AccessDeniedException"
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
    headers.append(("x-amzn-RequestId", request_id))
    if call.service == "sqs":  # SQS's JSON protocol keeps its query error code in this header
        headers.append(("x-amzn-query-error", f"{code};Sender"))
    status = "400 Bad Request" if call.target else "403 Forbidden"
    return status, headers, json.dumps({"__type": code, "message": message, "Message": message}).encode()


def _xml(root: str, code: str, message: str, request_id: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}><Code>{code}</Code><Message>{_escape(message)}</Message>'
        f"<RequestId>{request_id}</RequestId></{root}>"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# The WSGI side ----------------------------------------------------------------------------------------------------
_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d+/([a-z0-9-]+)/([a-z0-9-]+)/")


def call_from_environ(environ: dict, account: str) -> tuple[str, ApiCall] | None:
    """The access key and the call of a SigV4-signed request; None for an unsigned one. The body is read and put
    back, so the application behind still reads it."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not match:
        return None
    access_key, region, service = match.groups()
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    body = b""
    if service != "s3":  # S3 bodies can be large and streamed; no S3 decision needs them
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
    query = {
        key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()
    }
    call = ApiCall(
        service, environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"), query, headers, body, account, region
    )
    return access_key, call
