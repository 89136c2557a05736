"""The registry page on the local cloud after one pipeline run: what each view shows, the approval it makes, and
one sentence for every kind of bad input."""

from __future__ import annotations

import html
import os
import re
import shlex
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest

from registry.aws import Registry
from registry.server import RegistryPage
from tests.conftest import REPO_ROOT
from tests.local_mode.conftest import job_role, registered_version, run_pipeline, wait_for
from tests.registry.browser import chromium_page
from tests.registry.conftest import GROUP, get, post


def text(body: str) -> str:
    """What a person reads: tags and styles stripped, entities left as they are."""
    return " ".join(re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", body, flags=re.S)).split())


def problem(body: str) -> str:
    """The page's one sentence, as a person reads it."""
    return html.unescape(re.search(r'<p class="problem" role="alert">(.*?)</p>', body).group(1))


def test_group_view_lists_the_version_with_its_gate_and_headline_metric(page):
    status, body = get(page, "/")
    assert status == 200
    shown = text(body)
    assert "version 1 Pending approval" in shown
    assert re.search(r"passed RMSE 0\.\d+", shown), shown
    assert "No version is approved" in shown


def test_version_view_shows_metrics_baselines_gate_manifest_and_containers(page):
    status, body = get(page, "/versions/1")
    assert status == 200
    shown = text(body)
    assert re.search(r"Passed: test RMSE 0\.\d+ against the required at most", shown), shown
    assert "linear model (baseline)" in shown and "training mean (baseline)" in shown
    assert re.search(r"training/manifests/[0-9a-f]{64}\.json", shown)
    assert "data.csv" in shown
    assert shown.count("SAGEMAKER_PROGRAM=inference.py") == 2
    assert "<svg" in body and "No transform job has scored with this version yet." in shown
    assert "<title>Predicted against actual (test rows)</title>" in body and body.count("<circle ") == 300
    assert "<script" not in body


def test_confirmation_says_what_approving_does_and_sends_a_post(page):
    status, body = get(page, "/versions/1/approve")
    assert status == 200
    assert "ModelApprovalStatus=Approved" in text(body)
    assert '<form method="post" action="/versions/1/approve">' in body


def test_a_post_without_the_page_token_changes_nothing(page, registered):
    status, body, _ = post(page, "/versions/1/approve", {"token": "forged"})
    assert status == 403 and "This form is not from this page" in text(body)
    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=registered)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"


@pytest.mark.parametrize(
    "path, status, sentence",
    [
        ("/versions/7", 404, "version 7 is not in group 'scoreline-models' (it may have been deleted)"),
        ("/compare?a=1", 400, "Compare needs two version numbers, as /compare?a=1&b=2."),
        ("/nothing", 404, "There is no page at /nothing: start from the group page."),
    ],
)
def test_bad_input_is_one_sentence(page, path, status, sentence):
    answer, body = get(page, path)
    assert answer == status
    assert problem(body) == sentence
    assert "Traceback" not in body


def test_an_unknown_group_is_one_sentence(registered):
    page = RegistryPage(Registry("no-such-group", boto3.Session())).start()
    try:
        status, body = get(page, "/")
    finally:
        page.stop()
    assert status == 502
    assert problem(body) == (
        "DescribeModelPackageGroup 'no-such-group' in us-east-1 failed: ValidationException: ModelPackageGroup "
        "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/no-such-group does not exist."
    )


def test_a_refused_permission_is_one_sentence(cloud, registered, monkeypatch):
    """The job role's credentials, which may not read the registry: the local cloud evaluates its policies."""
    for name, value in cloud.clients.environment(job_role()).items():
        monkeypatch.setenv(name, value)
    page = RegistryPage(Registry(GROUP, boto3.Session())).start()
    try:
        status, body = get(page, "/")
    finally:
        page.stop()
    assert status == 502
    assert problem(body).startswith(
        "AWS refused DescribeModelPackageGroup 'scoreline-models' in us-east-1 to these credentials: "
    ), problem(body)


