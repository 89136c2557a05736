"""Requests in flight, model-server workers and threads from the settings (scoreline/model_servers.py); the templates'
pairing is an AWS-rule test (tests/aws_rules/test_model_servers_fill_the_instance_without_oversubscription.py)."""

from scoreline.model_servers import ModelServer, realtime_serving, transform_serving
from scoreline.settings import load_settings


def test_automatic_concurrency_is_one_request_per_vcpu_within_100_mb():
    assert transform_serving(load_settings({})).concurrency == 4  # ml.m5.xlarge
    large = {"transform_instance_type": "ml.m5.24xlarge"}  # 96 vCPUs
    assert transform_serving(load_settings(large)).concurrency == 16  # 16 x 6 MB <= 100 MB
    assert transform_serving(load_settings({**large, "transform_max_payload_mb": 100})).concurrency == 1


def test_an_explicit_concurrency_is_kept_and_the_vcpus_shared_among_its_workers():
    serving = transform_serving(load_settings({"transform_max_concurrent": 2}))  # ml.m5.xlarge
    assert serving.concurrency == 2
    assert serving.features == serving.model == ModelServer(workers=2, threads=2)
    serving = transform_serving(load_settings({"transform_max_concurrent": 8}))
    assert serving.model == ModelServer(workers=8, threads=1)  # more requests than vCPUs: asked for, one thread


def test_the_environment_names_the_variables_the_toolkits_read():
    assert ModelServer(workers=4, threads=2).environment() == {
        "SAGEMAKER_MODEL_SERVER_WORKERS": "4",
        "OMP_NUM_THREADS": "2",
    }
    assert ModelServer(workers=None, threads=1).environment() == {"OMP_NUM_THREADS": "1"}


def test_only_pytorch_on_a_gpu_type_with_the_gpu_image_predicts_on_the_gpu():
    gpu = {"transform_instance_type": "ml.g5.12xlarge"}  # 48 vCPUs, 4 GPUs
    pytorch = transform_serving(load_settings({**gpu, "model_flavour": "pytorch"}))
    assert pytorch.features == ModelServer(workers=16, threads=3)
    assert pytorch.model == ModelServer(workers=4, threads=1)
    xgboost = transform_serving(load_settings({**gpu, "model_flavour": "xgboost"}))
    assert xgboost.model == xgboost.features  # the loaded booster predicts on the CPU
    # The real-time endpoint serves the image chosen for the transform type: the CPU build on a GPU type predicts
    # on the CPU, one worker per vCPU.
    cpu_image = realtime_serving(load_settings({"model_flavour": "pytorch", "realtime_instance_type": "ml.g5.xlarge"}))
    assert cpu_image.model == ModelServer(workers=4, threads=1)


def test_a_gpu_family_without_known_counts_keeps_the_images_default_workers():
    gpu_types = {"transform_instance_type": "ml.g5.xlarge", "realtime_instance_type": "ml.g7e.2xlarge"}
    settings = load_settings({"model_flavour": "pytorch", **gpu_types})
    assert realtime_serving(settings).model == ModelServer(workers=None, threads=1)
