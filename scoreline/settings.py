"""Every Scoreline setting in one typed place, validated once.

Values come from `cdk.json` context (defaults) and `cdk synth -c key=value` overrides. A bad value stops synth
with one sentence naming the setting and what it accepts, instead of a traceback deep inside a construct.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Any, Literal

from aws_cron_expression_validator.validator import AWSCronExpressionValidator
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from scoreline.instance_types import vcpus
from scoreline.tuning import STRATEGIES as TUNING_STRATEGIES

# SageMaker framework images, one place for both the pipeline and the container code's compatibility promise.
# Each must be listed by the pinned SDK for both the training and the inference scope. scikit-learn 1.4-2-py312:
# Python 3.12, scikit-learn 1.4.2, numpy 2.1.0, pandas 2.3.2 (1.4-2, on Python 3.10, is unsupported and listed for
# training only). PyTorch 2.6.0 (py312) is past its end of patch, but it is the newest version sagemaker 3.27.0
# lists for inference (training goes to 2.10.0): revisit with the next SDK that lists a newer inference image.
SKLEARN_IMAGE_VERSION = "1.4-2-py312"
PYTORCH_IMAGE_VERSION = "2.6.0"
PYTORCH_PYTHON_VERSION = "py312"
# XGBoost 3.0-5 (aws/sagemaker-xgboost-container, docker/3.0-5): Python 3.10, xgboost 3.0.5, numpy 2.1.0, pandas 2.2.3,
# scikit-learn 1.5.2; its script mode runs on sagemaker-containers 2.8.6.post2. The SDK lists it for both scopes
# (3.2-0 too, but that image's build files are not published).
XGBOOST_IMAGE_VERSION = "3.0-5"

# A private image in Amazon ECR, as SageMaker takes it: registry/repository[:tag] or registry/repository[@digest]
# (API reference, AlgorithmSpecification.TrainingImage, ContainerDefinition.Image); repository names as ECR allows them.
ECR_IMAGE = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(-[a-z]+)+-[0-9])\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})?$"
)
# Custom image settings -> the pipeline's image use they replace (pipeline_definitions.placeholders).
CUSTOM_IMAGE_USES = {
    "preprocess_image": "preprocess_image",
    "features_serving_image": "features_image",
    "training_image": "training_image",
    "evaluation_image": "evaluation_image",
    "model_serving_image": "inference_image",
}
# CreateTransformJob MaxPayloadInMB: "If you specify the MaxConcurrentTransforms parameter, the value of
# (MaxConcurrentTransforms * MaxPayloadInMB) also cannot exceed 100 MB."
MAX_IN_FLIGHT_MB = 100
_INSTANCE_TYPE = r"^ml\.[a-z0-9]+\.[0-9]*x?large$|^ml\.[a-z0-9]+\.(medium|large|xlarge)$"
_RATE = re.compile(r"^rate\(\s*[1-9][0-9]*\s+(minute|minutes|hour|hours|day|days)\s*\)$")


def _eventbridge_schedule(value: str) -> str:
    """A recurring EventBridge Scheduler expression: cron(...) with six fields or rate(N unit)."""
    if _RATE.match(value):
        return value
    match = re.fullmatch(r"cron\((.*)\)", value.strip())
    if not match:
        raise ValueError("must be cron(...) or rate(N minutes|hours|days)")
    try:
        AWSCronExpressionValidator.validate(match.group(1))
    except ValueError as error:
        raise ValueError(f"is not an EventBridge cron expression ({error})") from None
    return value


# The model flavours (model_flavour): the framework that trains and serves the model container.
FLAVOURS = ("sklearn", "pytorch", "xgboost")

# Metrics the quality gate may use, per problem type; the first is the default (gate_metric=auto). The problem
# type may be inferred only at run time (Preprocess), so Evaluate checks the choice against it again.
GATE_METRICS = {
    "regression": ("rmse", "mae", "r2"),
    "binary": ("auc", "accuracy", "f1", "precision", "recall"),
    "multiclass": ("weighted_f1", "accuracy"),
}


class SettingsError(ValueError):
    """A setting has a value Scoreline cannot use; the message is meant for the user as it is."""


def _comma_separated(value: Any) -> Any:
    """`-c categorical_columns=a,b` arrives as one string; cdk.json may hold a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _name_value_pairs(value: Any) -> Any:
    """`-c training_hyperparameters=epochs=20,patience=5` arrives as one string; cdk.json may hold an object."""
    if isinstance(value, str):
        pairs = [part.partition("=") for part in value.split(",") if part.strip()]
        if any(not separator for _, separator, _ in pairs):
            raise ValueError("must be name=value pairs separated by commas, such as epochs=20,patience=5")
        return {name.strip(): item.strip() for name, _, item in pairs}
    if isinstance(value, dict):
        return {name: str(item) for name, item in value.items()}
    return value


