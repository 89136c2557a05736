"""The drift check's line in the demo: the report the local cloud's drift check wrote for the scoring job the demo
ran (functions/drift_check, container_code/drift/check.py), in one line."""

from __future__ import annotations

import json
import time

from demo.errors import DemoFailed
from local_mode import storage
from local_mode.cloud import LocalCloud
from scoreline.names import DRIFT_CHECK


def drift_line(cloud: LocalCloud, output_uri: str, s3, timeout: float = 120) -> str:
    """`drift: ...` for the transform job whose output is `output_uri` (.../<job name>/), once drift.json is there;
    "" when the app was deployed with drift_check=false."""
    variable = DRIFT_CHECK["drift_uri"]
    functions = [f for f in cloud.deployment.functions.values() if variable in f.environment]
    if not functions:
        return ""
    job_name = output_uri.rstrip("/").rsplit("/", 1)[-1]
    uri = f"{functions[0].environment[variable]}{job_name}/drift.json"
    report = json.loads(_wait_for(uri, cloud, s3, timeout))
    return describe(report, uri)


def describe(report: dict, uri: str) -> str:
    rows, threshold = report["rows"], report["thresholds"]["psi"]
    if not report["checked"]:
        return f"drift: not judged ({report['reason']}) {uri}"
    largest = max(report["features"].items(), key=lambda item: item[1]["psi"])
    drifted = ",".join(report["drifted_features"]) or "none"
    return (
        f"drift: rows={rows} drifted_features={drifted} prediction_drifted={str(report['prediction_drifted']).lower()} "
        f"largest_psi={largest[1]['psi']:.3f} ({largest[0]}; threshold {threshold}) {uri}"
    )


def _wait_for(uri: str, cloud: LocalCloud, s3, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if storage.keys_under(uri, s3):
            return storage.read_object(uri, s3)
        failed = [call for call in cloud.bus.invocations if call["error"]]
        if failed:
            raise DemoFailed(f"a function failed: {failed[0]['error']} (log under {cloud.home / 'logs'})")
        time.sleep(0.1)
    raise DemoFailed(f"no drift report at {uri} after {timeout:.0f} s: see the drift check's log under {cloud.home}")
