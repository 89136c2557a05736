#!/usr/bin/env python3
"""Scoreline CDK app: reads settings, builds the three stacks, applies the security checks. Nothing else."""

import json
import sys
from pathlib import Path

import aws_cdk as cdk

from pipeline_definitions.build import start_building
from scoreline.layout import TRAINING_INPUT_PREFIX
from scoreline.pipeline_spec import pipeline_spec
from scoreline.settings import SettingsError, load_settings
from stacks.retraining import add_retraining
from stacks.scoring_stack import ScoringStack
from stacks.security import apply_security_checks
from stacks.storage_stack import StorageStack
from stacks.training_stack import TrainingStack


def build_app(app: cdk.App) -> cdk.App:
    settings = load_settings(app.node.get_all_context())
    start_building(pipeline_spec(settings))  # on a cache miss the SDK works while CDK builds the stacks
    env = cdk.Environment(account=settings.account or None, region=settings.region or None)
    prefix = "".join(part.capitalize() for part in settings.project_name.split("-"))
    storage = StorageStack(
        app,
        f"{prefix}Storage",
        project_name=settings.project_name,
        retain=settings.retain_stateful,
        bucket_events_to_eventbridge=settings.retrain_on_new_data,  # retraining on new data listens to them
        model_package_group_name=settings.model_package_group_name,
        use_existing_model_package_group=settings.use_existing_model_package_group,
        env=env,
    )
    training = TrainingStack(
        app, f"{prefix}Training", settings=settings, bucket=storage.bucket, key=storage.key, env=env
    )
    scoring = ScoringStack(
        app,
        f"{prefix}Scoring",
        settings=settings,
        bucket=storage.bucket,
        data_key=storage.key,
        execution_role=training.job_role,  # scoring's models and transform jobs run with it
        pipeline_name=training.pipeline_name,
        drift_check_code=training.drift_check_code,  # the drift check job's script, read by the job role
        env=env,
    )
    if settings.realtime:
        from stacks.serving_stack import ServingStack  # only this option needs API Gateway's module (0.1 s to import)

        ServingStack(
            app,
            f"{prefix}Serving",
            settings=settings,
            data_key=storage.key,
            execution_role=training.job_role,  # the endpoint's models run with it, as scoring's do
            alert_names=scoring.alerts.names,  # the scoring stack's alerts, used by their fixed names
            env=env,
        )
    training.add_pipeline()
    add_retraining(training, settings, storage.bucket, TRAINING_INPUT_PREFIX, training.pipeline)
    for stack in app.node.children:
        cdk.Tags.of(stack).add("project", settings.project_name)
    apply_security_checks(app)
    return app


def cdk_json_context() -> dict:
    """cdk.json's context, so `python app.py` synthesizes the same app as `cdk synth` (the CLI's -c wins)."""
    return json.loads((Path(__file__).parent / "cdk.json").read_text())["context"]


def main() -> None:
    try:
        # CDK's built-in CloudFormation validation (cfn-lint rules in WebAssembly, on by default since 2.27x) costs
        # 2-3 s of every synth, mostly starting its engine, and reports findings only as warnings. `make test`
        # keeps it: the tests synthesize with it on and fail on any finding (tests/stacks/test_builtin_validation.py),
        # beside cfn-lint itself. Off here, as `cdk synth --no-validation` would do.
        app = cdk.App(context=cdk_json_context(), builtin_cloud_formation_validation=False)
        build_app(app).synth()
    except SettingsError as error:
        sys.exit(f"scoreline: {error}")


if __name__ == "__main__":
    main()