# Training instances each flavour's script can use, with the reason for the limit (README, Instance counts). PyTorch
# trains distributed data parallel on several instances (torchrun, one process per CPU instance; the pipeline's
# Train step then carries the torch_distributed distribution); XGBoost with its own collective (the script joins the
# instances, the first runs the tracker); scikit-learn trains in one process.
TRAINING_INSTANCE_LIMITS: dict[str, tuple[int, str]] = {
    "sklearn": (
        1,
        "scikit-learn's HistGradientBoosting models train in one process, so each extra instance would train "
        "the same model again",
    ),
    "xgboost": (
        8,
        "each instance reads every row and builds the gradient histograms of its share, while every tree level "
        "still exchanges all of them between all instances, so past 8 instances the exchange outgrows each "
        "instance's share of the work",
    ),
    "pytorch": (
        8,
        "each training step's batch (batch-size, 256 rows by default) is split across the instances while every "
        "step still exchanges the whole gradient between all of them, so past 8 instances each would compute 32 "
        "rows or fewer a step and mostly wait for the exchange",
    ),
}


InstanceType = Annotated[str, Field(pattern=_INSTANCE_TYPE)]
HyperparameterName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")]
InstanceCount = Annotated[int, Field(ge=1, le=100)]


def _empty_or_ecr_image(value: str) -> str:
    if value and not ECR_IMAGE.match(value):
        raise ValueError(
            "must be empty or an Amazon ECR image URI such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/"
            "train:1.0 (a tag or @sha256: digest is optional)"
        )
    return value


CustomImage = Annotated[str, AfterValidator(_empty_or_ecr_image)]


