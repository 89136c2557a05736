"""The pipeline's first step (a SageMaker Pipelines Lambda step): name the training data by its content and find
the champion.

Step caching keys a processing step on its request (AppSpecification, Environment, ProcessingInputs: "Default cache
key attributes by pipeline step type"), not on the objects under an S3 prefix. This function lists the objects
under InputDataUri (keys and ETags), writes a SageMaker manifest of them to a key named by the listing's SHA-256
and returns that key's URI for Preprocess (S3DataType=ManifestFile). Same objects -> same URI -> cache hit; a new,
changed or removed object -> a new URI -> Preprocess, Train and Evaluate run again.

It also returns the newest Approved version of the model package group (the champion) and its two containers'
artifacts, or "none", for Evaluate to measure on the same test rows. A Lambda step is never cached, so both are
read on every execution.
"""

from __future__ import annotations

import hashlib
import json

import boto3
import model_registry  # shared with the scoring and serving functions (functions/common)

NONE = "none"  # Lambda step outputs are strings; Evaluate reads "none" as "no champion"


class InputError(ValueError):
    """Bad input: the step fails with this one sentence."""


def handler(event, _context):
    input_uri = event["InputDataUri"]
    manifest_prefix = event["ManifestPrefix"]
    bucket, prefix = _split(input_uri, "InputDataUri")
    manifest_bucket, manifest_key_prefix = _split(manifest_prefix, "ManifestPrefix")
    listing = _listing(bucket, prefix)
    if not listing:
        raise InputError(f"InputDataUri {input_uri} has no objects: upload the training CSV files there first")
    manifest = [{"prefix": f"s3://{bucket}/{prefix}"}, *(key[len(prefix) :] for key, _ in listing)]
    digest = hashlib.sha256(json.dumps([f"s3://{bucket}/{prefix}", listing]).encode()).hexdigest()
    manifest_key = f"{manifest_key_prefix}{digest}.json"
    # A manifest is a JSON array: {"prefix": ...} then keys relative to it (API reference, S3DataSource/S3Uri).
    boto3.client("s3").put_object(
        Bucket=manifest_bucket, Key=manifest_key, Body=json.dumps(manifest).encode(), ContentType="application/json"
    )
    return {
        "ManifestUri": f"s3://{manifest_bucket}/{manifest_key}",
        "ObjectCount": str(len(listing)),
        **champion(event["ModelPackageGroupName"]),
    }


def _split(uri: str, name: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise InputError(f"{name} must be an s3://bucket/prefix/ URI (got {uri!r})")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix


def _listing(bucket: str, prefix: str) -> list[tuple[str, str]]:
    """[(key, ETag)] of the objects under the prefix, in key order; folder markers left out."""
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    items = [(item["Key"], item["ETag"]) for page in pages for item in page.get("Contents", [])]
    return sorted(item for item in items if not item[0].endswith("/"))


def champion(group: str) -> dict[str, str]:
    """The newest Approved version of `group` and its features and model artifacts, or "none" for each."""
    package = model_registry.newest_approved(boto3.client("sagemaker"), group)
    if package is None:
        return {"ChampionArn": NONE, "ChampionFeaturesModelUri": NONE, "ChampionModelUri": NONE}
    containers = package["InferenceSpecification"]["Containers"]
    # Registered in serving order: the features container, then the model container.
    return {
        "ChampionArn": package["ModelPackageArn"],
        "ChampionFeaturesModelUri": containers[0]["ModelDataUrl"],
        "ChampionModelUri": containers[-1]["ModelDataUrl"],
    }
