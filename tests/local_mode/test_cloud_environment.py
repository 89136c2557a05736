"""The local cloud changes nothing in the process that embeds it: no AWS_* variable is set or removed by start() or
stop(); the embedding program reaches it through `cloud.client(...)` or by choosing `cloud.environment()` itself."""

from __future__ import annotations

import os

import boto3

from local_mode.cloud import LocalCloud


def test_start_and_stop_leave_the_environment_as_it_was_and_clients_reach_the_cloud(tmp_path):
    before = dict(os.environ)

    with LocalCloud(tmp_path / "cloud") as cloud:
        during = dict(os.environ)
        cloud.client("s3").create_bucket(Bucket="embedded")
        buckets = [bucket["Name"] for bucket in cloud.client("s3").list_buckets()["Buckets"]]
        environment = cloud.environment()
        pointed = boto3.client(
            "s3",
            endpoint_url=environment["AWS_ENDPOINT_URL"],
            region_name=environment["AWS_REGION"],
            aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        )
        seen_with_the_environment = [bucket["Name"] for bucket in pointed.list_buckets()["Buckets"]]

    assert during == before and dict(os.environ) == before
    assert buckets == seen_with_the_environment == ["embedded"]
    assert environment["AWS_ENDPOINT_URL"] == cloud.endpoint.rstrip("/")
