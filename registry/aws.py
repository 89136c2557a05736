"""What the page reads and changes, through the AWS API with the caller's credentials.

A registered version's description, evaluation.json and training manifest never change once it is registered, so
they are cached by ARN for the life of the process; its approval status and its scoring runs are read on every
request. The group view reads each version's evaluation on first sight, several at once, so a group of 100 versions
costs one ListModelPackages page and, once, 100 DescribeModelPackage + GetObject pairs in parallel."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Short timeouts and the standard retry mode: a page that waits a minute on an unreachable endpoint is broken.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NotAuthorized"}
_ABSENT = {"NoSuchKey", "404", "NotFound", "ResourceNotFound"}
_PARALLEL_READS = 8
# Output larger than this is not read just to count its lines (a drift check's row count is used when present).
_MAX_COUNTED_BYTES = 64 * 1024 * 1024
DRIFT_PREFIX = "scoring/drift/"  # s3://<bucket>/scoring/drift/<transform job>/drift.json (the drift check's)


class RegistryError(Exception):
    """Something the page says in one sentence instead of showing the version or group."""


class NotFound(RegistryError):
    """A version the group does not hold (any more)."""


@dataclass(frozen=True)
class Version:
    number: int
    arn: str
    status: str  # ModelApprovalStatus: PendingManualApproval, Approved, Rejected
    created: datetime


def sentence(action: str, error: Exception) -> str:
    """One sentence for a failed AWS call: a refusal names the permission problem, anything else AWS's own words."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "") or code
        if code in _DENIED:
            return f"AWS refused {action} to these credentials: {message}"
        return f"{action} failed: {code}: {message}"
    return f"{action} failed: {error}"


def call(action: str, function, **arguments):
    """An AWS call whose failure becomes a RegistryError with one sentence."""
    try:
        return function(**arguments)
    except (ClientError, BotoCoreError) as error:
        raise RegistryError(sentence(action, error)) from None


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise RegistryError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


