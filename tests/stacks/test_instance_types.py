"""Instance-store detection: AWS refuses a VolumeKmsKeyId for these types, so it must not miss one."""

import pytest

from stacks.instance_types import has_instance_storage


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
