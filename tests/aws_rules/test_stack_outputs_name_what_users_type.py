"""Stack outputs (`aws cloudformation describe-stacks`) give users the names they type in the README's commands:
the data bucket (generated name), the model package group and the pipeline, each with a description."""

from tests.synth_helpers import only, resources


def _outputs(template: dict) -> dict[str, dict]:
    """Outputs meant for users: CDK's cross-stack exports are not."""
    return {name: output for name, output in template.get("Outputs", {}).items() if "Export" not in output}


def test_storage_outputs_name_the_data_bucket_and_the_model_package_group(app_templates):
    storage = app_templates["ScorelineStorage"]
    outputs = _outputs(storage)
    data_bucket = next(
        name
        for name, bucket in resources(storage, "AWS::S3::Bucket").items()
        if "LoggingConfiguration" in bucket["Properties"]
    )
    assert outputs["DataBucketName"]["Value"] == {"Ref": data_bucket}
    group = only(storage, "AWS::SageMaker::ModelPackageGroup")["Properties"]["ModelPackageGroupName"]
    assert outputs["ModelPackageGroupName"]["Value"] == group


def test_training_output_names_the_pipeline(app_templates):
    training = app_templates["ScorelineTraining"]
    pipeline = only(training, "AWS::SageMaker::Pipeline")["Properties"]["PipelineName"]
    assert _outputs(training)["PipelineName"]["Value"] == pipeline


def test_every_user_output_says_what_it_is_for(app_templates):
    for stack in ("ScorelineStorage", "ScorelineTraining"):
        outputs = _outputs(app_templates[stack])
        assert outputs, stack
        for name, output in outputs.items():
            assert len(output.get("Description", "")) >= 20, f"{stack}.{name} needs a description"
