"""Hyperparameter tuning jobs run as SageMaker runs them: MaxNumberOfTrainingJobs training jobs, at most
MaxParallelTrainingJobs at a time, each with the definition's StaticHyperParameters and one configuration drawn from
its ParameterRanges; each trial's objective is the last value its metric definition's regex finds in the trial's log
(the final metric, local_mode/sagemaker/jobs.py); the best trial is the one with the lowest (Minimize) or highest
(Maximize) objective; after ATTEMPTS_WITHOUT_SUCCESS trials without an objective no more start and the job fails.
ListTrainingJobsForHyperParameterTuningJob lists the trials ("If the value of this field is
FinalObjectiveMetricValue, any training jobs that did not return an objective metric are not listed").

Random search as the API describes it ("How Hyperparameter Tuning Works": random search "chooses a random combination
of values from within the ranges that you specify"): each range is drawn independently, Logarithmic ranges
uniformly in log space (ReverseLogarithmic in log(1 - x)), integers rounded, categorical values uniformly, from the
job's RandomSeed.

LIMITATIONS (README, "Tuning"): Bayesian search runs as random search (SageMaker's Bayesian optimiser is not
public); Grid, Hyperband and early stopping fail the job (`refusal`); warm start, MaxRuntimeInSeconds and completion
criteria are ignored; the draws differ from SageMaker's for the same RandomSeed; no "SageMaker HyperParameter Tuning
Job State Change" event is sent; trial jobs are named <tuning job>-<NNN>-<8 hex>, but DescribeTrainingJob does not
return their TuningJobArn."""

from __future__ import annotations

import math
import random
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from local_mode.sagemaker.pipelines import wait_until_finished

_SUPPORTED_STRATEGIES = ("Random", "Bayesian")
# SageMaker stops a tuning job whose first trials all fail, with the reason "No training job succeeded after 5
# attempts. Please take a look at the training job failures to get more details." (as failed jobs report it,
# aws/amazon-sagemaker-examples#2437; the limit is not in the API reference).
ATTEMPTS_WITHOUT_SUCCESS = 5


# HyperParameterTuningJobName: "Pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}" (API reference).
_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")


def invalid_request(name: str, config: dict) -> str:
    """What SageMaker refuses in CreateHyperParameterTuningJob that botocore does not check ('' when valid): the
    name's pattern and length, and a Logarithmic range reaching 0 or below ("Logarithmic scaling works only for
    ranges that have only values greater than 0", API reference, ContinuousParameterRange, IntegerParameterRange)."""
    if not _NAME.fullmatch(name):
        return f"HyperParameterTuningJobName {name!r} must be 1-32 letters, digits or hyphens, not starting with one"
    for kind in ("ContinuousParameterRanges", "IntegerParameterRanges"):
        for item in config.get("ParameterRanges", {}).get(kind, []):
            low, high, scaling = float(item["MinValue"]), float(item["MaxValue"]), item.get("ScalingType")
            if scaling == "Logarithmic" and low <= 0:
                return f"{item['Name']}: Logarithmic scaling works only for ranges of values greater than 0"
            # "Reverse logarithmic scaling works only for ranges that are entirely within the range 0<=x<1.0", and
            # only for continuous ranges (IntegerParameterRange lists no ReverseLogarithmic use).
            if scaling == "ReverseLogarithmic" and (kind == "IntegerParameterRanges" or low < 0 or high >= 1):
                return f"{item['Name']}: Reverse logarithmic scaling works only for continuous ranges within 0 <= x < 1"
    return ""


def refusal(config: dict) -> str:
    """Why the local cloud cannot run this tuning configuration ('' when it can)."""
    if config["Strategy"] not in _SUPPORTED_STRATEGIES:
        return f"local mode runs Random and Bayesian (as Random) tuning, not {config['Strategy']}"
    if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
        return "local mode does not stop tuning trials early: TrainingJobEarlyStoppingType must be Off"
    return ""


def configurations(ranges: dict, count: int, seed: int) -> list[dict[str, str]]:
    """`count` random draws from the ranges (the API's ParameterRanges), as the strings HyperParameters holds."""
    generator = random.Random(seed)
    drawn = []
    for _ in range(count):
        values = {}
        for item in ranges.get("ContinuousParameterRanges", []):
            values[item["Name"]] = repr(_draw(generator, item))
        for item in ranges.get("IntegerParameterRanges", []):
            values[item["Name"]] = str(int(round(_draw(generator, item))))
        for item in ranges.get("CategoricalParameterRanges", []):
            values[item["Name"]] = generator.choice(item["Values"])
        drawn.append(values)
    return drawn


def _draw(generator: random.Random, item: dict) -> float:
    """Linear (and Auto): uniform; Logarithmic: uniform in log x; ReverseLogarithmic (0 <= x < 1): uniform in
    log(1 - x), dense near 1 (API reference, ContinuousParameterRange ScalingType)."""
    low, high = float(item["MinValue"]), float(item["MaxValue"])
    if item.get("ScalingType") == "Logarithmic":
        return math.exp(generator.uniform(math.log(low), math.log(high)))
    if item.get("ScalingType") == "ReverseLogarithmic":
        return 1 - math.exp(generator.uniform(math.log(1 - high), math.log(1 - low)))
    return generator.uniform(low, high)


