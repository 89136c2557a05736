"""local_mode/sagemaker/training_cluster.py: a torch_distributed training job runs one torchrun per instance, each
with its own /opt/ml and resourceconfig.json; the first failing instance's failure file fails the job and no process
is left waiting. The workers here are plain scripts (torchrun's agents are real), so these stay quick."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from local_mode.sagemaker import training_cluster
from local_mode.sagemaker.jobs import run_training
from local_mode.sagemaker.workspace import Workspace

WORKER = """
import json, os, pathlib, sys, time
config = json.loads(pathlib.Path(os.environ["SM_INPUT_CONFIG_DIR"], "resourceconfig.json").read_text())
model = pathlib.Path(os.environ["SM_MODEL_DIR"])
model.mkdir(parents=True, exist_ok=True)
(model / f"rank-{os.environ['RANK']}.json").write_text(json.dumps({**config, "pid": os.getpid(),
    "world": os.environ["WORLD_SIZE"], "sm_current_host": os.environ["SM_CURRENT_HOST"]}))
if sys.argv[1:] == ["--fail-rank", os.environ["RANK"]]:
    pathlib.Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text("rank failed on " + config["current_host"])
    sys.exit(3)
if sys.argv[1:]:
    time.sleep(600)  # a rank stuck waiting for the one that failed
"""


def job_workspace(root: Path) -> tuple[Workspace, dict, list[str]]:
    """A workspace prepared as jobs.run_training prepares one instance's, and its environment and command."""
    workspace = Workspace(root / "job", root / "logs" / "job.log")
    for folder in ("code", "input/config", "input/data/train", "model", "output/data"):
        (workspace.opt_ml / folder).mkdir(parents=True, exist_ok=True)
    (workspace.opt_ml / "code" / "train.py").write_text(WORKER)
    opt_ml = workspace.opt_ml
    environment = {
        "SM_MODEL_DIR": str(opt_ml / "model"),
        "SM_OUTPUT_DIR": str(opt_ml / "output"),
        "SM_INPUT_CONFIG_DIR": str(opt_ml / "input" / "config"),
        "SM_CHANNEL_TRAIN": str(opt_ml / "input" / "data" / "train"),
        "SM_CURRENT_HOST": "algo-1",
    }
    return workspace, environment, [sys.executable, str(opt_ml / "code" / "train.py")]


JOB = {
    "HyperParameters": {training_cluster.DISTRIBUTION: "true"},
    "ResourceConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge"},
}


def ranks(workspace: Workspace) -> dict[str, dict]:
    """What each instance's worker saw, by instance name."""
    folders = [workspace.opt_ml, workspace.root / "hosts" / "algo-2" / "opt" / "ml"]
    found = {}
    for folder in folders:
        for path in (folder / "model").glob("rank-*.json"):
            seen = json.loads(path.read_text())
            found[seen["current_host"]] = seen | {"rank": path.stem, "model_dir": str(folder / "model")}
    return found


def test_each_instance_runs_one_rank_with_its_own_opt_ml(tmp_path):
    workspace, environment, command = job_workspace(tmp_path)
    exit_code, outcome = training_cluster.run(JOB, workspace, command, environment, timeout=120)
    assert (exit_code, outcome) == (0, workspace)
    seen = ranks(workspace)
    assert {name: (item["rank"], item["hosts"], item["world"]) for name, item in seen.items()} == {
        "algo-1": ("rank-0", ["algo-1", "algo-2"], "2"),
        "algo-2": ("rank-1", ["algo-1", "algo-2"], "2"),
    }
    assert seen["algo-2"]["sm_current_host"] == "algo-2"
    assert seen["algo-1"]["model_dir"] != seen["algo-2"]["model_dir"]
    assert workspace.log_file.with_name("job-algo-2.log").is_file()


def test_a_failed_instance_fails_the_job_and_the_others_are_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(training_cluster, "GRACE_SECONDS", 1)
    workspace, environment, command = job_workspace(tmp_path)
    started = time.monotonic()
    exit_code, outcome = training_cluster.run(JOB, workspace, [*command, "--fail-rank", "1"], environment, 120)
    assert exit_code not in (0, None)
    assert outcome.output_text("failure") == "rank failed on algo-2"
    assert time.monotonic() - started < 60  # not the 600 s the stuck rank would sleep
    stuck = ranks(workspace)["algo-1"]["pid"]
    assert not _running(stuck)


@pytest.mark.slow  # waits out an 8 s limit
def test_the_jobs_time_limit_stops_every_instance(tmp_path):
    workspace, environment, command = job_workspace(tmp_path)
    exit_code, _ = training_cluster.run(JOB, workspace, [*command, "--fail-rank", "none"], environment, timeout=8)
    assert exit_code is None
    started = ranks(workspace)
    assert sorted(started) == ["algo-1", "algo-2"]
    assert not any(_running(item["pid"]) for item in started.values())


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.parametrize("count, hosts", [(1, ["algo-1"]), (3, ["algo-1", "algo-2", "algo-3"])])
def test_hosts_are_named_as_sagemaker_names_them(count, hosts):
    assert training_cluster.host_names({"ResourceConfig": {"InstanceCount": count}}) == hosts


RESOLVER = """
import json, os, pathlib, socket
hosts = json.loads(os.environ["SM_HOSTS"])
pathlib.Path(os.environ["SM_MODEL_DIR"], "seen.json").write_text(json.dumps(
    {"me": os.environ["SM_CURRENT_HOST"], "addresses": {name: socket.gethostbyname(name) for name in hosts}}))
"""


def test_without_torchrun_each_instance_runs_the_script_and_reaches_the_others_by_name(tmp_path):
    """What the XGBoost image does on several instances: the script itself on each; the names resolve to each
    instance's own loopback address, the same on every instance."""
    workspace, environment, command = job_workspace(tmp_path)
    (workspace.opt_ml / "code" / "train.py").write_text(RESOLVER)
    job = {"HyperParameters": {}, "ResourceConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge"}}
    exit_code, _ = training_cluster.run(job, workspace, command, environment, timeout=60)
    assert exit_code == 0
    folders = [workspace.opt_ml, workspace.root / "hosts" / "algo-2" / "opt" / "ml"]
    seen = [json.loads((folder / "model" / "seen.json").read_text()) for folder in folders]
    assert [item["me"] for item in seen] == ["algo-1", "algo-2"]
    addresses = seen[0]["addresses"]
    assert seen[1]["addresses"] == addresses
    assert len(set(addresses.values())) == 2 and all(address.startswith("127.") for address in addresses.values())


def test_a_channel_sagemaker_would_split_between_the_instances_fails_the_job(tmp_path):
    """ShardedByS3Key gives each instance a subset of the objects on SageMaker; local mode refuses it rather than
    give every instance every object."""
    channel = {"S3Uri": "s3://bucket/train/", "S3DataType": "S3Prefix", "S3DataDistributionType": "ShardedByS3Key"}
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
    job = {
        "AlgorithmSpecification": {"TrainingImage": image},
        "HyperParameters": {"sagemaker_program": "train.py", "sagemaker_submit_directory": "s3://bucket/code.tar.gz"},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": channel}}],
        "ResourceConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge"},
    }
    result = run_training(job, Workspace(tmp_path / "job", tmp_path / "job.log"))
    assert result.failure_reason == "local mode gives every instance every object: channel train is ShardedByS3Key"
