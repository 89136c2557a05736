"""The default app synthesized once per worker, and a local cloud with it deployed and its training data in place."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest

from demo.data import california_housing
from demo.synth import synthesize
from local_mode import storage
from local_mode.cloud import LocalCloud

TERMINAL = {"Succeeded", "Failed", "Stopped", "Completed"}


@pytest.fixture(scope="session")
def housing():
    return california_housing()


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory):
    """The default app's cloud assembly, synthesized the way local mode does it."""
    out_dir = tmp_path_factory.mktemp("local-cloud") / "cdk.out"
    synthesize(out_dir, {})
    return out_dir


@contextmanager
def local_cloud(home: Path) -> Iterator[LocalCloud]:
    """A local cloud, with this process's AWS clients pointed at it until it stops (the cloud itself changes no
    environment variable: the tests' boto3 clients find it through these)."""
    with LocalCloud(home) as cloud, pytest.MonkeyPatch.context() as environment:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            environment.delenv(name, raising=False)
        for name, value in cloud.environment().items():
            environment.setenv(name, value)
        yield cloud


@pytest.fixture(scope="module")
def cloud(cloud_assembly, housing):
    """Module-scoped: the local cloud, with this process's AWS clients pointed at it until it stops."""
    with local_cloud(cloud_assembly.parent / "cloud") as cloud:
        deployment = cloud.deploy(cloud_assembly)
        bucket = deployment.bucket_for("DataBucket")
        storage.write_object(f"s3://{bucket}/training/input/data.csv", housing.to_csv(index=False).encode())
        yield cloud


def wait_for(condition, timeout: float = 120, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s")


def until_finished(describe, status: str, timeout: float) -> dict:
    """A Describe* call made again until its `status` is terminal; its last answer."""

    def finished():
        answer = describe()
        return answer if answer[status] in TERMINAL else None

    return wait_for(finished, timeout)


def run_pipeline(cloud: LocalCloud, **parameters) -> dict:
    """Start the deployed pipeline and wait for it to finish; returns DescribePipelineExecution."""
    sagemaker = boto3.client("sagemaker")
    overrides = [{"Name": name, "Value": str(value)} for name, value in parameters.items()]
    arn = sagemaker.start_pipeline_execution(PipelineName=cloud.deployment.pipelines[0], PipelineParameters=overrides)[
        "PipelineExecutionArn"
    ]
    describe = functools.partial(sagemaker.describe_pipeline_execution, PipelineExecutionArn=arn)
    return until_finished(describe, "PipelineExecutionStatus", timeout=300)


def registered_version(execution: dict) -> str:
    steps = boto3.client("sagemaker").list_pipeline_execution_steps(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineExecutionSteps"]
    return next(step["Metadata"]["RegisterModel"]["Arn"] for step in steps if "RegisterModel" in step["Metadata"])


def steps_of(execution: dict) -> dict[str, dict]:
    """An execution's steps by name (ListPipelineExecutionSteps)."""
    steps = boto3.client("sagemaker").list_pipeline_execution_steps(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineExecutionSteps"]
    return {step["StepName"]: step for step in steps}


def model_artifact(version_arn: str) -> str:
    """The registered version's model container artifact (the second container, after the features)."""
    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=version_arn)
    return package["InferenceSpecification"]["Containers"][-1]["ModelDataUrl"]


def alert_subscriber(queue_name: str) -> str:
    """A plain queue subscribed to the alert topic, its URL: what reaches the topic arrives there."""
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":scoreline-alerts"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return url


def job_role() -> str:
    """The deployed job role: models and transform jobs run with it."""
    return next(r["Arn"] for r in boto3.client("iam").list_roles()["Roles"] if "jobrole" in r["RoleName"])


def run_transform_job(name: str, containers: list[dict], root: str, **job) -> dict:
    """A network-isolated model of `containers` with the deployed job role, and a transform job over `root`/input/
    (CSV split by line, written to `root`/output/`name`/) with `job`'s other fields; returns DescribeTransformJob once
    it has finished."""
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(
        ModelName=name, ExecutionRoleArn=job_role(), Containers=containers, EnableNetworkIsolation=True
    )
    assert sagemaker.describe_model(ModelName=name)["EnableNetworkIsolation"] is True
    sagemaker.create_transform_job(
        TransformJobName=name,
        ModelName=name,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{root}/input/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"{root}/output/{name}/", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
        **job,
    )
    describe = functools.partial(sagemaker.describe_transform_job, TransformJobName=name)
    return until_finished(describe, "TransformJobStatus", timeout=60)
