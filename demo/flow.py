"""The whole flow on the local cloud: synth, deploy, train, register, approve, score, with progress as it goes.

Ends with one line: `demo: ok flavour=... version=... rmse=... scored_rows=... output=s3://... seconds=...` for
regression; classification names the data set and problem type and gives the test metrics instead of the RMSE:
`demo: ok flavour=... dataset=iris problem_type=multiclass version=... accuracy=... weighted_f1=... scored_rows=...`."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from demo.data import load_data
from demo.drift import drift_line
from demo.errors import DemoFailed
from demo.realtime import realtime_beside_batch
from demo.reports import classification_report, regression_report
from demo.synth import PROJECT_ROOT, synthesize
from local_mode import storage
from local_mode.cloud import LocalCloud
from scoreline.layout import TRAINING_INPUT_PREFIX
from scoreline.names import SCORING

SCORING_ROWS = 1000


# The bundled classification sets are small and nearly linear: a logistic regression classifies them about as well
# as any model, and test splits of 20 (iris) or 77 (breast cancer) rows cannot tell a few points apart. The demo
# lets the candidate be up to half again the best baseline's error, and says so; -c overrides it.
DATASET_SETTINGS = {
    "iris": {"min_improvement_over_baseline": "-0.5"},
    "breast-cancer": {"min_improvement_over_baseline": "-0.5"},
}


_TERMINAL = {"Succeeded", "Failed", "Stopped", "Completed"}


# The test metrics the summary line gives per problem type (from the registered version's evaluation.json).
SUMMARY_METRICS = {
    "regression": ("rmse",),
    "binary": ("accuracy", "auc"),
    "multiclass": ("accuracy", "weighted_f1"),
}


@dataclass
class DemoResult:
    flavour: str
    version: int
    rmse: float | None
    scored_rows: int
    output_uri: str
    seconds: float
    report: Path
    stages: dict[str, float] = field(default_factory=dict)
    dataset: str = "california"
    problem_type: str = "regression"
    metrics: dict[str, float] = field(default_factory=dict)
    realtime: dict[str, str] = field(default_factory=dict)  # --realtime: the row, both predictions

    def summary_line(self) -> str:
        tail = f"scored_rows={self.scored_rows} output={self.output_uri} seconds={self.seconds:.1f}"
        if self.problem_type == "regression":
            return f"demo: ok flavour={self.flavour} version={self.version} rmse={self.rmse:.4f} {tail}"
        metrics = " ".join(f"{name}={self.metrics[name]:.4f}" for name in SUMMARY_METRICS[self.problem_type])
        return (
            f"demo: ok flavour={self.flavour} dataset={self.dataset} problem_type={self.problem_type} "
            f"version={self.version} {metrics} {tail}"
        )


class _Stopwatch:
    def __init__(self, say):
        self.started = time.perf_counter()
        self._last = self.started
        self.stages: dict[str, float] = {}
        self._say = say

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = round(now - self._last, 2)
        self._last = now
        self._say(f"  {stage:<28} {self.stages[stage]:6.1f}s")

    def total(self) -> float:
        return time.perf_counter() - self.started


def run_demo(
    flavour: str = "sklearn",
    data: Path | None = None,
    target: str | None = None,
    home: Path = PROJECT_ROOT / ".scoreline" / "demo",
    settings: dict[str, str] | None = None,
    say=print,
    dataset: str = "california",
    realtime: bool = False,
) -> DemoResult:
    """`settings` are extra context values for synth, as `cdk synth -c name=value` gives them. `realtime` deploys the
    serving stack too and ends with one row's real-time prediction beside its batch prediction."""
    clock = _Stopwatch(say)
    frame, target = load_data(data, target, dataset)
    dataset = data.name if data is not None else dataset
    unlabelled = int(frame[target].isna().sum())
    left_out = f" ({unlabelled} without a target value: Preprocess and the report leave them out)" if unlabelled else ""
    say(f"demo: {flavour} model on {len(frame)} rows of {dataset}, predicting {target}{left_out}")
    context = {"model_flavour": flavour, "target_column": target, **({"realtime": "true"} if realtime else {})}
    demo_settings = {
        name: value for name, value in DATASET_SETTINGS.get(dataset, {}).items() if name not in (settings or {})
    }
    if demo_settings:
        say(f"  demo settings for {dataset}: {', '.join(f'{k}={v}' for k, v in demo_settings.items())} (-c to change)")
    synthesize(home / "cdk.out", {**context, **demo_settings, **(settings or {})})
    clock.lap("synth")
    with LocalCloud(home / "cloud") as cloud:
        deployment = cloud.deploy(home / "cdk.out")
        clock.lap("deploy")
        # The scoring function (the training stack also deploys the pipeline's TrainingData function).
        scoring = deployment.environment_of_function_setting(SCORING["input_uri"])
        training_frame, scoring_frame = _split_for_scoring(frame, target)
        bucket = deployment.bucket_for("DataBucket")
        s3 = cloud.client("s3")  # the demo talks to the local cloud as its administrator
        storage.write_object(
            f"s3://{bucket}/{TRAINING_INPUT_PREFIX}data.csv", training_frame.to_csv(index=False).encode(), s3
        )
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        scoring_uri = scoring[SCORING["input_uri"]].replace("{date}", today) + "rows.csv"
        features = scoring_frame.drop(columns=[target])
        storage.write_object(scoring_uri, features.to_csv(index=False, header=False).encode(), s3)
        package_arn = _train(cloud.client("sagemaker"), deployment.pipelines[0], clock, say)
        version, evaluation = _registered(cloud, package_arn)
        problem_type, classes = evaluation.get("problem_type", "regression"), evaluation.get("classes", [])
        metrics = _summary_metrics(evaluation, problem_type)
        # Small data: the figures are cross-validated (README, "Small data"); else the test split's.
        measured = "cross-validated" if "evaluation_method" in evaluation else "test"
        rows = evaluation.get("evaluation_method", "the test rows")
        say(f"  registered version {version} ({_described(metrics, measured)} on {rows}); approving it")
        output_uri = _approve_and_wait_for_scores(cloud, package_arn, scoring[SCORING["name_prefix"]])
        clock.lap("approval to scored output")
        lines = _output_lines(output_uri, s3)
        _check_joined(lines, features, len(classes))
        drift = drift_line(cloud, output_uri, s3)  # the check that follows every scoring job
        if drift:
            say(f"  {drift}")
            clock.lap("drift check")
        if realtime:
            compared = realtime_beside_batch(cloud, home / "cdk.out", version, features, lines[0], say)
            clock.lap("real-time prediction")
        title = f"{flavour} on {dataset}: {len(lines)} new rows"
        if problem_type == "regression":
            report = regression_report(
                home / "report.png", scoring_frame[target].to_numpy(), [float(row[-1]) for row in lines], flavour
            )
        else:
            report = classification_report(home / "report.png", scoring_frame[target], lines, classes, title)
    result = DemoResult(
        flavour,
        version,
        metrics.get("rmse"),
        len(lines),
        output_uri,
        clock.total(),
        report,
        clock.stages,
        dataset,
        problem_type,
        metrics,
        compared if realtime else {},
    )
    (home / "result.json").write_text(json.dumps({**result.__dict__, "report": str(report)}, indent=2))
    return result