def test_read_only_page_shows_no_buttons_and_refuses_a_change(registered):
    page = RegistryPage(Registry(GROUP, boto3.Session())).start()
    try:
        _, body = get(page, "/versions/1")
        refused, refusal, _ = post(page, "/versions/1/approve", {"token": page.token})
    finally:
        page.stop()
    assert "Approve…" not in body and "Read-only" in text(body)
    assert refused == 403 and "This page is read-only: start it with --allow-approve" in text(refusal)


def test_everything_shown_is_escaped(page, registered):
    """An approval description is anyone's text: it shows as text, never as markup."""
    boto3.client("sagemaker").update_model_package(
        ModelPackageArn=registered,
        ModelApprovalStatus="PendingManualApproval",
        ApprovalDescription='<script>alert("x")</script>',
    )
    _, body = get(page, "/versions/1")
    assert "<script>" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    boto3.client("sagemaker").update_model_package(  # the README's screenshots, taken later, show a person's words
        ModelPackageArn=registered,
        ModelApprovalStatus="PendingManualApproval",
        ApprovalDescription="Trained on the demo data; waiting for a look at its metrics",
    )


def readme_command(endpoint: str, port: int) -> list[str]:
    """The README's command for the page on `make serve`'s local cloud, with this test's cloud and a free port."""
    found = re.search(r"<!-- registry-page -->\n```bash\n(.*?)\n```", (REPO_ROOT / "README.md").read_text(), re.S)
    line = found.group(1).split("#")[0].strip()
    return shlex.split(line.replace("http://127.0.0.1:4566", endpoint).replace("--port 8080", f"--port {port}"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def started_as_the_readme_says(cloud) -> Iterator[str]:
    """`python -m registry ...` as the README writes it, in its own process; its URL."""
    environment = {**os.environ, **cloud.environment()}
    environment.pop("AWS_ENDPOINT_URL")  # the command's --endpoint-url says where the cloud is
    process = subprocess.Popen(
        readme_command(cloud.endpoint, free_port()),
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        printed = process.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/) \(approving allowed\)", printed)
        assert found, printed + process.stdout.read() if process.poll() is not None else printed
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


def shot(browser, name: str) -> None:
    """A screenshot of the whole page into docs/, where the README shows it."""
    browser.screenshot(path=str(REPO_ROOT / "docs" / f"registry-{name}.png"), full_page=True)


def test_in_chromium_a_person_approves_the_version_and_sees_its_scoring_job(cloud, registered):
    with started_as_the_readme_says(cloud) as url, chromium_page() as browser:
        browser.goto(url)
        assert re.search(r"version 1\s+Pending approval", browser.inner_text("table"))
        shot(browser, "group")
        browser.get_by_role("link", name="version 1").click()
        body = browser.inner_text("body")
        assert "Passed: test RMSE" in body and "linear model (baseline)" in body
        shot(browser, "version")
        browser.get_by_role("button", name="Approve…").click()
        assert "ModelApprovalStatus=Approved" in browser.inner_text("body")
        browser.fill("textarea[name=description]", "RMSE well below the linear model")
        shot(browser, "confirm")
        browser.get_by_role("button", name="Approve version 1").click()
        assert browser.wait_for_selector(".notice").inner_text() == "Version 1 is now Approved."

        def scored() -> bool:
            browser.reload()
            return re.search(r"scoreline-scoring-v1-\S+\s+Completed", browser.inner_text("body")) is not None

        wait_for(scored, timeout=120, interval=0.5)
        assert "100" in browser.inner_text("text=Scoring runs >> xpath=following-sibling::table[1]")
        shot(browser, "approved")
        # A second run on the same data: its candidate is measured against version 1, now the champion.
        second = registered_version(run_pipeline(cloud))
        assert second.endswith("/2")
        browser.goto(f"{url}compare?a=2&b=1")
        assert "Version 2 compared with version 1" in browser.inner_text("h1")
        shot(browser, "compare")


def test_reject_with_a_description_sets_the_status(page, registered):
    status, _, location = post(page, "/versions/1/reject", {"token": page.token, "description": "not yet"})
    assert status == 303 and location.startswith("/versions/1?notice=")
    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=registered)
    assert (package["ModelApprovalStatus"], package["ApprovalDescription"]) == ("Rejected", "not yet")
    _, body = get(page, location)
    assert "Version 1 is now Rejected." in text(body)
    wait_for(lambda: "Rejected" in text(get(page, "/")[1]))
