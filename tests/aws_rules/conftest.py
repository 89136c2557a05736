"""Synthesized templates the AWS-rule tests read: both flavours, and an app on instance-store (NVMe) types.

Each test in this folder checks one documented AWS rule on what `cdk deploy` would send, and names the rule."""

from __future__ import annotations

import pytest

from tests.synth_helpers import synth

# Instance types with local NVMe instance storage: AWS rejects a VolumeKmsKeyId for them.
INSTANCE_STORE_SETTINGS = {
    "processing_instance_type": "ml.m5d.xlarge",
    "training_instance_type": "ml.g5.xlarge",
    "transform_instance_type": "ml.g4dn.xlarge",
}


@pytest.fixture(scope="session")
def sklearn_app(templates) -> dict[str, dict]:
    """{stack name: template} of the default app (scikit-learn flavour)."""
    return templates


@pytest.fixture(scope="session")
def pytorch_app(tmp_path_factory) -> dict[str, dict]:
    return synth(tmp_path_factory.mktemp("pytorch-app"), model_flavour="pytorch")


@pytest.fixture(scope="session")
def instance_store_app(tmp_path_factory) -> dict[str, dict]:
    return synth(tmp_path_factory.mktemp("instance-store-app"), model_flavour="pytorch", **INSTANCE_STORE_SETTINGS)


@pytest.fixture(scope="session", params=["sklearn", "pytorch"])
def app_templates(request) -> dict[str, dict]:
    """Each flavour's templates in turn."""
    return request.getfixturevalue(f"{request.param}_app")
