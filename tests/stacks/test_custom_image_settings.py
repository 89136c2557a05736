"""Custom image settings: an Amazon ECR image URI for each step and serving container, refused with one sentence
when it is not one or not in the deployment region."""

from __future__ import annotations

import pytest

from scoreline.settings import SettingsError, load_settings

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/train:1.0"


@pytest.mark.parametrize(
    "image",
    [
        IMAGE,
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/train",  # no tag: SageMaker takes :latest
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/a/b/c@sha256:" + "f" * 64,
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/train:1",
    ],
)
def test_an_ecr_image_uri_replaces_its_use(image):
    settings = load_settings({"training_image": image, "model_serving_image": image})
    assert settings.custom_images == {"training_image": image, "inference_image": image}


@pytest.mark.parametrize(
    "image",
    [
        "train:1.0",  # Docker Hub
        "public.ecr.aws/team/train:1.0",  # ECR Public, not a private repository in an account
        "12345.dkr.ecr.eu-west-1.amazonaws.com/train:1",  # not a 12-digit account
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/Train:1",  # ECR repository names are lowercase
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/train@sha256:abc",
    ],
)
@pytest.mark.parametrize(
    "setting",
    ["preprocess_image", "features_serving_image", "training_image", "evaluation_image", "model_serving_image"],
)
def test_anything_else_is_refused_in_one_sentence(setting, image):
    with pytest.raises(SettingsError) as error:
        load_settings({setting: image})
    message = str(error.value)
    assert message.startswith(f"Setting '{setting}' must be empty or an Amazon ECR image URI such as ")
    assert message.endswith(f"(got {image!r}).") and message.count(". ") == 0


def test_an_image_outside_the_deployment_region_is_refused():
    with pytest.raises(SettingsError) as error:
        load_settings({"region": "us-east-1", "evaluation_image": IMAGE})
    assert str(error.value) == (
        "Setting 'evaluation_image' must be an image in the deployment region us-east-1, not eu-west-1 "
        f"(got {IMAGE!r})."
    )


def test_images_in_several_regions_are_refused():
    other = IMAGE.replace("eu-west-1", "eu-central-1")
    with pytest.raises(SettingsError) as error:
        load_settings({"training_image": IMAGE, "model_serving_image": other})
    assert str(error.value) == (
        "Custom images must all be in the deployment region, but they are in several: 'training_image' in "
        "eu-west-1, 'model_serving_image' in eu-central-1."
    )


def test_no_custom_image_by_default():
    assert load_settings({}).custom_images == {}
