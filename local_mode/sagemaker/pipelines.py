"""Pipeline executions interpreted from the deployed definition, as SageMaker Pipelines runs them: parameters
and overrides, step dependencies, property references, Std:Join and Std:JsonGet, conditions, Fail steps and
step caching. Steps create their jobs, read property files and register versions through the API with the
pipeline's role, so its policies decide them, and the Lambda step needs the role's lambda:InvokeFunction.

LIMITATIONS: step types Processing, Training, Tuning, Lambda, RegisterModel, Condition and Fail only; steps run one at a
time in dependency order (no parallel branches); no retry policies; the step cache lives as long as the local
cloud."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from local_mode import storage

_TERMINAL = {"Completed", "Failed", "Stopped"}
_EXECUTION_MARKER = "<execution>"


class StepFailed(Exception):
    def __init__(self, step: str, reason: str):
        super().__init__(reason)
        self.step = step
        self.reason = reason


@dataclass
class StepRecord:
    """One row of ListPipelineExecutionSteps."""

    name: str
    step_type: str
    status: str = "Executing"
    start_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    end_time: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    failure_reason: str = ""
    cache_source: str = ""

    def as_api(self) -> dict[str, Any]:
        row = {
            "StepName": self.name,
            "StepDisplayName": self.name,
            "StepStatus": self.status,
            "StartTime": self.start_time,
            "Metadata": self.metadata,
            "AttemptCount": 1,
        }
        if self.end_time:
            row["EndTime"] = self.end_time
        if self.failure_reason:
            row["FailureReason"] = self.failure_reason
        if self.cache_source:
            row["CacheHitResult"] = {"SourcePipelineExecutionArn": self.cache_source}
        return row


class StepCache:
    """Successful cacheable steps by their resolved arguments (execution variables left out), per pipeline."""

    def __init__(self):
        self._entries: dict[str, tuple[dict, dict, str]] = {}

    def get(self, key: str):
        return self._entries.get(key)

    def put(self, key: str, properties: dict, metadata: dict, execution_arn: str) -> None:
        self._entries[key] = (properties, metadata, execution_arn)


class PipelineRun:
    def __init__(
        self,
        execution_arn: str,
        definition: dict,
        overrides: list[dict],
        cache: StepCache,
        on_step: Callable[[], None] = lambda: None,
        invoke: Callable[[str, dict, str], dict] | None = None,
        sagemaker=None,
        s3=None,
    ):
        """`sagemaker` and `s3` are the pipeline role's clients: steps start jobs and read property files with it."""
        self.execution_arn = execution_arn
        self.execution_id = execution_arn.rsplit("/", 1)[1]
        self.pipeline_name = execution_arn.split(":pipeline/", 1)[1].split("/", 1)[0]
        self.started = datetime.now(UTC)
        self.steps: list[StepRecord] = []
        self._definition = definition
        self._parameters = _parameters(definition, overrides)
        self._properties: dict[str, dict] = {}
        self._property_files: dict[str, dict[str, dict]] = {}
        self._cache = cache
        self._on_step = on_step
        self._invoke = invoke
        self._sagemaker = sagemaker or boto3.client("sagemaker")
        self._s3 = s3

    def run(self) -> None:
        """Run every step; raises StepFailed with the failing step and its reason."""
        self._run_steps(self._definition["Steps"])

    # Steps -----------------------------------------------------------------------------------------------
    def _run_steps(self, steps: list[dict]) -> None:
        for step in _in_dependency_order(steps):
            self._run_step(step)

    def _run_step(self, step: dict) -> None:
        record = StepRecord(step["Name"], step["Type"])
        self.steps.insert(0, record)
        self._on_step()
        try:
            runner = _STEP_RUNNERS.get(step["Type"])
            if runner is None:
                raise StepFailed(step["Name"], f"step type {step['Type']} is not supported in local mode")
            follow_up = runner(self, step, record)
            record.status = "Succeeded"
        except StepFailed as failure:
            record.status, record.failure_reason = "Failed", failure.reason
            raise
        except Exception as error:  # a definition local mode cannot evaluate fails the step, not the server
            record.status, record.failure_reason = "Failed", f"{type(error).__name__}: {error}"
            raise StepFailed(step["Name"], record.failure_reason) from error
        finally:
            record.end_time = datetime.now(UTC)
            self._on_step()
        self._run_steps(follow_up or [])

    def _run_processing(self, step: dict, record: StepRecord) -> None:
        self._run_job(step, record, self._sagemaker.create_processing_job, self._sagemaker.describe_processing_job)
        for item in step.get("PropertyFiles", []):
            outputs = self._properties[step["Name"]]["ProcessingOutputConfig"]["Outputs"]
            output = next(o for o in outputs if o["OutputName"] == item["OutputName"])
            uri = f"{output['S3Output']['S3Uri'].rstrip('/')}/{item['FilePath']}"
            self._property_files.setdefault(step["Name"], {})[item["PropertyFileName"]] = json.loads(
                storage.read_object(uri, self._s3)
            )

    def _run_training(self, step: dict, record: StepRecord) -> None:
        self._run_job(step, record, self._sagemaker.create_training_job, self._sagemaker.describe_training_job)

    def _run_tuning(self, step: dict, record: StepRecord) -> None:
        """A tuning step's properties are DescribeHyperParameterTuningJob's and
        ListTrainingJobsForHyperParameterTuningJob's responses (the SDK's TuningStep.properties), the trials sorted
        by objective, best first: TrainingJobSummaries[0] is the best trial."""
        self._run_job(
            step,
            record,
            self._sagemaker.create_hyper_parameter_tuning_job,
            self._sagemaker.describe_hyper_parameter_tuning_job,
            label="HyperParameterTuningJob",
            metadata_key="TuningJob",  # PipelineExecutionStepMetadata's field for a tuning step
            name_length=32,  # HyperParameterTuningJobName: "Maximum length of 32"
        )
        job = self._properties[step["Name"]]
        objective = job["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        order = "Ascending" if objective["Type"] == "Minimize" else "Descending"
        job["TrainingJobSummaries"] = self._sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=job["HyperParameterTuningJobName"],
            SortBy="FinalObjectiveMetricValue",
            SortOrder=order,
            MaxResults=50,  # "tuning step stores up to 50 top performing training jobs" (TuningStep)
        )["TrainingJobSummaries"]

    def _run_job(self, step, record, create, describe_job, label="", metadata_key="", name_length=63) -> None:
        label = label or f"{step['Type']}Job"  # Processing -> ProcessingJob, the API's field prefix
        metadata_key = metadata_key or label
        arguments = self._value(step["Arguments"])
        cache_key = None
        if step.get("CacheConfig", {}).get("Enabled"):
            cache_key = json.dumps(
                [step["Type"], self._value(step["Arguments"], for_cache=True)], sort_keys=True, default=str
            )
            hit = self._cache.get(cache_key)
            if hit:
                self._properties[step["Name"]], record.metadata, record.cache_source = hit
                return
        name = f"pipelines-{self.execution_id}-{step['Name']}-{secrets.token_hex(3)}"
        if len(name) > name_length:  # a tuning job: the step and a random part
            name = f"pipelines-{step['Name']}-{secrets.token_hex(4)}"[:name_length]
        create(**{f"{label}Name": name}, **arguments)
        record.metadata = {metadata_key: {"Arn": describe_job(**{f"{label}Name": name})[f"{label}Arn"]}}
        self._on_step()
        job = wait_until_finished(lambda: describe_job(**{f"{label}Name": name}), f"{label}Status")
        if job[f"{label}Status"] != "Completed":
            raise StepFailed(step["Name"], job.get("FailureReason") or f"{label} {name} {job[f'{label}Status']}")
        self._properties[step["Name"]] = job
        if cache_key:
            self._cache.put(cache_key, job, record.metadata, self.execution_arn)

    def _run_lambda(self, step: dict, record: StepRecord) -> None:
        """A Lambda step invokes the function with the step's Arguments as the event; each OutputParameter is
        the same key of the function's JSON response. Lambda steps are not cached."""
        if self._invoke is None:
            raise StepFailed(step["Name"], "this local cloud has no functions to invoke")
        record.metadata = {"Lambda": {"Arn": step["FunctionArn"]}}
        response = self._invoke(step["FunctionArn"], self._value(step.get("Arguments", {})), step["Name"])
        missing = [o["OutputName"] for o in step.get("OutputParameters", []) if o["OutputName"] not in response]
        if missing:
            raise StepFailed(step["Name"], f"the function's response lacks the output parameters {missing}")
        outputs = {o["OutputName"]: response[o["OutputName"]] for o in step.get("OutputParameters", [])}
        record.metadata["Lambda"]["OutputParameters"] = [{"Name": k, "Value": str(v)} for k, v in outputs.items()]
        self._properties[step["Name"]] = {"OutputParameters": outputs}

    def _run_registermodel(self, step: dict, record: StepRecord) -> None:
        arguments = self._value(step["Arguments"])
        arn = self._sagemaker.create_model_package(**arguments)["ModelPackageArn"]
        record.metadata = {"RegisterModel": {"Arn": arn}}
        self._properties[step["Name"]] = {"ModelPackageArn": arn}

    def _run_condition(self, step: dict, record: StepRecord) -> list[dict]:
        """Returns the branch to run next: the condition step itself succeeds whatever the outcome."""
        outcome = all(self._condition(condition) for condition in step["Arguments"]["Conditions"])
        record.metadata = {"Condition": {"Outcome": str(outcome)}}
        return step["Arguments"].get("IfSteps" if outcome else "ElseSteps", [])

    def _run_fail(self, step: dict, record: StepRecord) -> None:
        message = str(self._value(step["Arguments"].get("ErrorMessage", "")))
        record.metadata = {"Fail": {"ErrorMessage": message}}
        raise StepFailed(step["Name"], message)

    # Values ----------------------------------------------------------------------------------------------
    def _value(self, expression: Any, for_cache: bool = False) -> Any:
        if isinstance(expression, list):
            return [self._value(item, for_cache) for item in expression]
        if not isinstance(expression, dict):
            return expression
        if set(expression) == {"Get"}:
            return self._get(expression["Get"], for_cache)
        if set(expression) == {"Std:Join"}:
            join = expression["Std:Join"]
            return str(join["On"]).join(_text(self._value(item, for_cache)) for item in join["Values"])
        if set(expression) == {"Std:JsonGet"}:
            return self._json_get(expression["Std:JsonGet"])
        return {key: self._value(item, for_cache) for key, item in expression.items()}

    def _get(self, path: str, for_cache: bool) -> Any:
        scope, _, rest = path.partition(".")
        if scope == "Parameters":
            return self._parameters[rest]
        if scope == "Execution":
            if for_cache:
                return _EXECUTION_MARKER
            return {
                "PipelineExecutionId": self.execution_id,
                "PipelineExecutionArn": self.execution_arn,
                "PipelineName": self.pipeline_name,
                "StartDateTime": self.started.isoformat(),
                "CurrentDateTime": datetime.now(UTC).isoformat(),
            }[rest]
        if scope == "Steps":
            step_name, _, property_path = rest.partition(".")
            return _navigate(self._properties[step_name], property_path)
        raise ValueError(f"unknown reference {path}")

    def _json_get(self, arguments: dict) -> Any:
        reference = arguments["PropertyFile"]["Get"]  # Steps.<step>.PropertyFiles.<name>
        _, step_name, _, file_name = reference.split(".", 3)
        document = self._property_files[step_name][file_name]
        return _navigate(document, arguments["Path"])

    def _condition(self, condition: dict) -> bool:
        kind = condition["Type"]
        if kind == "Not":  # the SDK's ConditionNot writes {"Type": "Not", "Condition": ...}
            return not self._condition(condition["Condition"])
        if kind == "Or":
            return any(self._condition(item) for item in condition["Conditions"])
        if kind == "In":
            value = self._value(condition["QueryValue"])
            return value in [self._value(item) for item in condition["Values"]]
        left, right = self._value(condition["LeftValue"]), self._value(condition["RightValue"])
        compare = {
            "Equals": lambda a, b: a == b,
            "GreaterThan": lambda a, b: a > b,
            "GreaterThanOrEqualTo": lambda a, b: a >= b,
            "LessThan": lambda a, b: a < b,
            "LessThanOrEqualTo": lambda a, b: a <= b,
        }[kind]
        return compare(left, right)