def run(job, sagemaker) -> None:
    """Run the moto tuning job `job` to its end: its trials through `sagemaker` (the local cloud's API, so each is a
    training job the local cloud runs), then its status, counters, best trial and `local_trials` (the summaries
    ListTrainingJobsForHyperParameterTuningJob returns)."""
    config, definition = job.hyper_parameter_tuning_job_config, job.training_job_definition
    job.local_trials = []
    refused = refusal(config)
    if refused:
        job.hyper_parameter_tuning_job_status, job.failure_reason = "Failed", refused
        return
    limits, objective = config["ResourceLimits"], config["HyperParameterTuningJobObjective"]
    ranges, seed = config.get("ParameterRanges", {}), config.get("RandomSeed", 0)
    drawn = configurations(ranges, limits["MaxNumberOfTrainingJobs"], seed)

    outcomes: list[str] = []

    def trial(numbered: tuple[int, dict]) -> dict | None:
        if len(outcomes) >= ATTEMPTS_WITHOUT_SUCCESS and "Succeeded" not in outcomes:
            return None  # SageMaker has given up: no more trials start
        number, tuned = numbered
        summary = _run_trial(sagemaker, job.hyper_parameter_tuning_job_name, number, definition, tuned, objective)
        outcomes.append(summary["ObjectiveStatus"])
        return summary

    with ThreadPoolExecutor(limits["MaxParallelTrainingJobs"], thread_name_prefix="local-tuning") as pool:
        job.local_trials = [summary for summary in pool.map(trial, enumerate(drawn, 1)) if summary]
    _finish(job, objective)


def _run_trial(sagemaker, tuning_name: str, number: int, definition: dict, tuned: dict, objective: dict) -> dict:
    name = f"{tuning_name}-{number:03d}-{secrets.token_hex(4)}"
    request = {
        key: definition[key]
        for key in (
            "AlgorithmSpecification", "RoleArn", "InputDataConfig", "OutputDataConfig", "ResourceConfig",
            "StoppingCondition", "VpcConfig", "EnableNetworkIsolation", "Environment",
        )
        if definition.get(key) is not None
    }  # fmt: skip
    # "Automatic model tuning automatically sends an additional hyperparameter, _tuning_objective_metric" ("Define
    # metrics and environment variables"): the training script receives it like the others.
    objective_name = {"_tuning_objective_metric": objective["MetricName"]}
    request["HyperParameters"] = {**definition.get("StaticHyperParameters", {}), **tuned, **objective_name}
    created = datetime.now(UTC)
    sagemaker.create_training_job(TrainingJobName=name, **request)
    described = wait_until_finished(lambda: sagemaker.describe_training_job(TrainingJobName=name), "TrainingJobStatus")
    summary = {
        "TrainingJobName": name,
        "TrainingJobArn": described["TrainingJobArn"],
        "TuningJobName": tuning_name,
        "CreationTime": created,
        "TrainingEndTime": described.get("TrainingEndTime", datetime.now(UTC)),
        "TrainingJobStatus": described["TrainingJobStatus"],
        "TunedHyperParameters": tuned,
    }
    value = next(
        (m["Value"] for m in described.get("FinalMetricDataList", []) if m["MetricName"] == objective["MetricName"]),
        None,
    )
    if described["TrainingJobStatus"] == "Completed" and value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {**objective, "Value": value}
        summary["ObjectiveStatus"] = "Succeeded"
    else:
        summary["ObjectiveStatus"] = "Failed"
        summary["FailureReason"] = described.get("FailureReason") or (
            f"the training job logged no {objective['MetricName']} objective metric"
        )
    return summary


def _finish(job, objective: dict) -> None:
    scored = ranked(job.local_trials, objective["Type"])
    statuses = [trial["TrainingJobStatus"] for trial in job.local_trials]
    job.training_job_status_counters = {
        "Completed": statuses.count("Completed"),
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": statuses.count("Failed"),
        "Stopped": statuses.count("Stopped"),
    }
    job.objective_status_counters = {"Succeeded": len(scored), "Pending": 0, "Failed": len(statuses) - len(scored)}
    job.best_training_job = scored[0] if scored else None
    job.OverallBestTrainingJob = None  # documented for warm-start tuning only
    job.hyper_parameter_tuning_job_status = "Completed" if scored else "Failed"
    if not scored:  # each trial's own reason is its FailureReason
        job.failure_reason = (
            f"No training job succeeded after {len(job.local_trials)} attempts. Please take a look at the training "
            "job failures to get more details."
        )
    job.tuning_job_completion_details = {}
    job.consumed_resources = {}
    job.hyper_parameter_tuning_end_time = job.last_modified_time = datetime.now(UTC)


def ranked(trials: list[dict], objective_type: str) -> list[dict]:
    """The trials that returned an objective, best first."""
    scored = [trial for trial in trials if "FinalHyperParameterTuningJobObjectiveMetric" in trial]
    return sorted(
        scored,
        key=lambda trial: trial["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
        reverse=objective_type == "Maximize",
    )
