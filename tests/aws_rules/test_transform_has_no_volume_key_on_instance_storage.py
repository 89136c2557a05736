"""SageMaker refuses TransformResources.VolumeKmsKeyId for instance types with local NVMe storage ("You can't request
a VolumeKmsKeyId when using an instance type with local storage"; the hardware encrypts it). The scoring stack tells
the function whether the transform type has such storage; the function then leaves the volume key out (its tests
check the request)."""

from tests.synth_helpers import main_function


def _environment(templates: dict) -> dict:
    return main_function(templates["ScorelineScoring"])["Properties"]["Environment"]["Variables"]


def test_an_instance_store_transform_type_is_flagged_for_the_function(instance_store_app):
    environment = _environment(instance_store_app)
    assert environment["TRANSFORM_INSTANCE_TYPE"] == "ml.g4dn.xlarge"
    assert environment["TRANSFORM_INSTANCE_STORAGE"] == "true"


def test_an_ebs_only_transform_type_keeps_the_volume_key(app_templates):
    environment = _environment(app_templates)
    assert environment["TRANSFORM_INSTANCE_TYPE"] == "ml.m5.xlarge"
    assert environment["TRANSFORM_INSTANCE_STORAGE"] == "false"