_STEP_RUNNERS: dict[str, Callable[[PipelineRun, dict, StepRecord], list[dict] | None]] = {
    "Processing": PipelineRun._run_processing,
    "Training": PipelineRun._run_training,
    "Tuning": PipelineRun._run_tuning,
    "Lambda": PipelineRun._run_lambda,
    "RegisterModel": PipelineRun._run_registermodel,
    "Condition": PipelineRun._run_condition,
    "Fail": PipelineRun._run_fail,
}


def _parameters(definition: dict, overrides: list[dict]) -> dict[str, Any]:
    types = {"Integer": int, "Float": float, "String": str, "Boolean": lambda v: str(v).lower() == "true"}
    given = {item["Name"]: item["Value"] for item in overrides or []}
    values = {}
    for parameter in definition.get("Parameters", []):
        name = parameter["Name"]
        if name not in given and "DefaultValue" not in parameter:
            raise StepFailed("Parameters", f"parameter {name} has no default and no value was given")
        values[name] = types[parameter.get("Type", "String")](given.get(name, parameter.get("DefaultValue")))
    return values


def _navigate(document: Any, path: str) -> Any:
    """Follow `A.B['name'].C[0]` (SageMaker property paths) or `a.b[0].c` (JsonGet paths)."""
    for attribute, key in re.findall(r"\.?([A-Za-z0-9_:\-]+)|\[([^\]]+)\]", path):
        if attribute:
            document = document[attribute]
        elif key.isdigit():
            document = document[int(key)]
        elif isinstance(document, dict):  # a Lambda step's OutputParameters['name']
            document = document[key.strip("'\"")]
        else:
            name = key.strip("'\"")
            document = next(item for item in document if name in item.values())
    return document


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _references(value: Any) -> set[str]:
    text = json.dumps(value)
    return set(re.findall(r'"Steps\.([A-Za-z0-9_-]+)\.', text))


def _in_dependency_order(steps: list[dict]) -> list[dict]:
    by_name = {step["Name"]: step for step in steps}
    ordered: list[dict] = []

    def visit(step: dict) -> None:
        if step in ordered:
            return
        for name in sorted(set(step.get("DependsOn", [])) | _references(step.get("Arguments", {}))):
            if name in by_name and name != step["Name"]:
                visit(by_name[name])
        ordered.append(step)

    for step in steps:
        visit(step)
    return ordered


def wait_until_finished(describe: Callable[[], dict], status_key: str, interval: float = 0.1) -> dict:
    """`describe()` again until its `status_key` is terminal (Completed, Failed, Stopped); its last answer."""
    while True:
        job = describe()
        if job[status_key] in _TERMINAL:
            return job
        time.sleep(interval)
