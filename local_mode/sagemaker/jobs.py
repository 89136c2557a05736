"""Processing and training jobs run as SageMaker runs them, with this machine's Python instead of a container.

Container contract kept: `/opt/ml` is a per-job folder (rewritten in arguments and environment), inputs are
copied in before the script starts and outputs copied out after it ends, training gets `SM_*` variables,
its hyperparameters as `--name value` and its code unpacked from `sagemaker_submit_directory`, and the model
folder is packed as `<output path>/<job>/output/model.tar.gz`. Failure reasons come from where SageMaker takes them:
a processing job's ExitMessage is the first 1 KB of `/opt/ml/output/message` and its FailureReason AWS's generic
one; a training job's FailureReason is `/opt/ml/output/failure`, written by the script or else, as the framework
images' training toolkit does, with the exit code and the last line of the script's error output. Inputs are read
and outputs written with the job's role (its S3 client), so the role's policies decide them.

LIMITATIONS: processing jobs run on one instance (InstanceCount is ignored; the settings allow only 1); a training
job on several instances runs one process per instance (sagemaker/training_cluster.py); File input mode only; no
VPC, volume or output encryption (VolumeKmsKeyId, KmsKeyId are not applied); the script's own AWS calls are signed
as the job role only when the local cloud runs it (sagemaker/provider.py gives it the role's credentials); the
framework's Python is this machine's."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from local_mode import storage
from local_mode.sagemaker import training_cluster
from local_mode.sagemaker.images import python_for, toolkit_failure
from local_mode.sagemaker.workspace import LIMIT, Workspace
from scoreline.tarballs import deterministic_tarball

OPT_ML = "/opt/ml"


# What SageMaker reports for a processing container that exits non-zero (the container's own words go to ExitMessage),
# as asserted by aws/sagemaker-spark-container's integration tests.
PROCESSING_FAILURE = "AlgorithmError: See job logs for more information"


@dataclass
class JobResult:
    failure_reason: str = ""
    exit_message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return not self.failure_reason


class JobFailed(Exception):
    pass


def _timed_out(timeout: int) -> str:
    return f"the job exceeded its MaxRuntimeInSeconds ({timeout} s)"


def run_processing(job: dict, workspace: Workspace, s3=None) -> JobResult:
    """`job` is the DescribeProcessingJob response; `s3` the client of the job's role."""
    app = job["AppSpecification"]
    python = python_for(app["ImageUri"])
    for item in job.get("ProcessingInputs", []):
        source = item["S3Input"]
        if source.get("S3DataType") == "ManifestFile":
            download_manifest(source["S3Uri"], Path(workspace.local(source["LocalPath"])), s3)
        else:
            storage.download_prefix(source["S3Uri"], Path(workspace.local(source["LocalPath"])), s3)
    outputs = job.get("ProcessingOutputConfig", {}).get("Outputs", [])
    for item in outputs:
        Path(workspace.local(item["S3Output"]["LocalPath"])).mkdir(parents=True, exist_ok=True)
    entrypoint = [
        python if part in ("python", "python3") else workspace.local(part) for part in app["ContainerEntrypoint"]
    ]
    arguments = [workspace.local(part) for part in app.get("ContainerArguments", [])]
    environment = {key: workspace.local(value) for key, value in job.get("Environment", {}).items()}
    timeout = job.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400)
    exit_code = workspace.run(entrypoint + arguments, environment, timeout)
    # ExitMessage is reported whatever the outcome ("Save and Access Metadata Information About Your Processing Job").
    result = JobResult(exit_message=workspace.output_text("message"))
    if exit_code is None:
        result.failure_reason = _timed_out(timeout)
    elif exit_code != 0:
        result.failure_reason = PROCESSING_FAILURE
    if result.succeeded:
        for item in outputs:
            output = item["S3Output"]
            storage.upload_folder(Path(workspace.local(output["LocalPath"])), output["S3Uri"], s3)
    return result


def download_manifest(uri: str, destination: Path, s3=None) -> None:
    """A ManifestFile input: the manifest is `[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]` (API
    reference, S3DataSource); each listed object lands under `destination` by its key relative to the prefix."""
    manifest = json.loads(storage.read_object(uri, s3))
    if not manifest or not isinstance(manifest[0], dict) or "prefix" not in manifest[0]:
        raise JobFailed(f'the manifest {uri} does not start with {{"prefix": ...}}')
    prefix = manifest[0]["prefix"]
    destination.mkdir(parents=True, exist_ok=True)
    for relative in manifest[1:]:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(storage.read_object(prefix + relative, s3))


