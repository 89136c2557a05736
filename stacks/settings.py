"""Every Scoreline setting in one typed place, validated once.

Values come from `cdk.json` context (defaults) and `cdk synth -c key=value` overrides. A bad value stops synth
with one sentence naming the setting and what it accepts, instead of a traceback deep inside a construct.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Any, Literal

from aws_cron_expression_validator.validator import AWSCronExpressionValidator
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

# SageMaker framework images, one place for both the pipeline and the container code's compatibility promise.
# Each must be listed by the pinned SDK for both the training and the inference scope. scikit-learn 1.4-2-py312:
# Python 3.12, scikit-learn 1.4.2, numpy 2.1.0, pandas 2.3.2 (1.4-2, on Python 3.10, is unsupported and listed for
# training only). PyTorch 2.6.0 (py312) is past its end of patch, but it is the newest version sagemaker 3.27.0
# lists for inference (training goes to 2.10.0): revisit with the next SDK that lists a newer inference image.
SKLEARN_IMAGE_VERSION = "1.4-2-py312"
PYTORCH_IMAGE_VERSION = "2.6.0"
PYTORCH_PYTHON_VERSION = "py312"

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


# Training instances each flavour's script can use, with the reason for the limit (README, Instance counts). A flavour
# that trains distributed (a later XGBoost flavour, say) adds its own entry; one without an entry has no limit here.
TRAINING_INSTANCE_LIMITS: dict[str, tuple[int, str]] = {
    "sklearn": (
        1,
        "scikit-learn's HistGradientBoostingRegressor trains in one process, so each extra instance would train "
        "the same model again",
    ),
    "pytorch": (
        1,
        "the PyTorch script trains in one process; distributed data parallel (torchrun) is not built yet, so each "
        "extra instance would train the same model again",
    ),
}


InstanceType = Annotated[str, Field(pattern=_INSTANCE_TYPE)]
HyperparameterName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")]
InstanceCount = Annotated[int, Field(ge=1, le=100)]


class Settings(BaseModel):
    """What a team chooses for its Scoreline deployment (see README, "Settings")."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    project_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{2,19}$")] = "scoreline"
    model_flavour: Literal["sklearn", "pytorch"] = "sklearn"
    target_column: Annotated[str, Field(min_length=1)] = "MedHouseVal"
    categorical_columns: Annotated[tuple[str, ...], BeforeValidator(_comma_separated)] = ()
    rmse_threshold: Annotated[float, Field(ge=0)] = 0.0
    # The relative quality gate (README, Settings): the candidate's test RMSE must be at least this fraction below
    # the best baseline's (training mean, linear model) and at most this fraction above the champion's.
    min_improvement_over_baseline: Annotated[float, Field(ge=0, lt=1)] = 0.05
    champion_tolerance: Annotated[float, Field(ge=0, le=1)] = 0.0
    training_hyperparameters: Annotated[dict[HyperparameterName, str], BeforeValidator(_name_value_pairs)] = Field(
        default_factory=dict
    )
    processing_instance_type: InstanceType = "ml.m5.xlarge"
    processing_instance_count: InstanceCount = 1
    training_instance_type: InstanceType = "ml.m5.xlarge"
    training_instance_count: InstanceCount = 1
    transform_instance_type: InstanceType = "ml.m5.xlarge"
    transform_instance_count: InstanceCount = 1
    transform_max_payload_mb: Annotated[int, Field(ge=1, le=100)] = 6
    transform_max_concurrent: Annotated[int, Field(ge=1, le=100)] = 1
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
    alert_email: Annotated[str, Field(pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")] = ""
    # 0 = no reservation (default): Lambda keeps a minimum of the account's concurrency unreserved, so in an account
    # whose quota is 10 (new accounts) any reservation is refused and the stack could not be created.
    scoring_reserved_concurrency: Annotated[int, Field(ge=0, le=1000)] = 0
    retain_stateful: bool = True
    # A retained group outlives `cdk destroy`; a new deploy must use it instead of creating it (README, Redeploy).
    use_existing_model_package_group: bool = False
    region: Annotated[str, Field(pattern=r"^$|^[a-z]{2}(-[a-z]+)+-[0-9]$")] = ""
    account: Annotated[str, Field(pattern=r"^$|^[0-9]{12}$")] = ""

    @field_validator("schedule_expression")
    @classmethod
    def _schedule_is_eventbridge_syntax(cls, value: str) -> str:
        return _eventbridge_schedule(value)

    @field_validator("retrain_schedule_expression")
    @classmethod
    def _retrain_schedule_is_empty_or_eventbridge_syntax(cls, value: str) -> str:
        return value and _eventbridge_schedule(value)

    @field_validator("retrain_on_new_data", mode="wrap")
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
    def retrain_schedule_name(self) -> str:
        return f"{self.project_name}-retrain"

    @property
    def retrain_after_new_data_schedule_name(self) -> str:
        """The one-time schedule the debounce function moves later with each new training object."""
        return f"{self.project_name}-retrain-after-new-data"

    @property
    def scoring_name_prefix(self) -> str:
        """Models and transform jobs the scoring function may create and stop start with this."""
        return f"{self.project_name}-scoring"


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
    "training_hyperparameters": "must have names of letters, digits, _ or -, starting with a letter",
}


def _describe(error: dict) -> str:
    setting = ".".join(str(part) for part in error["loc"]) or "settings"
    got = error.get("input")
    if error["type"] == "extra_forbidden":
        return f"Unknown setting '{setting}': remove it or check its spelling (see README, Settings)."
    message = error["msg"].removeprefix("Value error, ")
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
