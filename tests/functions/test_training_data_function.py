"""The pipeline's TrainingData function against moto: the manifest names the data by its content (same objects ->
same key, a changed object -> a new key), in SageMaker's manifest format; the champion is the newest approved
version; bad input is one sentence."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.functions.conftest import BUCKET, GROUP, REGION, load_function, two_containers

INPUT = f"s3://{BUCKET}/training/input/"
EVENT = {"InputDataUri": INPUT, "ManifestPrefix": f"s3://{BUCKET}/training/manifests/", "ModelPackageGroupName": GROUP}


@pytest.fixture(scope="module")
def function():
    return load_function("training_data", "training_data_app")


@pytest.fixture
def registry(aws):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    return sagemaker


def put(key: str, body: bytes) -> None:
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=body)


def register(sagemaker, version: int, status: str) -> str:
    return sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": two_containers(version),
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


def test_the_manifest_key_follows_the_content(function, registry):
    put("training/input/a.csv", b"x,y\n1,2\n")
    put("training/input/more/b.csv", b"x,y\n3,4\n")
    first = function.handler(EVENT, None)
    assert function.handler(EVENT, None)["ManifestUri"] == first["ManifestUri"]  # same data: same key
    manifest = json.loads(
        boto3.client("s3").get_object(Bucket=BUCKET, Key=first["ManifestUri"].split("/", 3)[3])["Body"].read()
    )
    assert manifest == [{"prefix": INPUT}, "a.csv", "more/b.csv"]
    assert first["ObjectCount"] == "2"
    put("training/input/a.csv", b"x,y\n1,5\n")  # same key, new content: a new ETag
    assert function.handler(EVENT, None)["ManifestUri"] != first["ManifestUri"]


def test_the_champion_is_the_newest_approved_version(function, registry):
    put("training/input/a.csv", b"x,y\n1,2\n")
    assert function.handler(EVENT, None)["ChampionModelUri"] == "none"
    approved = register(registry, 1, "Approved")
    register(registry, 2, "PendingManualApproval")
    result = function.handler(EVENT, None)
    assert result["ChampionArn"] == approved
    assert [result["ChampionFeaturesModelUri"], result["ChampionModelUri"]] == [
        container["ModelDataUrl"] for container in two_containers(1)
    ]
    newer = register(registry, 3, "Approved")
    assert function.handler(EVENT, None)["ChampionArn"] == newer


def test_an_empty_input_prefix_is_one_sentence(function, registry):
    with pytest.raises(function.InputError, match=r"^InputDataUri s3://.* has no objects: upload"):
        function.handler(EVENT, None)
    with pytest.raises(function.InputError, match="InputDataUri must be an s3://bucket/prefix/ URI"):
        function.handler({**EVENT, "InputDataUri": "training/input/"}, None)