def run_training(job: dict, workspace: Workspace, s3=None) -> JobResult:
    """`job` is the DescribeTrainingJob response (with the metric definitions of the request); `s3` the client of
    the job's role."""
    algorithm = job["AlgorithmSpecification"]
    python = python_for(algorithm["TrainingImage"])
    hyperparameters = job.get("HyperParameters", {})
    program = hyperparameters.get("sagemaker_program")
    code_uri = hyperparameters.get("sagemaker_submit_directory")
    if not program or not code_uri:
        return JobResult(
            "local mode runs framework training jobs: sagemaker_program and sagemaker_submit_directory are required"
        )
    sharded = training_cluster.sharded_channels(job) if training_cluster.is_cluster(job) else []
    if sharded:
        names = ", ".join(sharded)
        return JobResult(f"local mode gives every instance every object: channel {names} is ShardedByS3Key")
    opt_ml = workspace.opt_ml
    code_dir = opt_ml / "code"
    storage.extract_tarball(storage.read_object(code_uri, s3), code_dir)
    channels = {}
    for channel in job.get("InputDataConfig", []):
        name = channel["ChannelName"]
        storage.download_prefix(channel["DataSource"]["S3DataSource"]["S3Uri"], opt_ml / "input" / "data" / name, s3)
        channels[name] = {key: value for key, value in channel.items() if key in ("ContentType", "InputMode")}
    config = opt_ml / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    for folder in ("model", "output/data"):
        (opt_ml / folder).mkdir(parents=True, exist_ok=True)
    user_hyperparameters = {key: value for key, value in hyperparameters.items() if not key.startswith("sagemaker_")}
    arguments = [part for key, value in sorted(user_hyperparameters.items()) for part in (f"--{key}", str(value))]
    timeout = job.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400)
    command = [python, str(code_dir / program), *arguments]
    environment = training_environment(opt_ml, channels, user_hyperparameters)
    # "SageMaker AI sets the following environment variables" (How Amazon SageMaker AI Provides Training Information)
    environment |= {"TRAINING_JOB_NAME": job["TrainingJobName"], "TRAINING_JOB_ARN": job["TrainingJobArn"]}
    if training_cluster.is_cluster(job):  # a workspace per instance; the failing one's tells the outcome
        exit_code, workspace = training_cluster.run(job, workspace, command, environment, timeout)
    else:
        exit_code = workspace.run(command, environment, timeout)
    result = JobResult()
    if exit_code is None:
        result.failure_reason = _timed_out(timeout)
    elif exit_code != 0:
        command = [program, *arguments]
        result.failure_reason = _training_failure(workspace, exit_code, command, algorithm["TrainingImage"])
    result.metrics = _metrics(workspace.log_file.read_text(errors="replace"), algorithm.get("MetricDefinitions", []))
    if result.succeeded:
        job_prefix = f"{job['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job['TrainingJobName']}/output"
        storage.write_object(f"{job_prefix}/model.tar.gz", deterministic_tarball(opt_ml / "model"), s3)
        if any((opt_ml / "output" / "data").iterdir()):
            storage.write_object(f"{job_prefix}/output.tar.gz", deterministic_tarball(opt_ml / "output" / "data"), s3)
    return result


def _training_failure(workspace: Workspace, exit_code: int, command: list[str], image: str) -> str:
    """SageMaker returns /opt/ml/output/failure as FailureReason ("How Amazon SageMaker AI Processes Training
    Output"), prefixed "AlgorithmError: " as failed jobs show it. A script that wrote none gets what the framework
    images' training toolkit writes for it (sagemaker-training's ExecuteUserScriptError)."""
    written = toolkit_failure(image, command) or workspace.output_text("failure")  # local_mode/sagemaker/images.py
    if not written:
        written = (
            f'ExecuteUserScriptError:\nExitCode {exit_code}\nErrorMessage "{workspace.last_log_line()}"\n'
            f'Command "python {" ".join(command)}"'
        )
    return f"AlgorithmError: {written}"[:LIMIT]


def training_environment(opt_ml: Path, channels: dict, hyperparameters: dict) -> dict[str, str]:
    """The SM_* variables the framework images' toolkit gives a training script (one instance)."""
    environment = {
        "SM_MODEL_DIR": str(opt_ml / "model"),
        "SM_OUTPUT_DATA_DIR": str(opt_ml / "output" / "data"),
        "SM_OUTPUT_DIR": str(opt_ml / "output"),
        "SM_INPUT_DIR": str(opt_ml / "input"),
        "SM_INPUT_CONFIG_DIR": str(opt_ml / "input" / "config"),
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_HPS": json.dumps(hyperparameters),
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_NUM_GPUS": "0",
        "SM_MODULE_DIR": str(opt_ml / "code"),
    }
    for name in channels:
        environment[f"SM_CHANNEL_{name.upper()}"] = str(opt_ml / "input" / "data" / name)
    for name, value in hyperparameters.items():
        environment[f"SM_HP_{name.upper()}"] = str(value)
    return environment


def _metrics(log: str, definitions: list[dict]) -> dict[str, float]:
    """The last value each metric definition's regex finds in the log, as SageMaker reports final metrics."""
    metrics = {}
    for definition in definitions:
        values = re.findall(definition["Regex"], log)
        if values:
            metrics[definition["Name"]] = float(values[-1])
    return metrics