def _split_for_scoring(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows kept out of training entirely: the 'new data' the approved model scores and the report compares with
    their target. Only rows with a target value qualify (missing as pandas reads it, which is how Preprocess finds
    the rows it leaves out); the others go to training, where Preprocess leaves them out and says so."""
    labelled = frame[frame[target].notna()]
    scoring = labelled.sample(n=min(SCORING_ROWS, len(labelled) // 10), random_state=7)
    return frame.drop(index=scoring.index), scoring


def _train(sagemaker, pipeline_name: str, clock: _Stopwatch, say) -> str:
    execution = sagemaker.start_pipeline_execution(PipelineName=pipeline_name)["PipelineExecutionArn"]
    say(f"  pipeline {pipeline_name} started")
    seen: dict[str, str] = {}
    while True:
        status = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution)
        steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=execution, SortOrder="Ascending")
        for step in steps["PipelineExecutionSteps"]:
            if seen.get(step["StepName"]) != step["StepStatus"]:
                seen[step["StepName"]] = step["StepStatus"]
                if step["StepStatus"] in _TERMINAL:
                    clock.lap(f"{step['StepName']} {step['StepStatus']}")
        if status["PipelineExecutionStatus"] in _TERMINAL:
            break
        time.sleep(0.1)
    if status["PipelineExecutionStatus"] != "Succeeded":
        raise DemoFailed(
            f"pipeline {status['PipelineExecutionStatus']}: {status.get('FailureReason') or 'no reason given'}"
        )
    tune = next((s for s in steps["PipelineExecutionSteps"] if "TuningJob" in s.get("Metadata", {})), None)
    if tune:
        say(_best_trial(sagemaker, tune["Metadata"]["TuningJob"]["Arn"].rsplit("/", 1)[1]))
    register = next(s for s in steps["PipelineExecutionSteps"] if "RegisterModel" in s.get("Metadata", {}))
    return register["Metadata"]["RegisterModel"]["Arn"]


def _best_trial(sagemaker, tuning_job: str) -> str:
    """The tuning job's best trial as a user finds it: DescribeHyperParameterTuningJob's BestTrainingJob."""
    tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job)
    best, counters = tuning["BestTrainingJob"], tuning["TrainingJobStatusCounters"]
    objective = best["FinalHyperParameterTuningJobObjectiveMetric"]
    drawn = " ".join(f"{name}={_short(value)}" for name, value in sorted(best["TunedHyperParameters"].items()))
    return (
        f"  tuning: best of {counters['Completed']} trials {objective['MetricName']}={objective['Value']:.4f} "
        f"({best['TrainingJobName']}: {drawn})"
    )


def _short(value: str) -> str:
    """A drawn number with 4 significant digits; other values as they are."""
    try:
        return f"{float(value):.4g}"
    except ValueError:
        return value


def _registered(cloud: LocalCloud, package_arn: str) -> tuple[int, dict]:
    """The version number and its evaluation report, found as a user finds it: the package's model quality."""
    package = cloud.client("sagemaker").describe_model_package(ModelPackageName=package_arn)
    evaluation_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    return package["ModelPackageVersion"], json.loads(storage.read_object(evaluation_uri, cloud.client("s3")))


def _summary_metrics(evaluation: dict, problem_type: str) -> dict[str, float]:
    section = {
        "regression": "regression_metrics",
        "binary": "binary_classification_metrics",
        "multiclass": "multiclass_classification_metrics",
    }[problem_type]
    return {name: float(evaluation[section][name]["value"]) for name in SUMMARY_METRICS[problem_type]}


def _described(metrics: dict[str, float], measured: str = "test") -> str:
    names = {"rmse": "RMSE", "auc": "AUC", "weighted_f1": "weighted F1"}
    return ", ".join(f"{measured} {names.get(name, name)} {value:.4f}" for name, value in metrics.items())


def _approve_and_wait_for_scores(cloud: LocalCloud, package_arn: str, name_prefix: str, timeout: float = 300) -> str:
    sagemaker = cloud.client("sagemaker")
    sagemaker.update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus="Approved")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        failed = [call for call in cloud.bus.invocations if call["error"]]
        if failed:
            raise DemoFailed(f"the scoring function failed: {failed[0]['error']} (log under {cloud.home / 'logs'})")
        jobs = sagemaker.list_transform_jobs(NameContains=name_prefix)["TransformJobSummaries"]
        if jobs and jobs[0]["TransformJobStatus"] in _TERMINAL:
            job = sagemaker.describe_transform_job(TransformJobName=jobs[0]["TransformJobName"])
            if job["TransformJobStatus"] != "Completed":
                raise DemoFailed(
                    f"transform job {job['TransformJobName']} {job['TransformJobStatus']}: {job.get('FailureReason')}"
                )
            return job["TransformOutput"]["S3OutputPath"]
        time.sleep(0.1)
    raise DemoFailed(
        "approval started no transform job: see the scoring function's log under .scoreline/demo/cloud/logs"
    )


def _output_lines(output_uri: str, s3) -> list[list[str]]:
    rows = []
    for key in storage.keys_under(output_uri, s3):
        text = storage.read_object(f"s3://{storage.split_uri(output_uri)[0]}/{key}", s3).decode()
        rows += list(csv.reader(io.StringIO(text)))
    return rows


def _check_joined(lines: list[list[str]], features: pd.DataFrame, class_count: int = 0) -> None:
    """Each line: the input row, then the prediction (regression) or the label and one probability per class."""
    if len(lines) != len(features):
        raise DemoFailed(f"scored output has {len(lines)} lines for {len(features)} input rows")
    width = features.shape[1] + 1 + class_count
    if any(len(row) != width for row in lines):
        raise DemoFailed(f"scored output lines are not the input row followed by {width - features.shape[1]} fields")