class Registry:
    """One model package group, read (and, when the page allows it, approved) with one set of credentials."""

    def __init__(self, group: str, session: boto3.Session | None = None, endpoint_url: str | None = None):
        session = session or boto3.Session()
        self.group = group
        self.region = session.region_name or "us-east-1"
        self.sagemaker = session.client("sagemaker", endpoint_url=endpoint_url, config=_CONFIG)
        self.s3 = session.client("s3", endpoint_url=endpoint_url, config=_CONFIG)
        self._cache: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    # Versions ------------------------------------------------------------------------------------------------------
    def versions(self) -> list[Version]:
        """Every version of the group, newest first, with its status as it is now."""
        call(
            f"DescribeModelPackageGroup {self.group!r} in {self.region}",
            self.sagemaker.describe_model_package_group,
            ModelPackageGroupName=self.group,
        )
        pages = self.sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=self.group, SortBy="CreationTime", SortOrder="Descending"
        )
        summaries = call("ListModelPackages", lambda: [s for page in pages for s in page["ModelPackageSummaryList"]])
        versions = [
            Version(s["ModelPackageVersion"], s["ModelPackageArn"], s["ModelApprovalStatus"], s["CreationTime"])
            for s in summaries
        ]
        return sorted(versions, key=lambda v: (v.created, v.number), reverse=True)

    def version(self, versions: list[Version], number: int) -> Version:
        for version in versions:
            if version.number == number:
                return version
        raise NotFound(f"version {number} is not in group {self.group!r} (it may have been deleted)")

    @staticmethod
    def champion(versions: list[Version]) -> Version | None:
        """The newest approved version: what later candidates are compared with (the TrainingData step) and what
        the schedule scores with (the scoring function), both ListModelPackages by CreationTime."""
        return next((v for v in versions if v.status == "Approved"), None)

    # Immutable parts, cached by ARN --------------------------------------------------------------------------------
    def _cached(self, kind: str, arn: str, read):
        with self._lock:
            if (kind, arn) in self._cache:
                return self._cache[(kind, arn)]
        value = read()
        with self._lock:
            self._cache[(kind, arn)] = value
        return value

    def package(self, version: Version, fresh: bool = False) -> dict:
        """DescribeModelPackage; `fresh` reads it again (the version view shows its approval description, which
        changes; the group view needs only the parts that do not)."""
        if fresh:
            with self._lock:
                self._cache.pop(("package", version.arn), None)
        return self._cached(
            "package",
            version.arn,
            lambda: call(
                f"DescribeModelPackage of version {version.number}",
                self.sagemaker.describe_model_package,
                ModelPackageName=version.arn,
            ),
        )

    def evaluation(self, version: Version) -> dict | None:
        """The version's evaluation.json (its ModelQuality statistics), or None when it has none."""
        uri = self.package(version).get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
        if not uri:
            return None
        return self._cached(
            "evaluation", version.arn, lambda: json.loads(self.read(uri, f"version {version.number}'s"))
        )

    def evaluations(self, versions: list[Version]) -> dict[str, dict | None | RegistryError]:
        """{ARN: evaluation, None, or the error reading it}, read in parallel: one unreadable version does not
        break the group view."""

        def one(version: Version):
            try:
                return self.evaluation(version)
            except (RegistryError, ValueError) as error:
                return error if isinstance(error, RegistryError) else RegistryError(f"evaluation.json: {error}")

        with ThreadPoolExecutor(_PARALLEL_READS) as pool:
            return dict(zip((v.arn for v in versions), pool.map(one, versions), strict=True))

    def read(self, uri: str, whose: str = "") -> bytes:
        bucket, key = split_uri(uri)
        answer = call(f"reading {whose} {uri}".replace("  ", " "), self.s3.get_object, Bucket=bucket, Key=key)
        return answer["Body"].read()

    def read_if_present(self, uri: str) -> bytes | None:
        bucket, key = split_uri(uri)
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error_code(error) in _ABSENT:
                return None
            raise RegistryError(sentence(f"reading {uri}", error)) from None

    # Training data -------------------------------------------------------------------------------------------------
    def manifest(self, version: Version) -> dict | None:
        """The training data manifest the version was trained on: {uri, prefix, files, execution}, or None when
        the version was not registered by a pipeline execution of this app."""
        return self._cached("manifest", version.arn, lambda: self._find_manifest(version))

    def _find_manifest(self, version: Version) -> dict | None:
        execution = self._execution_of(version)
        if execution is None:
            return None
        steps = call(
            "ListPipelineExecutionSteps",
            self.sagemaker.list_pipeline_execution_steps,
            PipelineExecutionArn=execution,
        )["PipelineExecutionSteps"]
        outputs = {
            parameter["Name"]: parameter["Value"]
            for step in steps
            for parameter in step.get("Metadata", {}).get("Lambda", {}).get("OutputParameters", [])
        }
        if "ManifestUri" not in outputs:
            return None
        entries = json.loads(self.read(outputs["ManifestUri"], "the training manifest"))
        prefix = entries[0].get("prefix", "") if entries and isinstance(entries[0], dict) else ""
        files = [entry for entry in entries if isinstance(entry, str)]
        return {"uri": outputs["ManifestUri"], "prefix": prefix, "files": files, "execution": execution}

    def _execution_of(self, version: Version) -> str | None:
        """The pipeline execution that registered the version: MetadataProperties.GeneratedBy when SageMaker set
        it, else the execution id in its evaluation's key (the pipeline writes under pipeline/<execution id>/)
        tried against each pipeline of the account."""
        package = self.package(version)
        generated_by = package.get("MetadataProperties", {}).get("GeneratedBy", "")
        if ":pipeline/" in generated_by and "/execution/" in generated_by:
            return generated_by
        uri = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri", "")
        found = re.search(r"/pipeline/([a-z0-9]+)/", uri)
        if not found:
            return None
        pipelines = call("ListPipelines", self.sagemaker.list_pipelines, MaxResults=100)["PipelineSummaries"]
        for pipeline in pipelines:
            arn = f"{pipeline['PipelineArn']}/execution/{found.group(1)}"
            try:
                self.sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
            except ClientError:
                continue
            return arn
        return None

    # Scoring runs --------------------------------------------------------------------------------------------------
    def scoring_runs(self, version: Version) -> list[dict]:
        """The version's transform jobs, newest first: the scoring function names them <prefix>-v<version>-<digest>
        and tags each with its model package's ARN, which tells this group's from another group's version N."""
        pages = self.sagemaker.get_paginator("list_transform_jobs").paginate(
            NameContains=f"-v{version.number}-", SortBy="CreationTime", SortOrder="Descending"
        )
        summaries = call("ListTransformJobs", lambda: [s for page in pages for s in page["TransformJobSummaries"]])
        return [self._run(summary) for summary in summaries if self._scored_by(summary, version)]

    def _scored_by(self, summary: dict, version: Version) -> bool:
        tags = call("ListTags", self.sagemaker.list_tags, ResourceArn=summary["TransformJobArn"])["Tags"]
        return any(tag["Key"] == "scoreline:model-package-arn" and tag["Value"] == version.arn for tag in tags)

    def _run(self, summary: dict) -> dict:
        name = summary["TransformJobName"]
        job = call(f"DescribeTransformJob {name}", self.sagemaker.describe_transform_job, TransformJobName=name)
        output = job.get("TransformOutput", {}).get("S3OutputPath", "")
        run = {"name": name, "status": job["TransformJobStatus"], "created": job["CreationTime"], "output": output}
        run["failure"] = job.get("FailureReason", "")
        run["input"] = job.get("TransformInput", {}).get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", "")
        run["drift"] = self._drift(output, name) if output else None
        run["rows"] = self._rows(run) if job["TransformJobStatus"] == "Completed" else None
        return run

    def _drift(self, output: str, job_name: str) -> dict | None:
        """drift.json of the job's drift check, when one ran (s3://<bucket>/scoring/drift/<job>/drift.json)."""
        bucket, _ = split_uri(output)
        try:
            body = self.read_if_present(f"s3://{bucket}/{DRIFT_PREFIX}{job_name}/drift.json")
        except RegistryError as error:
            return {"error": str(error)}
        return json.loads(body) if body else None

    def _rows(self, run: dict) -> int | str:
        """Rows scored: the drift check counted them if it ran; else the output's lines, if small enough to read."""
        if run["drift"] and isinstance(run["drift"].get("rows"), int):
            return run["drift"]["rows"]
        bucket, prefix = split_uri(run["output"])
        listing = call("ListObjectsV2", self.s3.list_objects_v2, Bucket=bucket, Prefix=prefix).get("Contents", [])
        size = sum(item["Size"] for item in listing)
        if size > _MAX_COUNTED_BYTES:
            return f"{size / 1e6:,.0f} MB of output"
        return sum(self.read(f"s3://{bucket}/{item['Key']}").count(b"\n") for item in listing)

    # The one change the page makes ---------------------------------------------------------------------------------
    def set_status(self, version: Version, status: str, description: str) -> None:
        arguments = {"ModelPackageArn": version.arn, "ModelApprovalStatus": status}
        if description:
            arguments["ApprovalDescription"] = description
        call(f"UpdateModelPackage of version {version.number}", self.sagemaker.update_model_package, **arguments)
