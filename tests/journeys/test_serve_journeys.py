"""The README's `make serve` sessions with the AWS CLI (and curl), walked as written from the root of a fresh copy of
the repository, with the Makefile's targets and every default (tests/journeys/readme.py says how blocks are read)."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.journeys.readme import Command, Session, walked

WALKED = {"serve", "serve-realtime", "serve-retrain"}
_LISTED_OUTPUT = re.compile(r"(scoring/output/([^/\s]+)/(\S+\.out))$")


def scored_outputs(listing: str) -> dict[str, list[str]]:
    """{transform job name: its output files} from `aws s3 ls --recursive .../scoring/output/`."""
    jobs: dict[str, list[str]] = {}
    for line in listing.splitlines():
        if match := _LISTED_OUTPUT.search(line.strip()):
            jobs.setdefault(match.group(2), []).append(match.group(3))
    return {job: sorted(files) for job, files in jobs.items()}


def assert_joined(session: Session, job: str, file: str) -> None:
    """Each line of the output is the input row followed by one number, the prediction."""
    printed = session.run(Command(f"aws s3 cp s3://$BUCKET/scoring/output/{job}/{file} -"))
    rows = (session.root / file.removesuffix(".out")).read_text().splitlines()
    lines = printed.splitlines()
    assert len(lines) == len(rows) == 1000
    for row, line in zip(rows, lines, strict=True):
        assert line.startswith(row + ","), (row, line)
        float(line.removeprefix(row + ","))


def every_output(session: Session, timeout: float = 120) -> dict[str, list[str]]:
    """The README's last listing again until the scheduled job has written both files (each appears when done)."""
    listing = Command("aws s3 ls --recursive s3://$BUCKET/scoring/output/")
    deadline = time.monotonic() + timeout
    while len(jobs := scored_outputs(session.run(listing))) < 2 or sum(map(len, jobs.values())) < 3:
        assert time.monotonic() < deadline, jobs
        time.sleep(0.5)
    return jobs


def test_serve_and_the_aws_cli_train_approve_and_score(tmp_path):
    with walked(tmp_path, "serve") as session:
        jobs = every_output(session)
        at_approval = next(job for job, files in jobs.items() if files == ["rows.csv.out"])
        scheduled = next(job for job, files in jobs.items() if files == ["more.csv.out", "rows.csv.out"])
        assert set(jobs) == {at_approval, scheduled}
        assert_joined(session, scheduled, "more.csv.out")
        # The drift check the session waited for: the file's first 1,000 rows are one region (README), so their
        # coordinates and house ages drifted from the state-wide training rows; their incomes did not.
        printed = session.run(Command(f"aws s3 cp s3://$BUCKET/scoring/drift/{at_approval}/drift.json -"))
        report = json.loads(printed)
        assert (report["rows"], report["checked"]) == (1000, True), report
        assert {"Latitude", "Longitude"} <= set(report["drifted_features"]) and not report["features"]["MedInc"][
            "drifted"
        ]


@pytest.mark.slow
def test_serve_with_realtime_answers_the_signed_curl_request_then_real_time_goes(tmp_path):
    with walked(tmp_path, "serve-realtime") as session:
        curl, endpoints_left = session.outputs[-4], session.outputs[-1]
    answer = curl.splitlines()[-1]  # after curl's progress meter (stderr, as output is no terminal)
    assert re.fullmatch(r"\d+\.\d+", answer), answer  # one prediction: a median house value in $100,000s
    assert endpoints_left == ""  # the serving stack's deletion removed the endpoint


@pytest.mark.slow
def test_serve_with_a_retrain_schedule_fires_it_on_demand(tmp_path):
    with walked(tmp_path, "serve-retrain") as session:
        statuses = session.outputs[-1]
    assert "Succeeded" in statuses
