"""Real-time serving: requests per second and p50/p99 latency of the local endpoint through the local predictions
API (HTTP on 127.0.0.1, each request SigV4-signed by the client as a caller signs it, checked by the API, then both
containers' handlers), for 1-row and 100-row CSV requests, against the limit: the same two containers' handlers
called directly in one process (input_fn, predict_fn, output_fn of each, npy hand-off), no HTTP and no signing.

One client sends requests one after another (latency, not concurrency), alternating between the API and the limit
in rounds so the machine's noise falls on both; requests per second is 1 / mean latency.

Each flavour is measured in a child process with one OpenMP and BLAS thread (OMP_NUM_THREADS=1), on both sides:
with the default 2-thread team (HistGradientBoosting, PyTorch and XGBoost predict), the team's barrier waited for a
descheduled worker on the loaded shared 2-core machine (the same 1-row call took 65-200 ms on one thread of a
process and 3-5 ms on another or with one OpenMP thread), which measures the machine's load, not the chain."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends

from benchmarks.artifacts import CODE, REPO_ROOT, TARGET, Artifacts, housing
from benchmarks.throughput import _module
from local_mode import storage
from local_mode.apigateway.auth import ApiAuthorizer, signed_post
from local_mode.apigateway.predictions import PredictionsApi
from local_mode.iam.evaluator import Roles
from local_mode.moto_patches import install as install_moto_patches
from local_mode.sagemaker.endpoints import LocalEndpoints
from scoreline.tarballs import deterministic_tarball

ACCOUNT, REGION, ENDPOINT, BUCKET = "123456789012", "us-east-1", "scoreline-realtime", "scoreline-bench"
# The serving stack's success response (2xx: the body and its Content-Type passed through), without synthesizing the
# app: every request measured here succeeds, and the error responses' templates never run.
SUCCESS_ONLY_INTEGRATION = {
    "IntegrationResponses": [
        {
            "SelectionPattern": "2\\d{2}",
            "StatusCode": "200",
            "ResponseParameters": {"method.response.header.Content-Type": "integration.response.header.Content-Type"},
        }
    ]
}
ROWS_PER_REQUEST = (1, 100)
# Only the repository part matters locally (local_mode/images.py maps it to this machine's Python).
IMAGES = {
    "features": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
    "sklearn": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
    "pytorch": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.5-cpu-py311",
    "xgboost": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5",
}


def request_bodies() -> dict[int, bytes]:
    """California housing feature rows as CSV requests of 1 and 100 rows."""
    lines = housing().drop(columns=[TARGET]).head(max(ROWS_PER_REQUEST)).to_csv(index=False, header=False)
    rows = lines.encode().splitlines(keepends=True)
    return {count: b"".join(rows[:count]) for count in ROWS_PER_REQUEST}


def measure(artifacts: Artifacts, requests: int = 300) -> dict:
    """{"1_row": {...}, "100_rows": {...}}: rps, p50 and p99 ms through the API and for the limit, and the ratio;
    measured in a child process with one OpenMP/BLAS thread (see the module's docstring)."""
    one_thread = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    command = [sys.executable, "-m", "benchmarks.realtime", artifacts.flavour]
    command += [str(artifacts.features_dir), str(artifacts.model_dir), str(requests)]
    child = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, **one_thread}, capture_output=True, text=True)
    if child.returncode != 0:
        raise RuntimeError(f"the real-time benchmark of {artifacts.flavour} failed: {child.stderr.strip()[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def _measure_here(artifacts: Artifacts, requests: int) -> dict:
    limit = _direct_handlers(artifacts)
    bodies = request_bodies()
    with tempfile.TemporaryDirectory() as work, _served(artifacts, Path(work)) as api:
        results = {}
        for count, body in bodies.items():
            through_api, direct = _alternate(lambda b=body: _signed_post(api.url, b), lambda b=body: limit(b), requests)
            results["1_row" if count == 1 else f"{count}_rows"] = {
                "api": _figures(through_api),
                "limit": _figures(direct),
                "api_over_limit_rps": round(_rps(through_api) / _rps(direct), 3),
            }
    return {"flavour": artifacts.flavour, "requests": requests, **results}


def _alternate(first, second, requests: int) -> tuple[list[float], list[float]]:
    """Per-request seconds of each, in rounds of 10 requests each, after 5 warm-up requests each."""
    for _ in range(5):
        first(), second()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(0, requests, 10):
        for action, bucket in ((first, samples[0]), (second, samples[1])):
            for _ in range(10):
                started = time.perf_counter()
                action()
                bucket.append(time.perf_counter() - started)
    return samples


def _rps(seconds: list[float]) -> float:
    return 1 / statistics.fmean(seconds)


def _figures(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {
        "requests_per_s": round(_rps(seconds), 1),
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))], 2),
    }


