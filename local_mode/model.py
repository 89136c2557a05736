"""What the local cloud deployed, as its services look it up: functions, rules and their targets, alarms,
schedules, custom resources and stacks (the deployer, cloudformation/deploy.py, fills a Deployment; Lambda, the event
bus, the Scheduler and SageMaker read it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass
class Function:
    """A deployed Lambda function: its code folder from the assembly, handler and environment."""

    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    role_arn: str = ""
    # The function's resource-based policy, one statement per AWS::Lambda::Permission.
    permissions: list[dict[str, Any]] = field(default_factory=list)
    # Asynchronous invocation (AWS::Lambda::EventInvokeConfig); without one, Lambda's defaults: 2 retries, 6 hours.
    async_retries: int = 2
    max_event_age_seconds: int = 6 * 3600
    on_failure_arn: str | None = None


@dataclass
class Target:
    arn: str
    input: str | None = None
    retry_attempts: int = 185
    dead_letter_arn: str | None = None
    role_arn: str | None = None  # a schedule's execution role; rules deliver as events.amazonaws.com
    # A SageMaker pipeline target's SageMakerPipelineParameters.PipelineParameterList; None when it has none.
    pipeline_parameters: list[dict[str, str]] | None = None

    @classmethod
    def from_definition(cls, properties: dict) -> Target:
        """A rule or schedule target from its template properties; GetSchedule returns the same fields."""
        retry = properties.get("RetryPolicy", {})
        pipeline = properties.get("SageMakerPipelineParameters")
        return cls(
            arn=properties["Arn"],
            input=properties.get("Input"),
            retry_attempts=int(retry.get("MaximumRetryAttempts", 185)),
            dead_letter_arn=properties.get("DeadLetterConfig", {}).get("Arn"),
            role_arn=properties.get("RoleArn"),
            pipeline_parameters=None if pipeline is None else list(pipeline.get("PipelineParameterList", [])),
        )


@dataclass
class Rule:
    name: str
    pattern: dict[str, Any]
    targets: list[Target]
    arn: str = ""


@dataclass
class Alarm:
    name: str
    arn: str
    actions: list[str]


@dataclass
class Schedule:
    name: str
    expression: str
    time_zone: str
    target: Target
    group: str = "default"


@dataclass
class CustomResource:
    """A custom resource (AWS::CloudFormation::CustomResource or Custom::*) whose ServiceToken is a function."""

    stack_id: str
    logical_id: str
    resource_type: str
    service_token: str
    properties: dict[str, Any]
    physical_id: str = ""


@dataclass
class DeployedStack:
    """A stack as DescribeStacks shows it (moto serializes these snake_case fields as the API's members), with what
    its deletion needs: its resources in creation order (logical id, type, physical id) and the exports it imports."""

    stack_name: str
    stack_id: str
    creation_time: datetime
    outputs: list[dict[str, str]]
    stack_status: str = "CREATE_COMPLETE"
    stack_status_reason: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    resources: list[tuple[str, str, Any]] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)

    @property
    def exports(self) -> list[str]:
        return [output["ExportName"] for output in self.outputs if "ExportName" in output]

    def point_output(self, old_prefix: str, new_value: str) -> None:
        """Outputs whose value starts with `old_prefix` (an AWS URL local mode serves elsewhere) show `new_value`."""
        for output in self.outputs:
            if output["OutputValue"].startswith(old_prefix):
                output["OutputValue"] = new_value


@dataclass
class Deployment:
    """What the app deployed: looked up by the job runner, the event bus and the demo."""

    account: str
    region: str
    functions: dict[str, Function] = field(default_factory=dict)  # by ARN
    rules: list[Rule] = field(default_factory=list)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    pipelines: list[str] = field(default_factory=list)
    buckets: dict[str, str] = field(default_factory=dict)  # logical id -> bucket name
    queues: dict[str, str] = field(default_factory=dict)  # ARN -> URL
    alarms: dict[str, Alarm] = field(default_factory=dict)  # by name
    custom_resources: list[CustomResource] = field(default_factory=list)
    stacks: list[DeployedStack] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def bucket_for(self, logical_prefix: str) -> str:
        return next(name for logical_id, name in self.buckets.items() if logical_id.startswith(logical_prefix))

    def environment_of_function_setting(self, variable: str) -> dict[str, str]:
        """The environment of the deployed function that sets `variable` (say SCORING_INPUT_URI: the scoring one)."""
        return next(f.environment for f in self.functions.values() if variable in f.environment)
