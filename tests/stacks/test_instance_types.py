"""Instance-store detection: AWS refuses a VolumeKmsKeyId for these types, so it must not miss one."""

import re

import pytest

from scoreline.instance_types import gpus, has_instance_storage, is_gpu, vcpus


@pytest.mark.parametrize(
    "instance_type",
    ["ml.m5d.xlarge", "ml.c5d.2xlarge", "ml.r5d.large", "ml.m6id.large", "ml.g4dn.xlarge", "ml.g5.2xlarge",
     "ml.g6e.xlarge", "ml.p3dn.24xlarge", "ml.p4d.24xlarge", "ml.p5.48xlarge", "ml.trn1.32xlarge"],
)  # fmt: skip
def test_types_with_nvme_instance_storage(instance_type):
    assert has_instance_storage(instance_type)


@pytest.mark.parametrize(
    "instance_type",
    ["ml.m5.xlarge", "ml.c5.xlarge", "ml.c5n.xlarge", "ml.p3.2xlarge", "ml.t3.medium", "ml.inf2.xlarge"],
)
def test_ebs_only_types(instance_type):
    assert not has_instance_storage(instance_type)


# --- vCPUs and GPUs (the model servers are sized by them: scoreline/model_servers.py) ---------------------------------


def _sagemaker_types(*shapes: str) -> set[str]:
    """Instance types the pinned botocore's SageMaker model lists for these request fields, as settings accept them."""
    import botocore.session

    from scoreline.settings import _INSTANCE_TYPE

    model = botocore.session.get_session().get_service_model("sagemaker")
    return {t for shape in shapes for t in model.shape_for(shape).enum if re.match(_INSTANCE_TYPE, t)}


SERVING_TYPES = _sagemaker_types("TransformInstanceType", "ProductionVariantInstanceType")


@pytest.mark.parametrize(
    "instance_type, expected",
    # Amazon EC2 Instance Types guide, "Specifications" (default vCPUs), including the types off the size rule.
    [("ml.m5.large", 2), ("ml.m5.xlarge", 4), ("ml.c5.2xlarge", 8), ("ml.c5.9xlarge", 36), ("ml.m5.24xlarge", 96),
     ("ml.g4dn.12xlarge", 48), ("ml.p3.16xlarge", 64), ("ml.c4.8xlarge", 36), ("ml.t2.medium", 2),
     ("ml.c8g.medium", 1)],
)  # fmt: skip
def test_vcpus_of_documented_types(instance_type, expected):
    assert vcpus(instance_type) == expected


def test_every_transform_and_endpoint_type_has_known_vcpus():
    """The size rule or the table answers for every type SageMaker lists for transform jobs and endpoints."""
    assert all(vcpus(t) >= 1 for t in SERVING_TYPES)


def test_a_size_off_the_rule_is_refused_with_the_sizes_known():
    with pytest.raises(ValueError, match="sizes large and Nxlarge, or ml.c8g.medium"):
        vcpus("ml.t3.medium")


def test_gpu_counts_agree_with_the_pinned_sdks_table():
    """The SDK's table of GPUs per type (sagemaker/core/image_uri_config/instance_gpu_info.json), for the types
    SageMaker lists (it also holds ml.g5n.xlarge, which is not an instance type, and lacks ml.g5.xlarge)."""
    from sagemaker.core import instance_types_gpu_info

    table = instance_types_gpu_info.retrieve("us-east-1")
    listed = {t: info["Count"] for t, info in table.items() if t in SERVING_TYPES}
    assert len(listed) >= 20
    assert {t: gpus(t) for t in listed} == listed


def test_every_transform_gpu_type_has_a_known_count_and_cpu_types_none():
    transform_types = _sagemaker_types("TransformInstanceType")
    assert all(gpus(t) >= 1 for t in transform_types if is_gpu(t))
    assert all(gpus(t) == 0 for t in transform_types if not is_gpu(t))
    assert gpus("ml.g6e.48xlarge") == 8 and gpus("ml.p5.4xlarge") == 1
    assert gpus("ml.g7e.2xlarge") is None  # listed for endpoints only; not in the table