def _direct_handlers(artifacts: Artifacts):
    """The two containers' handlers in this process, as the serving toolkit chains them: the limit."""
    features = _module(CODE / "features" / "inference.py", "realtime_bench_features")
    model_code = _module(CODE / f"{artifacts.flavour}_model" / "inference.py", f"realtime_bench_{artifacts.flavour}")
    transformer = features.model_fn(str(artifacts.features_dir))
    model = model_code.model_fn(str(artifacts.model_dir))

    def predict(body: bytes) -> bytes:
        matrix, content_type = features.output_fn(
            features.predict_fn(features.input_fn(body, "text/csv"), transformer), "application/x-npy"
        )
        predictions = model_code.predict_fn(model_code.input_fn(matrix, content_type), model)
        return model_code.output_fn(predictions, "text/csv")[0]

    return predict


class _served:
    """The artifacts as an endpoint (moto in this process, the local endpoint's loader) behind the predictions API."""

    def __init__(self, artifacts: Artifacts, work: Path):
        self._artifacts, self._work, self._mock, self._api = artifacts, work, mock_aws(), None

    def __enter__(self) -> PredictionsApi:
        # moto answers only requests to AWS's own endpoints: a shell's AWS_ENDPOINT_URL (make serve) must not apply.
        self._saved = {name: os.environ.pop(name) for name in list(os.environ) if name.startswith("AWS_ENDPOINT_URL")}
        self._saved["AWS_DEFAULT_REGION"] = os.environ.get("AWS_DEFAULT_REGION")
        os.environ["AWS_DEFAULT_REGION"] = REGION  # the clients the local endpoint creates
        install_moto_patches()
        self._mock.start()
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        containers = []
        for kind, folder in (
            ("features", self._artifacts.features_dir),
            (self._artifacts.flavour, self._artifacts.model_dir),
        ):
            uri = f"s3://{BUCKET}/{kind}/model.tar.gz"
            storage.write_object(uri, deterministic_tarball(folder))
            environment = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
            containers.append({"Image": IMAGES[kind], "ModelDataUrl": uri, "Environment": environment})
        sagemaker.create_model(
            ModelName="bench",
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/job",
            Containers=containers,
            InferenceExecutionConfig={"Mode": "Serial"},
            EnableNetworkIsolation=True,
        )
        variant = {"VariantName": "AllTraffic", "ModelName": "bench", "InstanceType": "ml.m5.large"}
        sagemaker.create_endpoint_config(
            EndpointConfigName="bench", ProductionVariants=[{**variant, "InitialInstanceCount": 1}]
        )
        sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="bench")
        endpoints = LocalEndpoints(self._work / "endpoints", sagemaker, sagemaker_backends[ACCOUNT][REGION])
        endpoints.deployed(ENDPOINT)
        authorizer = ApiAuthorizer(Roles(ACCOUNT), REGION, ACCOUNT, "bench", "v1", {("POST", "/predictions")})
        self._api = PredictionsApi(endpoints, ENDPOINT, authorizer, SUCCESS_ONLY_INTEGRATION).start()
        return self._api

    def __exit__(self, *exc) -> None:
        if self._api:
            self._api.stop()
        self._mock.stop()
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _signed_post(url: str, body: bytes) -> str:
    status, answer = signed_post(url, body, REGION, timeout=30)
    if status != 200:
        raise RuntimeError(f"the predictions API answered {status}: {answer[:200]!r}")
    return answer


def table_rows(results: dict) -> list[tuple[str, str, str]]:
    rows = []
    for flavour, figures in results.items():
        if "1_row" not in figures:  # "machine"
            continue
        for size in ("1_row", "100_rows"):
            api, limit = figures[size]["api"], figures[size]["limit"]
            label = size.replace("_", " ")
            rows += [
                (
                    f"real-time {flavour}, {label}: API req/s (p50 / p99 ms)",
                    f"{api['requests_per_s']:,} ({api['p50_ms']} / {api['p99_ms']})",
                    "",
                ),
                (
                    "  limit: handlers in one process",
                    f"{limit['requests_per_s']:,} ({limit['p50_ms']} / {limit['p99_ms']})",
                    "",
                ),
                ("  API / limit (req/s)", f"{figures[size]['api_over_limit_rps']:.3f}", ""),
            ]
    return rows


if __name__ == "__main__":  # the child process of measure(): flavour, features dir, model dir, requests
    flavour, features_dir, model_dir, count = sys.argv[1:]
    measured = _measure_here(Artifacts(flavour, Path(features_dir), Path(model_dir), Path(), 0.0), int(count))
    print(json.dumps(measured))
