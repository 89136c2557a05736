"""Least privilege on the CDK asset bucket: `Asset.grant_read` allows every object in the bootstrap bucket (other
apps' code too). The job role may read exactly the code objects the pipeline definition and the drift check function
(CHECK_CODE_URI) name, and list only those keys (an S3Prefix processing input lists its prefix before downloading)."""

from tests.aws_rules.template_iam import actions, definition, flat, role_id, role_statements
from tests.synth_helpers import resources

ASSET_BUCKET = "cdk-hnb659fds-assets-"


def _asset_keys(templates: dict) -> set[str]:
    """Object keys of the asset objects the definition uses (the Fn::Sub variables named ...Key) and the drift
    check's script (s3://<asset bucket>/<key>)."""
    _, variables = definition(templates["ScorelineTraining"])
    drift_keys = {
        function["Properties"]["Environment"]["Variables"]["CHECK_CODE_URI"]["Fn::Sub"].rsplit("/", 1)[-1]
        for name, function in resources(templates["ScorelineScoring"], "AWS::Lambda::Function").items()
        if name.startswith("DriftCheck")
    }
    assert len(drift_keys) == 1
    return {value for name, value in variables.items() if name.endswith("Key")} | drift_keys


def _asset_statements(training: dict) -> list[dict]:
    return [
        (name, statement)
        for name in (role_id(training, "JobRole"), role_id(training, "PipelineRole"))
        for statement in role_statements(training, name)
        if ASSET_BUCKET in flat(statement["Resource"])
    ]


def test_only_the_used_asset_objects_are_readable(app_templates):
    training = app_templates["ScorelineTraining"]
    keys = _asset_keys(app_templates)
    assert len(keys) >= 2
    reads = [s for _, s in _asset_statements(training) if "s3:GetObject" in actions(s)]
    assert len(reads) == 1
    objects = reads[0]["Resource"]
    assert actions(reads[0]) == ["s3:GetObject"]
    assert sorted(resource["Fn::Join"][1][-1] for resource in objects) == sorted(f"/{key}" for key in keys)


def test_asset_bucket_listing_is_limited_to_those_keys(app_templates):
    training = app_templates["ScorelineTraining"]
    lists = [s for _, s in _asset_statements(training) if "s3:ListBucket" in actions(s)]
    assert len(lists) == 1
    assert lists[0]["Condition"] == {"StringEquals": {"s3:prefix": sorted(_asset_keys(app_templates))}}


def test_no_statement_reaches_the_whole_asset_bucket(app_templates):
    training = app_templates["ScorelineTraining"]
    for role, statement in _asset_statements(training):
        assert not any(a.endswith("*") for a in actions(statement)), (role, statement)
        assert '"/*"' not in flat(statement["Resource"]), (role, statement)
        if "s3:ListBucket" in actions(statement):
            assert "s3:prefix" in flat(statement.get("Condition", {}))
    assert [role for role, _ in _asset_statements(training)] == [role_id(training, "JobRole")] * 2
