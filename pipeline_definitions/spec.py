"""What the pipeline is built from: plain values, no SDK import (so a cached synth stays light)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PipelineSpec:
    """Settings the definition depends on; deploy-time values come from `placeholders.PLACEHOLDERS`."""

    pipeline_name: str
    model_package_group_name: str
    flavour: str
    target_column: str
    categorical_columns: tuple[str, ...]
    rmse_threshold: float
    processing_instance_type: str
    processing_instance_count: int
    training_instance_type: str
    training_instance_count: int
    transform_instance_type: str
    # ("sklearn", "1.4-2-py312"), ("pytorch", "2.6.0"), ("pytorch_python", "py312")
    image_versions: tuple[tuple[str, str], ...]
    hyperparameters: tuple[tuple[str, str], ...] = ()
    max_runtime_seconds: int = 3600
    # The relative gate: beat the best baseline's test RMSE by this fraction, and be at most this fraction worse
    # than the champion's (the approved version's) test RMSE on the same rows.
    min_improvement_over_baseline: float = 0.05
    champion_tolerance: float = 0.0
    # auto | regression | binary | multiclass (Preprocess infers it when auto), and the gate's metric (auto: rmse,
    # auc or weighted_f1 for the problem type Preprocess settles on).
    problem_type: str = "auto"
    gate_metric: str = "auto"
