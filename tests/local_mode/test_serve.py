"""`python -m local_mode serve`: the deployed app answers standard AWS clients on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from tests.conftest import REPO_ROOT


def aws_cli(endpoint: str, *arguments: str) -> str:
    """The real AWS CLI (pinned in requirements-dev.txt) against the local cloud."""
    process = subprocess.run(
        [str(Path(sys.executable).parent / "aws"), "--endpoint-url", endpoint, "--output", "json", *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"},
    )
    assert process.returncode == 0, process.stderr
    return process.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_serve_deploys_the_assembly_runs_the_pipeline_and_fires_schedules_on_demand(cloud_assembly, housing, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local_mode",
            "serve",
            "--port",
            str(port),
            "--cdk-out",
            str(cloud_assembly),
            "--no-synth",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = server.stdout.readline()
        assert banner.startswith(f"local cloud on http://127.0.0.1:{port}"), banner
        endpoint = f"http://127.0.0.1:{port}"
        listed = aws_cli(endpoint, "sagemaker", "list-pipelines", "--query", "PipelineSummaries[].PipelineName")
        assert json.loads(listed) == ["scoreline-training"]
        sagemaker = boto3.client("sagemaker", endpoint_url=endpoint)
        # The README's session: upload training data and start the pipeline with the AWS CLI.
        bucket = next(
            b["Name"]
            for b in boto3.client("s3", endpoint_url=endpoint).list_buckets()["Buckets"]
            if "databucket" in b["Name"]
        )
        housing.to_csv(tmp_path / "housing.csv", index=False)
        aws_cli(endpoint, "s3", "cp", str(tmp_path / "housing.csv"), f"s3://{bucket}/training/input/housing.csv")
        execution = json.loads(
            aws_cli(endpoint, "sagemaker", "start-pipeline-execution", "--pipeline-name", "scoreline-training")
        )["PipelineExecutionArn"]
        deadline = time.monotonic() + 300
        status = "Executing"
        while status == "Executing" and time.monotonic() < deadline:
            time.sleep(0.5)
            status = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution)["PipelineExecutionStatus"]
        assert status == "Succeeded", sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution)
        fired = subprocess.run(
            [sys.executable, "-m", "local_mode", "fire-schedule", "scoreline-scoring", "--port", str(port)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        )
        assert fired.stdout.strip() == "schedule scoreline-scoring fired"
        unknown = subprocess.run(
            [sys.executable, "-m", "local_mode", "fire-schedule", "nightly", "--port", str(port)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        )
        assert (unknown.returncode, unknown.stderr) == (
            1,
            "local mode: no schedule nightly; deployed: scoreline-scoring\n",
        )
        # Nothing is approved yet: the scoring function raises an alert instead of starting a job.
        log = tmp_path / ".scoreline" / "serve" / "logs" / "functions"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(log.glob("*.log")):
            time.sleep(0.1)
        assert any(log.glob("*.log"))
        assert sagemaker.list_transform_jobs()["TransformJobSummaries"] == []
    finally:
        server.terminate()
        server.wait(timeout=30)
