"""A training job on several instances, run on this machine.

What each "instance" gets is what SageMaker gives each container of a training cluster:
- its own /opt/ml (here <job>/hosts/algo-<i>/opt/ml; algo-1 keeps the job's own folder), with every channel in full
  (S3DistributionType FullyReplicated, the default: "a full replica of the dataset" on each instance, S3DataSource),
  the code and the same hyperparameters and input data config;
- /opt/ml/input/config/resourceconfig.json naming it: `current_host` (the container's name on the container
  network, "algo-1"...), `hosts` (all containers' names, sorted lexicographically) and `network_interface_name`
  ("How Amazon SageMaker AI Provides Training Information", Distributed Training Configuration), and SM_HOSTS,
  SM_CURRENT_HOST as the framework images' toolkit sets them;
- a network name: each instance has its own loopback address (127.<job>.<i>) and the instances' names resolve to
  them in Python (training_network/sitecustomize.py), so a script that reaches algo-1 by name, as XGBoost's
  tracker is reached, works here as on the cluster.
Each instance runs what its image's toolkit runs: the training script itself (the framework images run the entry
point on every instance), or for sagemaker_torch_distributed_enabled what the PyTorch image runs (sagemaker-training
TorchDistributedRunner): `torchrun --nnodes <hosts> --nproc_per_node 1 (a CPU instance) --master_addr <hosts[0]>
--master_port <port> --node_rank <index of current_host in hosts> <program> <arguments>`; here the master address
is 127.0.0.1 and the port a free one, so the ranks talk gloo over the loopback.

The job succeeds when every instance's process exits 0. When one fails, the others get GRACE_SECONDS to fail too
(their collectives lose a peer) and are then killed, and the job's failure reason is the first failing instance's
/opt/ml/output/failure. MaxRuntimeInSeconds bounds the whole cluster. The model and output data are algo-1's
(the training scripts' first rank writes them; the others write none).

LIMITATIONS: all instances share this machine's cores and memory; names resolve only for Python's own lookups, at
once (SageMaker's may take a while as the cluster boots); connections between instances come from 127.0.0.1, so a
tracker sees every instance on one host; ShardedByS3Key channels are refused (jobs.run_training), not split.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from local_mode.sagemaker.workspace import Workspace

DISTRIBUTION = "sagemaker_torch_distributed_enabled"
NETWORK_NAMES = Path(__file__).parent / "training_network"  # its sitecustomize resolves the instances' names
GRACE_SECONDS = 20  # how long the other instances may take to notice a failed one before they are stopped
STOP_SECONDS = 40  # torchrun gives its processes 30 s to end after SIGTERM
_POLL_SECONDS = 0.2


def is_cluster(job: dict) -> bool:
    return int(job["ResourceConfig"]["InstanceCount"]) > 1


def sharded_channels(job: dict) -> list[str]:
    """Channels SageMaker would split between the instances (S3DataDistributionType ShardedByS3Key: "replicates a
    subset of data on each ML compute instance", S3DataSource); local mode gives every instance every object."""
    return [
        channel["ChannelName"]
        for channel in job.get("InputDataConfig", [])
        if channel["DataSource"]["S3DataSource"].get("S3DataDistributionType") == "ShardedByS3Key"
    ]


def _uses_torchrun(job: dict) -> bool:
    """True for a training job that asks the PyTorch image for torchrun (the pipeline sets it for PyTorch on more
    than one instance)."""
    return str(job.get("HyperParameters", {}).get(DISTRIBUTION, "")).lower() == "true"


def host_names(job: dict) -> list[str]:
    """algo-1 ... algo-N, sorted lexicographically as SageMaker lists them in resourceconfig.json."""
    return sorted(f"algo-{index}" for index in range(1, int(job["ResourceConfig"]["InstanceCount"]) + 1))


def run(job: dict, workspace: Workspace, command: list[str], environment: dict[str, str], timeout: int):
    """Run `command` ([python, script, arguments...], prepared in `workspace` as for one instance) on every
    instance; returns (exit code or None on timeout, the workspace whose log and failure file tell the outcome)."""
    hosts = host_names(job)
    workspaces = {name: _host_workspace(workspace, name, index) for index, name in enumerate(hosts)}
    addresses = _loopback_addresses(hosts)
    port = _free_port()
    processes = {}
    try:
        for index, name in enumerate(hosts):
            host = workspaces[name]
            _write_resource_config(host, name, hosts, job["ResourceConfig"]["InstanceType"])
            own = _host_environment(environment, workspace, host, name, addresses)
            local_command = _on_host(command, workspace, host)
            if _uses_torchrun(job):
                local_command = _torchrun(local_command, hosts, index, port)
            processes[name] = _start(host, local_command, own)
        return _wait(processes, workspaces, timeout)
    finally:
        for process in processes.values():
            _stop(process)


def _host_workspace(workspace: Workspace, name: str, index: int) -> Workspace:
    """algo-1 is the job's own workspace; each other instance gets a copy of its prepared /opt/ml (code, channels,
    config) and its own log file next to the job's."""
    if index == 0:
        return workspace
    log_file = workspace.log_file.with_name(f"{workspace.log_file.stem}-{name}{workspace.log_file.suffix}")
    host = Workspace(workspace.root / "hosts" / name, log_file, workspace.aws_environment)
    shutil.copytree(workspace.opt_ml, host.opt_ml, dirs_exist_ok=True)
    return host


def _write_resource_config(host: Workspace, name: str, hosts: list[str], instance_type: str) -> None:
    config = {
        "current_host": name,
        "current_instance_type": instance_type,
        "hosts": hosts,
        "network_interface_name": "lo",
    }
    (host.opt_ml / "input" / "config" / "resourceconfig.json").write_text(json.dumps(config))


def _on_host(command: list[str], workspace: Workspace, host: Workspace) -> list[str]:
    """[python, script, arguments...] with the script in this instance's /opt/ml."""
    python, script, *arguments = command
    return [python, script.replace(str(workspace.opt_ml), str(host.opt_ml), 1), *arguments]


def _torchrun(command: list[str], hosts: list[str], index: int, port: int) -> list[str]:
    python, local_script, *arguments = command
    return [
        python,
        "-m",
        "torch.distributed.run",
        f"--nnodes={len(hosts)}",
        "--nproc_per_node=1",
        "--master_addr=127.0.0.1",
        f"--master_port={port}",
        f"--node_rank={index}",
        local_script,
        *arguments,
    ]


def _host_environment(environment, workspace, host, name: str, addresses: dict[str, str]) -> dict[str, str]:
    """The job's SM_* variables with this instance's /opt/ml, name and hosts, and the instances' network names."""
    own = {key: value.replace(str(workspace.opt_ml), str(host.opt_ml)) for key, value in environment.items()}
    python_path = os.pathsep.join(filter(None, [str(NETWORK_NAMES), own.get("PYTHONPATH")]))
    return own | {
        "SM_CURRENT_HOST": name,
        "SM_HOSTS": json.dumps(list(addresses)),
        "SCORELINE_TRAINING_HOSTS": json.dumps(addresses),
        "PYTHONPATH": python_path,
    }


def _loopback_addresses(hosts: list[str]) -> dict[str, str]:
    """Each instance's own address in 127.0.0.0/8 (all of it is this machine's loopback on Linux), in a /16 picked
    at random per job, so two jobs' instances that listen on the same port (XGBoost's tracker on 9099) do not meet."""
    network = f"127.{random.randint(1, 254)}"
    return {name: f"{network}.{index // 250}.{index % 250 + 1}" for index, name in enumerate(hosts)}


def _start(host: Workspace, command: list[str], environment: dict[str, str]) -> subprocess.Popen:
    """The instance's torchrun in a process group of its own, so stopping it stops its training process too."""
    return host.start(command, environment, own_session=True)


def _wait(processes: dict, workspaces: dict, timeout: int):
    """Until every instance ended, one failed and the others had GRACE_SECONDS, or the job's time is up."""
    deadline = time.monotonic() + timeout
    first_failure = None  # (host name, exit code, when)
    while True:
        codes = {name: process.poll() for name, process in processes.items()}
        if first_failure is None:
            failed = [name for name, code in codes.items() if code not in (None, 0)]
            if failed:
                first_failure = (failed[0], codes[failed[0]], time.monotonic())
        if first_failure and (
            all(code is not None for code in codes.values()) or time.monotonic() - first_failure[2] > GRACE_SECONDS
        ):
            return first_failure[1], workspaces[first_failure[0]]
        if all(code == 0 for code in codes.values()):
            return 0, next(iter(workspaces.values()))
        if time.monotonic() > deadline:
            return None, next(iter(workspaces.values()))
        time.sleep(_POLL_SECONDS)


def _stop(process: subprocess.Popen) -> None:
    """Stop the instance's torchrun if it still runs. torchrun starts each training process in a session of its own,
    so a SIGKILL to torchrun would leave it running: SIGTERM makes torchrun stop its processes (SIGTERM, then
    SIGKILL after 30 s) before it exits; only a torchrun that does not exit in STOP_SECONDS is killed."""
    if process.poll() is not None:
        return
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group has ended meanwhile
        os.killpg(process.pid, signal_number)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
