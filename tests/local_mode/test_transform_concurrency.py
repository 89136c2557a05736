"""The local transform honours MaxConcurrentTransforms as SageMaker and the framework images' model servers do: that
many mini-batch requests in flight, each container answering with SAGEMAKER_MODEL_SERVER_WORKERS worker processes
started with the container's environment, the output in input order; a handler's exception still fails the job with
its message. Two small containers report which worker process answered and the thread setting it saw."""

from __future__ import annotations

import os

import pytest

from local_mode import storage
from scoreline.tarballs import deterministic_tarball
from tests.local_mode.conftest import run_transform_job

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-py312-cpu-py3"
# Each container appends ";<name>=<the PID model_fn ran in>/<OMP_NUM_THREADS>" to every line. With MEET_DIR set, a
# worker's first request waits (up to 30 s) until another worker of the same container has one too: two requests in
# flight at once in each container, whatever the timing (a worker starts when a request finds the others busy).
REPORTING_HANDLER = """
import os
import time


def model_fn(model_dir):
    return os.getpid()  # loaded once per worker process


def transform_fn(loaded_in, body, content_type, accept):
    meet = os.environ.get("MEET_DIR")
    if meet:
        meet = os.path.join(meet, os.environ["NAME"])  # each container's workers meet their own kind
        os.makedirs(meet, exist_ok=True)
        open(os.path.join(meet, str(os.getpid())), "w").close()
        deadline = time.monotonic() + 30
        while len(os.listdir(meet)) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("no other request arrived while this one was in flight")
            time.sleep(0.01)
    tag = f";{os.environ['NAME']}={loaded_in}/{os.environ.get('OMP_NUM_THREADS')}"
    return "".join(line + tag + "\\n" for line in body.splitlines()), "text/csv"
"""
FAILING_HANDLER = """
class InputError(Exception):
    pass


def model_fn(model_dir):
    return None


def transform_fn(model, body, content_type, accept):
    if "x" in body:
        raise InputError("row 3: 'x' is not a number")
    return body, "text/csv"
"""
NO_MODEL_FN_HANDLER = """
def transform_fn(model, body, content_type, accept):
    return body, "text/csv"
"""
RECORDS = 40_000  # ~4.4 MB: five mini-batches of at most 1 MB


@pytest.fixture(scope="module")
def root(cloud, tmp_path_factory):
    """The handlers' artifacts and the input rows, where the job role reads them."""
    root = f"s3://{cloud.deployment.bucket_for('DataBucket')}/pipeline/concurrency"
    work = tmp_path_factory.mktemp("concurrency")
    handlers = {"reporting": REPORTING_HANDLER, "failing": FAILING_HANDLER, "no-model-fn": NO_MODEL_FN_HANDLER}
    for name, handler in handlers.items():
        (work / name / "code").mkdir(parents=True)
        (work / name / "code" / "inference.py").write_text(handler)
        storage.write_object(f"{root}/{name}.tar.gz", deterministic_tarball(work / name))
    rows = b"".join(f"{index:08d},{'a' * 100}\n".encode() for index in range(RECORDS))
    storage.write_object(f"{root}/input/rows.csv", rows)
    storage.write_object(f"{root}/bad/input/rows.csv", b"1,2\n3,4\nx,5\n")
    return root


def container(root: str, artifact: str, **environment: str) -> dict:
    code = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    return {"Image": IMAGE, "ModelDataUrl": f"{root}/{artifact}.tar.gz", "Environment": {**code, **environment}}


def scored(root: str, name: str, in_flight: int, workers: str, **environment: str) -> list[list[str]]:
    """The job's output lines, each split into the record and the two containers' reports."""
    containers = [
        container(root, "reporting", NAME=f"c{position}", SAGEMAKER_MODEL_SERVER_WORKERS=workers, **environment)
        for position in (1, 2)
    ]
    job = run_transform_job(name, containers, root, MaxConcurrentTransforms=in_flight, MaxPayloadInMB=1)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    output = storage.read_object(f"{root}/output/{name}/rows.csv.out").decode()
    return [line.split(";") for line in output.splitlines()]


def test_two_requests_in_flight_on_two_workers_per_container_keep_the_input_order(root, tmp_path):
    one_at_a_time = scored(root, "one-in-flight", 1, "1", OMP_NUM_THREADS="2")
    meet = tmp_path / "meet"
    meet.mkdir()
    concurrent = scored(root, "two-in-flight", 2, "2", OMP_NUM_THREADS="1", MEET_DIR=str(meet))

    expected = [f"{index:08d},{'a' * 100}" for index in range(RECORDS)]
    assert [record for record, *_ in one_at_a_time] == expected
    assert [record for record, *_ in concurrent] == expected  # the same rows, in the same order
    for position in (1, 2):
        one = {line[position] for line in one_at_a_time}
        two = {line[position] for line in concurrent}
        assert len(one) == 1 and one.pop().endswith("/2")  # one worker, the container's OMP_NUM_THREADS
        assert len(two) == 2 and all(report.endswith("/1") for report in two)  # two workers, each loaded once
        assert str(os.getpid()) not in {report.split("=")[1].split("/")[0] for report in two}  # not this process
    first, second = ({line[position] for line in concurrent} for position in (1, 2))
    assert not {report.split("=")[1] for report in first} & {report.split("=")[1] for report in second}


@pytest.mark.parametrize(
    ("artifact", "reason"),
    [
        ("failing", "InputError: row 3: 'x' is not a number"),  # the handler's own exception class
        (
            "no-model-fn",
            "TransformError: container 2 (inference.py) defines no model_fn, and the container has no default",
        ),
    ],
)
def test_a_handler_error_fails_the_job_with_its_message(root, artifact, reason):
    containers = [
        container(root, "reporting", NAME="c1", SAGEMAKER_MODEL_SERVER_WORKERS="2"),
        container(root, artifact),
    ]
    job = run_transform_job(f"fails-{artifact}", containers, f"{root}/bad", MaxConcurrentTransforms=2)
    assert (job["TransformJobStatus"], job["FailureReason"]) == ("Failed", reason)
