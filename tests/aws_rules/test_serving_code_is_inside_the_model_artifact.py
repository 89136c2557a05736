"""Rule: a model created with EnableNetworkIsolation=True has no network (CreateModel: "Isolates the model
container. No inbound or outbound network calls can be made to or from the model container"), so a serving
container cannot download an s3:// SAGEMAKER_SUBMIT_DIRECTORY. Every registered container reads its handlers from
its own model artifact, /opt/ml/model/code, which both framework serving stacks honour (see
pipeline_definitions/training_pipeline.py)."""

from __future__ import annotations

from tests.aws_rules.pipeline_definition import definition_and_variables
from tests.pipeline_definitions.definitions import nested_steps


def test_every_registered_container_reads_its_code_from_its_model_artifact(app_templates):
    definition, _ = definition_and_variables(app_templates)
    containers = nested_steps(definition)["Register"]["Arguments"]["InferenceSpecification"]["Containers"]
    assert len(containers) == 2
    for container in containers:
        assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
        assert not any("s3://" in str(value) for value in container["Environment"].values())


def test_the_features_artifact_is_built_with_the_features_code(app_templates):
    """Preprocess writes the features container's model.tar.gz: it receives that container's code to pack."""
    definition, variables = definition_and_variables(app_templates)
    preprocess = nested_steps(definition)["Preprocess"]["Arguments"]
    inputs = {item["InputName"]: item["S3Input"] for item in preprocess["ProcessingInputs"]}
    assert inputs["serving_code"]["S3Uri"] == "s3://<AssetBucket>/<FeaturesCodeKey>"
    assert "FeaturesCodeKey" in variables
    arguments = preprocess["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--serving-code-dir") + 1] == inputs["serving_code"]["LocalPath"]
