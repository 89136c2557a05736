"""Shared test set-up: offline AWS settings (tests never reach AWS or the network)."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Tests never reach AWS: fake credentials, a fixed region, no instance-metadata probing.
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ.pop("AWS_PROFILE", None)
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def assembly(tmp_path_factory):
    """The default app's cloud assembly, synthesized once per session."""
    from tests.synth_helpers import synth_assembly

    return synth_assembly(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def templates(assembly):
    from tests.synth_helpers import templates_of

    return templates_of(assembly)


# Both training triggers on (README, Retraining): the resources they add exist only in this app.
TRAINING_TRIGGERS = {
    "retrain_schedule_expression": "cron(0 3 ? * MON *)",
    "retrain_on_new_data": True,
    "retrain_debounce_minutes": 10,
}


@pytest.fixture(scope="session")
def training_triggers_assembly(tmp_path_factory):
    from tests.synth_helpers import synth_assembly

    return synth_assembly(tmp_path_factory.mktemp("training-triggers"), **TRAINING_TRIGGERS)


@pytest.fixture(scope="session")
def training_triggers_app(training_triggers_assembly):
    """{stack name: template} of the app with both training triggers on."""
    from tests.synth_helpers import templates_of

    return templates_of(training_triggers_assembly)


# Real-time predictions on (README, Real-time predictions): the serving stack exists only in this app.
REALTIME = {"realtime": True}


@pytest.fixture(scope="session")
def realtime_assembly(tmp_path_factory):
    from tests.synth_helpers import synth_assembly

    return synth_assembly(tmp_path_factory.mktemp("realtime"), **REALTIME)


@pytest.fixture(scope="session")
def realtime_access_logs_app(tmp_path_factory):
    """{stack name: template} with real-time predictions and their API's access logs on (realtime_access_logs)."""
    from tests.synth_helpers import synth

    return synth(tmp_path_factory.mktemp("realtime-access-logs"), **REALTIME, realtime_access_logs=True)


@pytest.fixture(scope="session")
def realtime_app(realtime_assembly):
    """{stack name: template} of the app with real-time predictions on."""
    from tests.synth_helpers import templates_of

    return templates_of(realtime_assembly)


# Modules that run whole pipelines in a local cloud. Their training and processing jobs use every core's OpenMP
# threads, as on their own instance; two such modules side by side on 2 cores oversubscribe OpenMP, whose threads
# spin-wait for each other: measured 10 s alone and 61 s side by side for each of test_local_cloud.py and
# test_retraining.py. Under xdist they form one unit, run one after another on one worker, while the other worker
# takes the rest module by module (as --dist loadfile does). tests/local_mode/test_tuning_jobs.py is not one in
# make test: there its trials fail as they start; its pipeline run is marked slow.
PIPELINE_MODULES = {
    "tests/demo/test_demo.py",
    "tests/demo/test_demo_realtime.py",
    "tests/demo/test_small_data.py",
    "tests/demo/test_xgboost_demo.py",
    "tests/journeys/test_demo_journeys.py",
    "tests/journeys/test_serve_journeys.py",
    "tests/local_mode/test_content_addressed_training.py",
    "tests/local_mode/test_distributed_training.py",
    "tests/local_mode/test_drift_check.py",
    "tests/local_mode/test_failure_reasons.py",
    "tests/local_mode/test_iam_enforcement.py",
    "tests/local_mode/test_local_cloud.py",
    "tests/local_mode/test_retraining.py",
    "tests/local_mode/test_scoring_once.py",
    "tests/registry/test_registry_page.py",
}


def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, with the pipeline modules as one unit (xdist's scheduler hook)."""
    from xdist.scheduler import LoadFileScheduling

    class PipelineModulesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return "pipeline modules" if module in PIPELINE_MODULES else module

    return PipelineModulesTogether(config, log)