class Settings(BaseModel):
    """What a team chooses for its Scoreline deployment (see README, "Settings")."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    project_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{2,19}$")] = "scoreline"
    model_flavour: Literal[FLAVOURS] = "sklearn"
    target_column: Annotated[str, Field(min_length=1)] = "MedHouseVal"
    # auto: Preprocess infers it from the target column (README, Settings); an explicit type must fit the data.
    problem_type: Literal["auto", "regression", "binary", "multiclass"] = "auto"
    gate_metric: Literal["auto", "rmse", "mae", "r2", "auc", "accuracy", "f1", "precision", "recall", "weighted_f1"] = (
        "auto"
    )
    categorical_columns: Annotated[tuple[str, ...], BeforeValidator(_comma_separated)] = ()
    rmse_threshold: Annotated[float, Field(ge=0)] = 0.0
    # The relative quality gate (README, Settings): the candidate's test error (RMSE, or 1 - AUC, 1 - weighted F1,
    # ...) must be at least this fraction below the best baseline's and at most this fraction above the champion's.
    # A negative value lets the candidate be up to that fraction worse than the best baseline (small or nearly
    # linear data, where the linear baseline is as good as any model a short test split can tell apart).
    min_improvement_over_baseline: Annotated[float, Field(gt=-1, lt=1)] = 0.0
    champion_tolerance: Annotated[float, Field(ge=0, le=1)] = 0.0
    # The gate knows its noise (README, "How the quality gate decides"): each check compares the candidate with a
    # baseline or the champion on the same rows, by a seeded paired bootstrap, and decides on this two-sided interval
    # of the difference (Evaluate's GATE_CONFIDENCE holds the same default).
    gate_confidence: Annotated[float, Field(ge=0.5, le=0.999)] = 0.95
    # Small data (README, "Small data"): below this many training and validation rows, Train also cross-validates
    # (5 folds x 3 repeats) and Evaluate judges every row's out-of-fold prediction instead of the small test split.
    cross_validation_below_rows: Annotated[int, Field(ge=0, le=100_000)] = 2000
    training_hyperparameters: Annotated[dict[HyperparameterName, str], BeforeValidator(_name_value_pairs)] = Field(
        default_factory=dict
    )
    # Automatic model tuning (README, "Tuning"), off by default (0): a tuning job of this many training jobs, each
    # scored by cross-validation (scoreline/tuning.py), this many at a time, replaces the Train step. The limits are
    # SageMaker's default quotas ("Resource Limits for Automatic Model Tuning"): 750 trials a job, 10 at a time.
    tuning_max_jobs: Annotated[int, Field(ge=0, le=750)] = 0
    tuning_max_parallel_jobs: Annotated[int, Field(ge=1, le=10)] = 2
    tuning_strategy: Literal[TUNING_STRATEGIES] = "Random"
    processing_instance_type: InstanceType = "ml.m5.xlarge"
    processing_instance_count: InstanceCount = 1
    training_instance_type: InstanceType = "ml.m5.xlarge"
    training_instance_count: InstanceCount = 1
    transform_instance_type: InstanceType = "ml.m5.xlarge"
    transform_instance_count: InstanceCount = 1
    # Custom images (README, Custom images): empty = the framework image of the flavour.
    preprocess_image: CustomImage = ""
    features_serving_image: CustomImage = ""
    training_image: CustomImage = ""
    evaluation_image: CustomImage = ""
    model_serving_image: CustomImage = ""
    transform_max_payload_mb: Annotated[int, Field(ge=1, le=100)] = 6
    # 0 = automatic: one request in flight per vCPU of the transform type, within 100 MB (scoreline/model_servers.py).
    transform_max_concurrent: Annotated[int, Field(ge=0, le=100)] = 0
    transform_input_filter: Annotated[str, Field(pattern=r"^\$")] = "$"
    schedule_expression: str = "cron(0 6 * * ? *)"
    schedule_time_zone: str = "UTC"
    # Training triggers (README, Retraining), both off by default. The retrain schedule uses schedule_time_zone.
    retrain_schedule_expression: str = ""
    retrain_on_new_data: bool = False
    # Minutes of quiet after the last new training object before the pipeline starts; fractions are allowed
    # (0.05 = 3 seconds: EventBridge Scheduler's one-time schedules take a time to the second).
    retrain_debounce_minutes: Annotated[float, Field(gt=0, le=1440)] = 15
    scoring_input_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9{][A-Za-z0-9!_.*'()/{}-]*/$")] = (
        "scoring/input/{date}/"
    )
    scoring_output_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9!_.*'()/-]*/$")] = "scoring/output/"
    # Drift check after every scoring transform job (README, "Drift check"): a feature or the predictions drifted
    # when the population stability index on the training bins is above drift_psi_threshold (0.2, the usual
    # "significant shift" convention) or the null rate moved by more than drift_null_rate_threshold; runs of fewer
    # than drift_min_rows rows are not judged (PSI of a small sample is large by chance).
    drift_check: bool = True
    drift_psi_threshold: Annotated[float, Field(gt=0, le=10)] = 0.2
    drift_null_rate_threshold: Annotated[float, Field(gt=0, le=1)] = 0.1
    drift_min_rows: Annotated[int, Field(ge=1, le=10_000_000)] = 500
    drift_instance_type: InstanceType = "ml.m5.large"
    alert_email: Annotated[str, Field(pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")] = ""
    # 0 = no reservation (default): Lambda keeps a minimum of the account's concurrency unreserved, so in an account
    # whose quota is 10 (new accounts) any reservation is refused and the stack could not be created.
    scoring_reserved_concurrency: Annotated[int, Field(ge=0, le=1000)] = 0
    # Real-time predictions (README, Real-time predictions), off by default: an endpoint behind an HTTPS API that
    # each approval updates. Autoscaling tracks invocations per instance per minute between the min and max count.
    realtime: bool = False
    realtime_instance_type: InstanceType = "ml.m5.large"
    realtime_instance_count: InstanceCount = 1
    realtime_min_instances: InstanceCount = 1
    realtime_max_instances: Annotated[int, Field(ge=1, le=100, validate_default=True)] = 2
    realtime_invocations_per_instance: Annotated[int, Field(ge=1, le=100_000)] = 1000
    realtime_canary_percent: Annotated[int, Field(ge=0, le=50, validate_default=True)] = 0  # 0 = all at once
    realtime_baking_minutes: Annotated[int, Field(ge=0, le=60)] = 10
    realtime_latency_alarm_ms: Annotated[int, Field(ge=1, le=60_000)] = 1000
    realtime_throttle_rate: Annotated[float, Field(gt=0, le=10_000)] = 50
    realtime_throttle_burst: Annotated[int, Field(ge=1, le=5_000)] = 100
    # Access logs need the account's API Gateway CloudWatch role, set once per account and Region outside this app
    # (README, Real-time predictions): off by default, so a fresh account can deploy.
    realtime_access_logs: bool = False
    retain_stateful: bool = True
    # A retained group outlives `cdk destroy`; a new deploy must use it instead of creating it (README, Redeploy).
    use_existing_model_package_group: bool = False
    region: Annotated[str, Field(pattern=r"^$|^[a-z]{2}(-[a-z]+)+-[0-9]$")] = ""
    account: Annotated[str, Field(pattern=r"^$|^[0-9]{12}$")] = ""

    @field_validator("gate_metric")
    @classmethod
    def _gate_metric_fits_the_problem_type(cls, value: str, info) -> str:
        problem_type = info.data.get("problem_type", "auto")
        if value != "auto" and problem_type != "auto" and value not in GATE_METRICS[problem_type]:
            raise ValueError(
                f"must be auto or one of {', '.join(GATE_METRICS[problem_type])} for problem_type {problem_type}"
            )
        return value

    @field_validator("gate_confidence", mode="wrap")
    @classmethod
    def _confidence_in_words(cls, value: Any, handler) -> float:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError("must be a confidence level from 0.5 to 0.999, such as 0.95") from None

    @field_validator("schedule_expression")
    @classmethod
    def _schedule_is_eventbridge_syntax(cls, value: str) -> str:
        return _eventbridge_schedule(value)

    @field_validator("retrain_schedule_expression")
    @classmethod
    def _retrain_schedule_is_empty_or_eventbridge_syntax(cls, value: str) -> str:
        return value and _eventbridge_schedule(value)

    @field_validator("retrain_on_new_data", "drift_check", mode="wrap")
    @classmethod
    def _true_or_false(cls, value: Any, handler) -> bool:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError("must be true or false") from None

    @field_validator("retrain_debounce_minutes", mode="wrap")
    @classmethod
    def _debounce_in_words(cls, value: Any, handler) -> float:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError("must be a number of minutes above 0 and at most 1440 (one day), such as 15") from None

    @field_validator("processing_instance_count")
    @classmethod
    def _one_processing_instance(cls, value: int) -> int:
        # Every processing instance gets the whole input (FullyReplicated, the default S3DataDistributionType).
        if value != 1:
            raise ValueError(
                "must be 1: Preprocess fits its transformer on all rows and Evaluate scores all test rows, so more "
                "instances would repeat the same work"
            )
        return value

    @field_validator("training_instance_count")
    @classmethod
    def _training_instances_the_flavour_uses(cls, value: int, info: ValidationInfo) -> int:
        limit, reason = TRAINING_INSTANCE_LIMITS.get(info.data.get("model_flavour"), (value, ""))
        if value > limit:
            raise ValueError(f"must be at most {limit} for model_flavour {info.data['model_flavour']}: {reason}")
        return value

    @model_validator(mode="after")
    def _tuning_fits_the_training(self):
        if not self.tuning_max_jobs:
            return self
        if self.training_instance_count != 1:
            raise ValueError(
                f"Setting 'tuning_max_jobs' needs training_instance_count 1 (got {self.training_instance_count}): "
                "each trial cross-validates in one process"
            )
        if self.tuning_max_parallel_jobs > self.tuning_max_jobs:
            raise ValueError(
                f"Setting 'tuning_max_parallel_jobs' must be at most tuning_max_jobs ({self.tuning_max_jobs}) "
                f"(got {self.tuning_max_parallel_jobs})"
            )
        return self

    @field_validator("training_hyperparameters")
    @classmethod
    def _no_reserved_hyperparameters(cls, value: dict[str, str]) -> dict[str, str]:
        # SageMaker's framework containers reserve the sagemaker_ prefix (program, code location, region).
        reserved = sorted(name for name in value if name.lower().startswith("sagemaker_"))
        if reserved:
            raise ValueError(f"may not set {', '.join(reserved)}: the sagemaker_ prefix is SageMaker's own")
        return value

    @field_validator("schedule_time_zone")
    @classmethod
    def _time_zone_exists(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as UTC or Europe/Paris") from None
        return value

    @field_validator("transform_instance_type", "realtime_instance_type")
    @classmethod
    def _vcpus_known(cls, value: str) -> str:
        vcpus(value)  # the model servers are sized by them (scoreline/model_servers.py)
        return value

    @field_validator("transform_max_concurrent")
    @classmethod
    def _in_flight_within_100_mb(cls, value: int, info: ValidationInfo) -> int:
        payload = info.data.get("transform_max_payload_mb", 6)
        if value * payload > MAX_IN_FLIGHT_MB:
            raise ValueError(
                f"must be 0 (automatic) or at most {MAX_IN_FLIGHT_MB // payload}, so that times "
                f"transform_max_payload_mb ({payload}) it stays within the {MAX_IN_FLIGHT_MB} MB CreateTransformJob "
                "allows"
            )
        return value

    @field_validator("scoring_input_prefix")
    @classmethod
    def _only_date_placeholder(cls, value: str) -> str:
        placeholders = set(re.findall(r"\{[^}]*\}", value))
        if placeholders - {"{date}"}:
            raise ValueError("may hold only the {date} placeholder")
        return value

    @field_validator("scoring_reserved_concurrency", mode="wrap")
    @classmethod
    def _reserved_concurrency_in_words(cls, value: Any, handler) -> int:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(
                "must be a whole number from 0 (no reservation, the default) to 1000 concurrent executions"
            ) from None

    @field_validator("realtime", "realtime_access_logs", mode="wrap")
    @classmethod
    def _realtime_true_or_false(cls, value: Any, handler) -> bool:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError("must be true or false") from None

    @field_validator("realtime_max_instances")
    @classmethod
    def _realtime_instances_in_order(cls, value: int, info: ValidationInfo) -> int:
        low, initial = info.data.get("realtime_min_instances", 1), info.data.get("realtime_instance_count", 1)
        if not low <= initial <= value:
            raise ValueError(
                f"must be at least realtime_instance_count ({initial}), itself at least realtime_min_instances ({low})"
            )
        return value

    @field_validator("realtime_canary_percent")
    @classmethod
    def _canary_needs_two_instances(cls, value: int, info: ValidationInfo) -> int:
        # TrafficRoutingConfig.CanarySize: at most 50% of the variant's instance count, which autoscaling may bring
        # down to realtime_min_instances.
        if value and info.data.get("realtime_min_instances", 1) < 2:
            raise ValueError(
                "must be 0 (all at once) unless realtime_min_instances is at least 2 "
                "(a canary is at most half the fleet)"
            )
        return value

    @model_validator(mode="after")
    def _custom_images_in_the_deployment_region(self):
        # "the Docker image for inference container in Amazon EC2 Container Registry must be in the same region as
        # the model" (API reference, ContainerDefinition.Image); jobs pull theirs from their region as well.
        images = self.custom_images_by_setting()
        regions = {setting: ECR_IMAGE.match(image)["region"] for setting, image in images.items()}
        for setting, image_region in regions.items():
            if self.region and image_region != self.region:
                raise ValueError(
                    f"Setting '{setting}' must be an image in the deployment region {self.region}, not {image_region} "
                    f"(got {getattr(self, setting)!r})"
                )
        if len(set(regions.values())) > 1:
            named = ", ".join(f"'{setting}' in {region}" for setting, region in regions.items())
            raise ValueError(f"Custom images must all be in the deployment region, but they are in several: {named}")
        return self

    def custom_images_by_setting(self) -> dict[str, str]:
        return {setting: getattr(self, setting) for setting in CUSTOM_IMAGE_USES if getattr(self, setting)}

    @property
    def custom_images(self) -> dict[str, str]:
        """{image use (preprocess_image, features_image, ...): custom image URI} for the uses the settings replace."""
        return {CUSTOM_IMAGE_USES[setting]: image for setting, image in self.custom_images_by_setting().items()}

    @property
    def resource_prefix(self) -> str:
        return self.project_name

    @property
    def model_package_group_name(self) -> str:
        return f"{self.project_name}-models"

    @property
    def pipeline_name(self) -> str:
        return f"{self.project_name}-training"

    @property
    def retraining(self) -> bool:
        """Whether a training trigger is on (README, Retraining)."""
        return bool(self.retrain_schedule_expression or self.retrain_on_new_data)

    @property
    def alert_topic_name(self) -> str:
        """The scoring stack's alert topic; the serving stack publishes to it by this name (no cross-stack export)."""
        return f"{self.project_name}-alerts"

    @property
    def failed_invocations_queue_name(self) -> str:
        """Where Lambda puts an event the scoring or serving function failed on after its retries (scoring stack)."""
        return f"{self.project_name}-scoring-failed-invocations"

    @property
    def retrain_dead_letter_queue_name(self) -> str:
        """Where both training triggers' undeliverable starts wait; the scoring stack alarms on it by this name."""
        return f"{self.project_name}-retrain-dlq"

    @property
    def retrain_schedule_name(self) -> str:
        return f"{self.project_name}-retrain"

    @property
    def retrain_after_new_data_schedule_name(self) -> str:
        """The one-time schedule the debounce function moves later with each new training object."""
        return f"{self.project_name}-retrain-after-new-data"

    @property
    def serving_name_prefix(self) -> str:
        """Models, endpoint configurations and the endpoint the serving function may create start with this."""
        return f"{self.project_name}-serving"

    @property
    def rollback_alarm_names(self) -> tuple[str, str]:
        """The real-time endpoint's rollback alarms (new fleet's error rate, latency): the serving function puts them,
        SageMaker reads them with the model's execution role during a rollout."""
        return (f"{self.project_name}-realtime-new-fleet-errors", f"{self.project_name}-realtime-new-fleet-latency")

    @property
    def serving_rule_names(self) -> tuple[str, str]:
        """The serving stack's rules (model package state, endpoint state); their dead letters go to the scoring
        dead-letter queue, whose policy names them."""
        return (
            f"{self.project_name}-realtime-model-approved-or-rejected",
            f"{self.project_name}-realtime-endpoint-state",
        )

    @property
    def scoring_name_prefix(self) -> str:
        """Models and transform jobs the scoring function may create and stop start with this."""
        return f"{self.project_name}-scoring"

    @property
    def drift_name_prefix(self) -> str:
        """Drift check processing jobs start with this: the scoring job's name with this prefix instead."""
        return f"{self.project_name}-drift"


