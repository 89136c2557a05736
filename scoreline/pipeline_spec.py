"""What the pipeline is built from: plain values from the settings, no SDK import (so a cached synth stays light)."""

from __future__ import annotations

from dataclasses import dataclass

from scoreline.settings import (
    PYTORCH_IMAGE_VERSION,
    PYTORCH_PYTHON_VERSION,
    SKLEARN_IMAGE_VERSION,
    XGBOOST_IMAGE_VERSION,
    Settings,
)


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
    min_improvement_over_baseline: float = 0.0
    champion_tolerance: float = 0.0
    # auto | regression | binary | multiclass (Preprocess infers it when auto), and the gate's metric (auto: rmse,
    # auc or weighted_f1 for the problem type Preprocess settles on).
    problem_type: str = "auto"
    gate_metric: str = "auto"
    # The level of the gate's paired-bootstrap intervals (Evaluate's --confidence).
    gate_confidence: float = 0.95
    # Train cross-validates when the training and validation splits hold fewer rows than this (0 = never).
    cross_validation_below_rows: int = 2000
    # Tuning (0 = off: a Train step); otherwise a Tune step of this many trials under the strategy.
    tuning_max_jobs: int = 0
    tuning_max_parallel_jobs: int = 2
    tuning_strategy: str = "Random"


def pipeline_spec(settings: Settings) -> PipelineSpec:
    return PipelineSpec(
        pipeline_name=settings.pipeline_name,
        model_package_group_name=settings.model_package_group_name,
        flavour=settings.model_flavour,
        target_column=settings.target_column,
        problem_type=settings.problem_type,
        gate_metric=settings.gate_metric,
        gate_confidence=settings.gate_confidence,
        cross_validation_below_rows=settings.cross_validation_below_rows,
        tuning_max_jobs=settings.tuning_max_jobs,
        tuning_max_parallel_jobs=settings.tuning_max_parallel_jobs,
        tuning_strategy=settings.tuning_strategy,
        categorical_columns=settings.categorical_columns,
        rmse_threshold=settings.rmse_threshold,
        min_improvement_over_baseline=settings.min_improvement_over_baseline,
        champion_tolerance=settings.champion_tolerance,
        processing_instance_type=settings.processing_instance_type,
        processing_instance_count=settings.processing_instance_count,
        training_instance_type=settings.training_instance_type,
        training_instance_count=settings.training_instance_count,
        transform_instance_type=settings.transform_instance_type,
        hyperparameters=tuple(sorted(settings.training_hyperparameters.items())),
        image_versions=(
            ("sklearn", SKLEARN_IMAGE_VERSION),
            ("pytorch", PYTORCH_IMAGE_VERSION),
            ("pytorch_python", PYTORCH_PYTHON_VERSION),
            ("xgboost", XGBOOST_IMAGE_VERSION),
        ),
    )
