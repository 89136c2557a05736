"""Synth time of `python app.py` against an empty CDK app with one bucket, warm and cold, and the floor: the empty
app importing every module app.py imports (cdk-nag, the CDK service modules, settings) and building none of it.

Like with like: the empty app is synthesized the way app.py is, with CDK's built-in CloudFormation validation off
(app.py turns it off; the tests run it instead, tests/stacks/test_builtin_validation.py), by the same interpreter,
into an output folder of its own. An empty app that still paid the validation (2-3 s, mostly starting its engine)
would flatter the ratio."""

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

app = cdk.App(builtin_cloud_formation_validation=False)  # as app.py
s3.Bucket(cdk.Stack(app, "Empty"), "Bucket")
app.synth()
"""
IMPORTS_ONLY_APP = "import app as scoreline_app  # imported, nothing built\n" + EMPTY_APP


def _run(script: list[str], outdir: Path, **env: str) -> None:
    environment = {**os.environ, "CDK_OUTDIR": str(outdir), **env}
    subprocess.run([sys.executable, *script], cwd=REPO_ROOT, env=environment, check=True, capture_output=True)


def measure(repeats: int = 5) -> dict:
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        empty_app = workdir / "empty_app.py"
        empty_app.write_text(EMPTY_APP)
        imports_only_app = workdir / "imports_only_app.py"
        imports_only_app.write_text(IMPORTS_ONLY_APP)
        warm_cache = workdir / "warm-cache"
        _run(["app.py"], workdir / "app.out", SCORELINE_DEFINITION_CACHE=str(warm_cache))  # fill the cache once
        repo = str(REPO_ROOT)  # the imports-only app runs from the temporary folder
        cold_runs = iter(range(repeats))

        def cold() -> None:
            # A fresh cache folder is exactly what a change to the pipeline code causes: a cache miss.
            cache = workdir / f"cold-{next(cold_runs)}"
            _run(["app.py"], workdir / "app.out", SCORELINE_DEFINITION_CACHE=str(cache))

        medians = alternate(
            {
                "empty_app": lambda: _run([str(empty_app)], workdir / "empty.out"),
                "imports_only": lambda: _run([str(imports_only_app)], workdir / "imports.out", PYTHONPATH=repo),
                "warm": lambda: _run(["app.py"], workdir / "app.out", SCORELINE_DEFINITION_CACHE=str(warm_cache)),
                "cold": cold,
            },
            repeats,
        )
    return {
        "empty_app_seconds": round(medians["empty_app"], 2),
        "warm_seconds": round(medians["warm"], 2),
        "cold_seconds": round(medians["cold"], 2),
        "imports_only_seconds": round(medians["imports_only"], 2),
        "warm_ratio": round(medians["warm"] / medians["empty_app"], 2),
        "cold_ratio": round(medians["cold"] / medians["empty_app"], 2),
        "imports_only_ratio": round(medians["imports_only"] / medians["empty_app"], 2),
        "runs_each": repeats,
    }


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
