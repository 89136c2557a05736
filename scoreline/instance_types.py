"""Facts about SageMaker instance types: NVMe instance storage, vCPUs and GPUs (no CDK import: the pipeline builder
uses it too).

AWS refuses a volume KMS key for types with instance storage: "Certain Nitro-based instances include local storage
... You can't request a VolumeKmsKeyId when using an instance type with local storage" (SageMaker API reference:
ResourceConfig, ProcessingClusterConfig, TransformResources). Their local storage is encrypted by a hardware module
instead.
"""

from __future__ import annotations

import re

# Families with NVMe instance storage that carry no "d" in their name (SageMaker docs: "For example, ML instance
# families with the NVMe-type instance storage include ml.p4d, ml.g4dn, and ml.g5"; EC2 instance store volumes).
_INSTANCE_STORE_FAMILIES = {"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"}
# A "d" among the letters after the generation number marks local NVMe storage: m5d, c5d, r5d, m6id, g4dn, p3dn, p4d.
_D_VARIANT = re.compile(r"^[a-z]+[0-9]+[a-z]*d[a-z]*$")

# vCPUs follow the size in EC2's naming, large = 2, xlarge = 4, Nxlarge = 4N (Amazon EC2 Instance Types guide,
# "Specifications" pages: m5.large 2, m5.xlarge 4, m5.24xlarge 96, c5.9xlarge 36, g4dn.12xlarge 48, p3.16xlarge 64),
# for every type the pinned botocore lists for transform jobs and endpoints (TransformInstanceType,
# ProductionVariantInstanceType; tests/stacks/test_instance_types.py) except these, from the same guide: c4.8xlarge
# ("Previous generation instances": 36 vCPUs), and the medium sizes, 2 vCPUs for T2 and 1 for Graviton types (one
# vCPU per core).
_VCPUS_OFF_THE_RULE = {
    "ml.c4.8xlarge": 36,
    "ml.t2.medium": 2,
    "ml.c8g.medium": 1,
    "ml.m8g.medium": 1,
    "ml.r7gd.medium": 1,
    "ml.r8g.medium": 1,
}
_XLARGE = re.compile(r"^([0-9]*)xlarge$")

# GPU families SageMaker serves on, and their sizes with more than one GPU (every other size has one): the pinned
# SDK's table (sagemaker/core/image_uri_config/instance_gpu_info.json, checked in tests/stacks/test_instance_types.py)
# and the EC2 guide's "Accelerated computing" specifications for the families the SDK's table lacks (G6, G6e, P5e,
# P5en, p5.4xlarge). G7 and G7e, listed for endpoints only, are left out: their counts are not checked here.
_GPU_FAMILIES = {"g4dn", "g5", "g6", "g6e", "p2", "p3", "p4d", "p4de", "p5", "p5e", "p5en"}
_MULTI_GPU = {
    "ml.g4dn.12xlarge": 4,
    **{f"ml.{family}.{size}": count for family in ("g5", "g6", "g6e") for size, count in
       (("12xlarge", 4), ("24xlarge", 4), ("48xlarge", 8))},
    "ml.p2.8xlarge": 8,
    "ml.p2.16xlarge": 16,
    "ml.p3.8xlarge": 4,
    "ml.p3.16xlarge": 8,
    **{f"ml.{family}.24xlarge": 8 for family in ("p4d", "p4de")},
    **{f"ml.{family}.48xlarge": 8 for family in ("p5", "p5e", "p5en")},
}  # fmt: skip


def _family(instance_type: str) -> str:
    return instance_type.split(".")[1] if instance_type.count(".") >= 2 else instance_type


def has_instance_storage(instance_type: str) -> bool:
    """True for types such as ml.g5.xlarge or ml.m5d.large, False for EBS-only types such as ml.m5.xlarge."""
    family = _family(instance_type)
    return family in _INSTANCE_STORE_FAMILIES or bool(_D_VARIANT.match(family))


def vcpus(instance_type: str) -> int:
    """The type's vCPUs: ml.m5.xlarge 4, ml.c5.9xlarge 36. ValueError for a size the rule does not cover."""
    if instance_type in _VCPUS_OFF_THE_RULE:
        return _VCPUS_OFF_THE_RULE[instance_type]
    size = instance_type.rsplit(".", 1)[-1]
    xlarge = _XLARGE.match(size)
    if xlarge:
        return 4 * int(xlarge.group(1) or 1)
    if size == "large":
        return 2
    known = ", ".join(sorted(t for t in _VCPUS_OFF_THE_RULE if not t.endswith("xlarge")))
    raise ValueError(f"has a size whose vCPUs Scoreline does not know: sizes large and Nxlarge, or {known}")


def is_gpu(instance_type: str) -> bool:
    """A GPU type (the G and P families), for which the GPU build of an image is chosen."""
    return _family(instance_type).startswith(("p", "g"))


def gpus(instance_type: str) -> int | None:
    """The type's GPUs: 0 for a type without, None for a GPU family whose counts are not in the table above."""
    if not is_gpu(instance_type):
        return 0
    if _family(instance_type) not in _GPU_FAMILIES:
        return None
    return _MULTI_GPU.get(instance_type, 1)
