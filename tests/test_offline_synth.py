"""Synth needs no AWS account, no credentials and no network, and gives the same bytes every time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Runs app.py with every outbound connection and name lookup refused and recorded.
GUARDED_SYNTH = """
import json, runpy, socket, sys
attempts = []
real_connect = socket.socket.connect

def refuse(self, address, *rest):
    if self.family == socket.AF_UNIX:
        return real_connect(self, address)
    attempts.append(repr(address))
    raise OSError(f"network blocked in test: {address}")

def refuse_lookup(host, *rest, **kwargs):
    attempts.append(repr(host))
    raise OSError(f"name lookup blocked in test: {host}")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.getaddrinfo = refuse_lookup
try:
    runpy.run_path("app.py", run_name="__main__")
finally:
    print("ATTEMPTS=" + json.dumps(attempts))
"""


def _offline_env(tmp_path: Path, outdir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),  # no ~/.aws config or credentials either
        CDK_OUTDIR=str(outdir),
        SCORELINE_DEFINITION_CACHE=str(tmp_path / "fresh-cache"),  # build the definition, not a cached copy
    )
    env.update(extra)
    return env


def test_synth_makes_no_network_connection_and_needs_no_credentials(tmp_path):
    outdir = tmp_path / "cdk.out"
    result = subprocess.run(
        [sys.executable, "-c", GUARDED_SYNTH],
        cwd=REPO_ROOT,
        env=_offline_env(tmp_path, outdir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    attempts = json.loads(result.stdout.split("ATTEMPTS=")[-1])
    assert attempts == []
    assert (outdir / "ScorelineTraining.template.json").exists()


def _synth_files(tmp_path: Path, name: str) -> dict[str, bytes]:
    """Both synths share one definition cache: the snapshot tests pin the definition's bytes already."""
    outdir = tmp_path / name
    subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=_offline_env(tmp_path / name, outdir, SCORELINE_DEFINITION_CACHE=str(tmp_path / "definition-cache")),
        capture_output=True,
        timeout=300,
        check=True,
    )
    return {str(path.relative_to(outdir)): path.read_bytes() for path in sorted(outdir.rglob("*")) if path.is_file()}


def test_two_synths_give_byte_identical_cloud_assemblies(tmp_path):
    first, second = _synth_files(tmp_path, "first"), _synth_files(tmp_path, "second")
    assert sorted(first) == sorted(second)
    different = [name for name in first if first[name] != second[name]]
    assert different == []


def test_bad_setting_stops_synth_with_one_sentence_and_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=_offline_env(tmp_path, tmp_path / "out", CDK_CONTEXT_JSON=json.dumps({"model_flavour": "lightgbm"})),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "scoreline: Setting 'model_flavour' input should be 'sklearn', 'pytorch' or 'xgboost' (got 'lightgbm')."
    )


def test_cdk_cli_synth_works_in_a_network_namespace_without_any_network(tmp_path):
    """`cdk synth` as a user runs it, inside a network namespace that has no interface at all."""
    cdk_cli = REPO_ROOT / "node_modules" / ".bin" / "cdk"
    command = ["unshare", "--net", str(cdk_cli), "synth", "--quiet", "--no-notices", "--output", str(tmp_path / "out")]
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=_offline_env(tmp_path, tmp_path / "out", CDK_DISABLE_CLI_TELEMETRY="true"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "out" / "ScorelineScoring.template.json").exists()
