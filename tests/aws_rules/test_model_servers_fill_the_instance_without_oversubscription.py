"""CreateTransformJob: "If you specify the MaxConcurrentTransforms parameter, the value of (MaxConcurrentTransforms *
MaxPayloadInMB) also cannot exceed 100 MB", and without it SageMaker sends one request at a time to a container
without an execution-parameters endpoint. The framework images start SAGEMAKER_MODEL_SERVER_WORKERS worker
processes, one per vCPU by default, whose libraries take OMP_NUM_THREADS threads (scoreline/model_servers.py cites the
toolkits). So the templates must pair them: as many requests in flight as workers, and workers x threads filling the
vCPUs without exceeding them; on a GPU type the PyTorch model container runs one worker per GPU.

The functions pass these values on as given (tests/functions: CreateModel's container Environment, the job's
MaxConcurrentTransforms)."""

from __future__ import annotations

import json

import pytest

from scoreline.instance_types import vcpus
from tests.synth_helpers import main_function, synth

WORKERS, THREADS = "SAGEMAKER_MODEL_SERVER_WORKERS", "OMP_NUM_THREADS"
# A non-default app: a larger transform type (48 vCPUs, more than 100 MB / 6 MB allows in flight) and real-time type.
LARGE_TYPES = {"transform_instance_type": "ml.m5.12xlarge", "realtime_instance_type": "ml.c5.2xlarge", "realtime": True}


@pytest.fixture(scope="session")
def large_types_app(tmp_path_factory) -> dict[str, dict]:
    return synth(tmp_path_factory.mktemp("large-types-app"), **LARGE_TYPES)


def _variables(templates: dict, stack: str) -> dict:
    return main_function(templates[stack])["Properties"]["Environment"]["Variables"]


def _scoring(templates: dict) -> tuple[int, int, int, list[dict]]:
    """(vCPUs, MaxConcurrentTransforms, MaxPayloadInMB, the containers' environments) the scoring function gets."""
    variables = _variables(templates, "ScorelineScoring")
    return (
        vcpus(variables["TRANSFORM_INSTANCE_TYPE"]),
        int(variables["MAX_CONCURRENT_TRANSFORMS"]),
        int(variables["MAX_PAYLOAD_MB"]),
        json.loads(variables["CONTAINER_ENVIRONMENT"]),
    )


def _serving(templates: dict) -> tuple[int, list[dict]]:
    variables = _variables(templates, "ScorelineServing")
    return vcpus(variables["SERVING_INSTANCE_TYPE"]), json.loads(variables["SERVING_CONTAINER_ENVIRONMENT"])


def _fills_without_oversubscription(cpus: int, concurrency: int, environment: dict) -> None:
    workers, threads = int(environment[WORKERS]), int(environment[THREADS])
    assert workers == concurrency  # one worker per request in flight: none waits while a worker idles
    assert workers * threads <= cpus  # every request in flight at once still has a vCPU per thread
    assert threads == max(1, cpus // workers)  # and no worker could take another thread within the vCPUs


def test_a_scoring_job_fills_the_default_type(app_templates):
    cpus, concurrency, payload, environments = _scoring(app_templates)
    assert (cpus, concurrency) == (4, 4)  # ml.m5.xlarge
    assert concurrency * payload <= 100
    assert len(environments) == 2  # features, then model
    for environment in environments:
        _fills_without_oversubscription(cpus, concurrency, environment)
        assert int(environment[WORKERS]) * int(environment[THREADS]) == cpus


def test_a_larger_transform_type_is_filled_within_100_mb_in_flight(large_types_app):
    cpus, concurrency, payload, environments = _scoring(large_types_app)
    assert (cpus, payload) == (48, 6)
    assert concurrency == 100 // payload == 16  # 48 requests of 6 MB would be 288 MB in flight
    for environment in environments:
        _fills_without_oversubscription(cpus, concurrency, environment)
        assert environment == {WORKERS: "16", THREADS: "3"}  # 16 x 3 = 48


def test_the_real_time_endpoint_runs_a_single_threaded_worker_per_vcpu(realtime_app, large_types_app):
    for templates, expected_cpus in ((realtime_app, 2), (large_types_app, 8)):  # ml.m5.large, ml.c5.2xlarge
        cpus, environments = _serving(templates)
        assert cpus == expected_cpus
        for environment in environments:
            _fills_without_oversubscription(cpus, cpus, environment)


def test_pytorch_on_a_gpu_type_runs_one_model_worker_per_gpu(instance_store_app):
    """ml.g4dn.xlarge (4 vCPUs, 1 GPU): the features container (scikit-learn, CPU) fills the vCPUs; the PyTorch model
    container runs TorchServe's default of one worker per GPU, single-threaded, as the predict runs on the GPU."""
    cpus, concurrency, payload, [features, model] = _scoring(instance_store_app)
    assert (cpus, concurrency) == (4, 4)
    _fills_without_oversubscription(cpus, concurrency, features)
    assert model == {WORKERS: "1", THREADS: "1"}
