"""A local cloud with one pipeline run's pending version, and the registry page on it (approving allowed)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime

import boto3
import pytest

from local_mode import storage
from registry.aws import Registry
from registry.server import RegistryPage
from tests.local_mode.conftest import (  # noqa: F401 (fixtures)
    cloud_assembly,
    housing,
    local_cloud,
    registered_version,
    run_pipeline,
)

GROUP = "scoreline-models"
SCORING_ROWS = 100


@pytest.fixture(scope="module")
def cloud(cloud_assembly, housing):  # noqa: F811 (replaces the local tests' cloud: fewer rows, a shorter run)
    """The local cloud with 4,000 training rows (the whole data set trains for longer and shows nothing more here),
    and rows to score under today's prefix."""
    with local_cloud(cloud_assembly.parent / "registry-cloud") as started:
        deployment = started.deploy(cloud_assembly)
        bucket = deployment.bucket_for("DataBucket")
        training = housing.head(4000).to_csv(index=False).encode()
        storage.write_object(f"s3://{bucket}/training/input/data.csv", training)
        scoring = deployment.environment_of_function_setting("SCORING_INPUT_URI")["SCORING_INPUT_URI"]
        rows = housing.drop(columns=["MedHouseVal"]).tail(SCORING_ROWS).to_csv(index=False, header=False)
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        storage.write_object(scoring.replace("{date}", today) + "rows.csv", rows.encode())
        yield started


@pytest.fixture(scope="module")
def registered(cloud):
    """The ARN of the pending version one pipeline run registered."""
    execution = run_pipeline(cloud)
    assert execution["PipelineExecutionStatus"] == "Succeeded", execution.get("FailureReason")
    return registered_version(execution)


@pytest.fixture(scope="module")
def page(registered):
    """The page on the local cloud, as `make serve` starts it: approving allowed."""
    started = RegistryPage(Registry(GROUP, boto3.Session()), allow_approve=True).start()
    yield started
    started.stop()


def get(page: RegistryPage, path: str) -> tuple[int, str]:
    """(status, body) of a GET; error statuses are answers too."""
    try:
        with urllib.request.urlopen(page.url.rstrip("/") + path, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def post(page: RegistryPage, path: str, fields: dict) -> tuple[int, str, str]:
    """(status, body, Location) of a form POST, redirects not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(
        page.url.rstrip("/") + path, data=urllib.parse.urlencode(fields).encode(), method="POST"
    )
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=60) as response:
            return response.status, response.read().decode(), response.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers.get("Location", "")
