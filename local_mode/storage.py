"""S3 transfers the way SageMaker's containers see them: prefixes copied to local folders and back. Each takes the
S3 client of the principal it acts for (a job's role); without one, the administrator's default client."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import boto3


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def keys_under(uri: str, s3=None) -> list[str]:
    """Object keys under an S3 prefix (S3Prefix semantics: a plain string prefix), in key order."""
    bucket, prefix = split_uri(uri)
    paginator = (s3 or boto3.client("s3")).get_paginator("list_objects_v2")
    keys = []
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/")]
    return sorted(keys)


def download_prefix(uri: str, destination: Path, s3=None) -> list[Path]:
    """Copy every object under `uri` into `destination`, keeping the part of the key after the prefix."""
    bucket, prefix = split_uri(uri)
    s3 = s3 or boto3.client("s3")
    files = []
    for key in keys_under(uri, s3):
        relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as file:  # GetObject, not download_file's HEAD: a refusal then names the object
            for chunk in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(1 << 20):
                file.write(chunk)
        files.append(target)
    destination.mkdir(parents=True, exist_ok=True)
    return files


def upload_folder(folder: Path, uri: str, s3=None) -> None:
    bucket, prefix = split_uri(uri)
    s3 = s3 or boto3.client("s3")
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            key = "/".join(part for part in (prefix.rstrip("/"), path.relative_to(folder).as_posix()) if part)
            s3.upload_file(str(path), bucket, key)


def read_object(uri: str, s3=None) -> bytes:
    bucket, key = split_uri(uri)
    return (s3 or boto3.client("s3")).get_object(Bucket=bucket, Key=key)["Body"].read()


def write_object(uri: str, body: bytes, s3=None) -> None:
    bucket, key = split_uri(uri)
    (s3 or boto3.client("s3")).put_object(Bucket=bucket, Key=key, Body=body)


def extract_tarball(data: bytes, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        archive.extractall(destination, filter="data")