# Plain words for the settings whose rule is a pattern (pydantic would print the regular expression).
_PATTERN_HELP = {
    "project_name": "must be 3 to 20 lowercase letters, digits or hyphens, starting with a letter",
    "processing_instance_type": "must be a SageMaker instance type such as ml.m5.xlarge",
    "training_instance_type": "must be a SageMaker instance type such as ml.m5.xlarge",
    "transform_instance_type": "must be a SageMaker instance type such as ml.m5.xlarge",
    "transform_input_filter": "must be a JSONPath starting with $, such as $ or $[1:]",
    "scoring_input_prefix": "must be an S3 key prefix ending with /, such as scoring/input/{date}/",
    "scoring_output_prefix": "must be an S3 key prefix ending with /, such as scoring/output/",
    "alert_email": "must be empty or an e-mail address",
    "region": "must be empty or an AWS region such as eu-west-1",
    "account": "must be empty or a 12-digit AWS account id",
    "realtime_instance_type": "must be a SageMaker instance type such as ml.m5.large",
    "drift_instance_type": "must be a SageMaker instance type such as ml.m5.large",
    "training_hyperparameters": "must have names of letters, digits, _ or -, starting with a letter",
}


def _describe(error: dict) -> str:
    setting = ".".join(str(part) for part in error["loc"]) or "settings"
    got = error.get("input")
    if error["type"] == "extra_forbidden":
        return f"Unknown setting '{setting}': remove it or check its spelling (see README, Settings)."
    message = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:  # a rule across settings names them itself
        return f"{message}."
    if error["type"] == "string_pattern_mismatch":
        message = _PATTERN_HELP.get(str(error["loc"][0]), f"must match {error['ctx']['pattern']}")
        setting = str(error["loc"][0])
    return f"Setting '{setting}' {message[0].lower()}{message[1:]} (got {got!r})."


def load_settings(values: dict[str, Any]) -> Settings:
    """Validate raw context values; raise SettingsError with one sentence per bad setting."""
    # CDK's own context keys (feature flags, "aws:cdk:..." switches) all hold ':' or '/'; ours never do.
    known = {key: value for key, value in values.items() if not re.search(r"[:/@]", key)}
    try:
        return Settings(**known)
    except ValidationError as error:
        raise SettingsError(" ".join(_describe(item) for item in error.errors())) from None
