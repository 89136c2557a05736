"""A pipeline execution role needs "Amazon S3 permissions to use the JsonGet function" (SageMaker Pipelines guide,
Access Management): SageMaker Pipelines itself reads each property file, with the pipeline role. Scoreline's
property files are written with the data key (ProcessingOutputConfig.KmsKeyId), so reading one also needs
kms:Decrypt, which the role may use only through S3."""

import fnmatch

from tests.aws_rules.template_iam import allowing, definition, role_id, role_statements
from tests.pipeline_definitions.definitions import nested_steps


def _property_file_keys(body: dict) -> list[str]:
    """Object keys of the property files, with `*` for the execution id: pipeline/*/evaluation/evaluation.json."""
    keys = []
    for step in nested_steps(body).values():
        outputs = {
            o["OutputName"]: o["S3Output"]["S3Uri"]
            for o in step["Arguments"].get("ProcessingOutputConfig", {}).get("Outputs", [])
        }
        for property_file in step.get("PropertyFiles", []):
            join = outputs[property_file["OutputName"]]["Std:Join"]
            parts = ["*" if isinstance(part, dict) else part for part in join["Values"]]
            uri = join["On"].join(parts) + "/" + property_file["FilePath"]
            keys.append(uri.removeprefix("s3://${Bucket}/"))
    return keys


def test_pipeline_role_reads_every_property_file_and_nothing_else_in_the_bucket(app_templates):
    training = app_templates["ScorelineTraining"]
    body, _ = definition(training)
    keys = _property_file_keys(body)
    assert keys == ["pipeline/*/evaluation/evaluation.json"]
    statements = role_statements(training, role_id(training, "PipelineRole"))
    (read,) = allowing(statements, "s3:GetObject")
    prefix, pattern = read["Resource"]["Fn::Join"][1]
    assert prefix == _data_bucket_arn(app_templates["ScorelineStorage"])
    assert all(fnmatch.fnmatchcase(f"/{key}", pattern) for key in keys)
    assert not fnmatch.fnmatchcase("/training/input/data.csv", pattern)
    assert not fnmatch.fnmatchcase("/scoring/input/2026-01-01/rows.csv", pattern)
    assert allowing(statements, "s3:PutObject") == []


def test_pipeline_role_decrypts_only_through_s3(app_templates):
    training = app_templates["ScorelineTraining"]
    _, variables = definition(training)
    statements = role_statements(training, role_id(training, "PipelineRole"))
    (decrypt,) = allowing(statements, "kms:Decrypt")
    assert decrypt["Resource"] == variables["KmsKeyArn"]
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Join": ["", ["s3.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}}
    }


def _data_bucket_arn(storage: dict) -> dict:
    """The data bucket's ARN as the training stack imports it from the storage stack."""
    (export,) = [
        output["Export"]["Name"]
        for output in storage["Outputs"].values()
        if "Export" in output
        and output["Value"].get("Fn::GetAtt", [""])[0].startswith("DataBucket")
        and output["Value"]["Fn::GetAtt"][1] == "Arn"
    ]
    return {"Fn::ImportValue": export}
