"""What the local cloud keeps besides moto's own objects, in one place: the providers read and write it, tests and
the demo read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local_mode.sagemaker.pipelines import PipelineRun, StepCache


@dataclass
class LocalStore:
    runs: dict[str, PipelineRun] = field(default_factory=dict)  # pipeline executions, by execution ARN
    step_caches: dict[str, StepCache] = field(default_factory=dict)  # by pipeline name
    approvals_seen: dict[str, str] = field(default_factory=dict)  # model package ARN -> last approval status
    invocations: list[dict[str, Any]] = field(default_factory=list)  # every delivery and function invocation
