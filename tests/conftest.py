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
