"""Which SageMaker instance types carry NVMe instance storage (no CDK import: the pipeline builder uses it too).

AWS refuses a volume KMS key for them: "Certain Nitro-based instances include local storage ... You can't request
a VolumeKmsKeyId when using an instance type with local storage" (SageMaker API reference: ResourceConfig,
ProcessingClusterConfig, TransformResources). Their local storage is encrypted by a hardware module instead.
"""

from __future__ import annotations

import re

# Families with NVMe instance storage that carry no "d" in their name (SageMaker docs: "For example, ML instance
# families with the NVMe-type instance storage include ml.p4d, ml.g4dn, and ml.g5"; EC2 instance store volumes).
_INSTANCE_STORE_FAMILIES = {"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"}
# A "d" among the letters after the generation number marks local NVMe storage: m5d, c5d, r5d, m6id, g4dn, p3dn, p4d.
_D_VARIANT = re.compile(r"^[a-z]+[0-9]+[a-z]*d[a-z]*$")


def has_instance_storage(instance_type: str) -> bool:
    """True for types such as ml.g5.xlarge or ml.m5d.large, False for EBS-only types such as ml.m5.xlarge."""
    family = instance_type.split(".")[1] if instance_type.count(".") >= 2 else instance_type
    return family in _INSTANCE_STORE_FAMILIES or bool(_D_VARIANT.match(family))
