"""Synth time of `python app.py` against an empty CDK app with one bucket, warm and cold.

The empty app keeps CDK's defaults, built-in CloudFormation validation included (2-3 s, mostly starting its engine);
app.py turns that validation off (the tests run it instead), so the empty app without it is measured too: the
ratio against it is what the app's own constructs, imports and checks cost."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.timing import alternate

REPO_ROOT = Path(__file__).resolve().parents[1]
EMPTY_APP = """
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
s3.Bucket(cdk.Stack(app, "Empty"), "Bucket")
app.synth()
"""


def _run(script: list[str], workdir: Path, **env: str) -> None:
    environment = {**os.environ, "CDK_OUTDIR": str(workdir / "cdk.out"), **env}
    subprocess.run([sys.executable, *script], cwd=REPO_ROOT, env=environment, check=True, capture_output=True)


def measure(repeats: int = 5) -> dict:
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        empty_app = workdir / "empty_app.py"
        empty_app.write_text(EMPTY_APP)
        warm_cache = workdir / "warm-cache"
        _run(["app.py"], workdir, SCORELINE_DEFINITION_CACHE=str(warm_cache))  # fill the cache once
        cold_runs = iter(range(repeats))

        def cold() -> None:
            # A fresh cache folder is exactly what a change to the pipeline code causes: a cache miss.
            _run(["app.py"], workdir, SCORELINE_DEFINITION_CACHE=str(workdir / f"cold-{next(cold_runs)}"))

        medians = alternate(
            {
                "empty_app": lambda: _run([str(empty_app)], workdir),
                "empty_app_unvalidated": lambda: _run([str(empty_app)], workdir, CDK_VALIDATION="false"),
                "warm": lambda: _run(["app.py"], workdir, SCORELINE_DEFINITION_CACHE=str(warm_cache)),
                "cold": cold,
            },
            repeats,
        )
    return {
        "empty_app_seconds": round(medians["empty_app"], 2),
        "empty_app_unvalidated_seconds": round(medians["empty_app_unvalidated"], 2),
        "warm_seconds": round(medians["warm"], 2),
        "cold_seconds": round(medians["cold"], 2),
        "warm_ratio": round(medians["warm"] / medians["empty_app"], 2),
        "cold_ratio": round(medians["cold"] / medians["empty_app"], 2),
        "warm_ratio_unvalidated": round(medians["warm"] / medians["empty_app_unvalidated"], 2),
        "runs_each": repeats,
    }


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
