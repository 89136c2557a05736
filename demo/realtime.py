"""The demo's --realtime ending: row 1 through the predictions API beside its batch prediction."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd
from botocore.exceptions import ClientError

from demo.errors import DemoFailed
from local_mode.apigateway.auth import signed_post
from local_mode.apigateway.predictions import PredictionsApi
from local_mode.cloud import LocalCloud
from scoreline.names import SERVING


def realtime_beside_batch(
    cloud: LocalCloud, cdk_out: Path, version: int, features: pd.DataFrame, batch_line: list[str], say
) -> dict[str, str]:
    """The first scored row through the predictions API (signed as a caller signs, as the local administrator),
    beside its batch prediction: both are the model container's output_fn text for the same row and the same
    version (%.17g for regression, %.6f for probabilities), compared by same_prediction."""
    _wait_for_endpoint(cloud, version)
    row = features.head(1).to_csv(index=False, header=False)
    api = PredictionsApi.for_cloud(cloud, cdk_out).start()
    try:
        status, answer = signed_post(api.url, row.encode(), cloud.region)
    finally:
        api.stop()
    if status != 200:
        raise DemoFailed(f"the predictions API answered {status} for row 1: {answer.strip()}")
    compared = same_prediction(row, answer, batch_line, features.shape[1], version)
    realtime, batch = compared["realtime"], compared["batch"]
    say(f"  row 1 ({compared['row']}): real-time {realtime}, batch {batch} ({compared['match']})")
    return {**compared, "url": api.url}


def same_prediction(row: str, answer: str, batch_line: list[str], feature_count: int, version: int) -> dict[str, str]:
    """Row 1's real-time answer and its batch output line (the input row, then the prediction fields): the same
    fields, labels as text and numbers within float32 rounding (FLOAT32_TOLERANCE); DemoFailed with one sentence
    when they differ. "match" says which: "identical" text or "within float32 rounding"."""
    realtime = answer.strip()
    batch = ",".join(batch_line[feature_count:])
    if realtime != batch and not _within_float32_rounding(realtime.split(","), batch_line[feature_count:]):
        raise DemoFailed(
            f"the real-time prediction {realtime!r} differs from the batch prediction {batch!r} for row 1 "
            f"({row.strip()}) of version {version}"
        )
    match = "identical" if realtime == batch else "within float32 rounding"
    return {"row": row.strip(), "realtime": realtime, "batch": batch, "match": match}


# PyTorch predicts in float32, and a 1-row request and the transform's 1,000-row batch take different matrix-multiply
# paths, so the last float32 bit can differ, and the regression value's %.17g shows it (pytorch demo:
# 2.488022021422772 real-time, 2.4880222621327812 batch, 1e-7 apart). Numbers may differ by float32 rounding
# (relative 1e-6, a few float32 steps) or by the last digit of a %.6f probability; labels must be the same text.
FLOAT32_TOLERANCE = {"rel_tol": 1e-6, "abs_tol": 1.01e-6}


def _within_float32_rounding(realtime: list[str], batch: list[str]) -> bool:
    if len(realtime) != len(batch):
        return False
    for ours, theirs in zip(realtime, batch, strict=True):
        try:
            if not math.isclose(float(ours), float(theirs), **FLOAT32_TOLERANCE):
                return False
        except ValueError:  # a label
            if ours != theirs:
                return False
    return True


def _wait_for_endpoint(cloud: LocalCloud, version: int, timeout: float = 120) -> None:
    """Until the serving function's endpoint serves `version` (its configuration is named <prefix>-v<version>-...)."""
    sagemaker = cloud.client("sagemaker")
    name = cloud.real_time_endpoint_name()
    variable = SERVING["name_prefix"]
    prefix = cloud.deployment.environment_of_function_setting(variable)[variable]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=name)
        except ClientError:  # the serving function has not created it yet
            endpoint = {"EndpointStatus": "Creating", "EndpointConfigName": ""}
        if endpoint["EndpointStatus"] == "Failed":
            raise DemoFailed(f"endpoint {name} failed: {endpoint.get('FailureReason', 'no reason given')}")
        serving = endpoint["EndpointConfigName"].startswith(f"{prefix}-v{version}-")
        if endpoint["EndpointStatus"] == "InService" and serving:
            return
        time.sleep(0.1)
    raise DemoFailed(
        f"endpoint {name} did not serve version {version} within {timeout:.0f} s: see the serving function's log "
        f"under {cloud.home / 'logs'}"
    )
