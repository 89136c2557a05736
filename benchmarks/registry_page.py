"""The registry page on a group of 100 versions: seconds to answer the group view the first time (one ListModelPackages
walk, then each version's DescribeModelPackage and evaluation.json, read several at once) and again (those are
cached: only the list is read), and a version view, through moto's server on 127.0.0.1 with an evaluation.json of
the size Evaluate writes for each version. Medians of `repeats` requests; the first view is measured on a fresh
page each time."""

from __future__ import annotations

import json
import logging
import os
import socket
import statistics
import time
import urllib.request
from contextlib import contextmanager
from unittest import mock

import boto3
from moto.server import ThreadedMotoServer

from registry.aws import Registry
from registry.server import RegistryPage

GROUP = "scoreline-models"
BUCKET = "registry-benchmark"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-py312-cpu-py3"


def measure(versions: int = 100, repeats: int = 5) -> dict:
    with _moto() as endpoint:
        session = boto3.Session(region_name="us-east-1")
        _register(session, endpoint, versions)
        first, again, version_view = [], [], []
        for _ in range(repeats):
            page = RegistryPage(Registry(GROUP, session, endpoint_url=endpoint)).start()
            try:
                first.append(_seconds(page.url))
                again.append(_seconds(page.url))
                version_view.append(_seconds(f"{page.url.rstrip('/')}/versions/{versions // 2}"))
            finally:
                page.stop()
    return {
        "versions": versions,
        "repeats": repeats,
        "group_view_first_seconds": round(statistics.median(first), 3),
        "group_view_again_seconds": round(statistics.median(again), 3),
        "version_view_seconds": round(statistics.median(version_view), 3),
    }


@contextmanager
def _moto():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
    try:
        with mock.patch.dict(os.environ, credentials):
            yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _register(session: boto3.Session, endpoint: str, versions: int) -> None:
    sagemaker = session.client("sagemaker", endpoint_url=endpoint)
    s3 = session.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    for number in range(1, versions + 1):
        key = f"pipeline/run{number}/evaluation/evaluation.json"
        s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(_evaluation(number)).encode())
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="Approved" if number % 10 == 0 else "PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/pipeline/run{number}/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelMetrics={
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/{key}"}}
            },
        )


def _evaluation(number: int) -> dict:
    """An evaluation.json shaped as Evaluate writes one for regression (metrics with their noise, baselines, gate,
    300 plotted pairs)."""
    rmse = 0.44 + number / 10_000

    def metric(value: float) -> dict:
        return {"value": value, "standard_deviation": 0.007, "interval": [value - 0.014, value + 0.014]}

    return {
        "regression_metrics": {"rmse": metric(rmse), "mae": metric(0.29), "r2": metric(0.85)},
        "row_count": 3096,
        "baseline_metrics": {
            "training_mean": {"rmse": metric(1.15)},
            "linear": {"rmse": metric(0.73)},
        },
        "problem_type": "regression",
        "classes": [],
        "champion_metrics": {"model_package_arn": "none"},
        "gate": {"metric": "rmse", "candidate_score": -rmse, "passed": True, "verdict": "passed"},
        "plots": {"actual_predicted": [[1.0 + i / 100, 1.0 + i / 110] for i in range(300)]},
    }


def _seconds(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read()
        assert response.status == 200, url
    return time.perf_counter() - start


def table_rows(figures: dict) -> list[tuple[str, str, str]]:
    if not figures:
        return []
    label = f"registry page, group of {figures['versions']} versions"
    return [
        (f"{label}: group view, first (s)", f"{figures['group_view_first_seconds']:.3f}", ""),
        (f"{label}: group view, again (s)", f"{figures['group_view_again_seconds']:.3f}", ""),
        (f"{label}: a version view (s)", f"{figures['version_view_seconds']:.3f}", ""),
    ]
