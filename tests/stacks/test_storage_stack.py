"""The storage stack keeps data encrypted, private, versioned and retained."""

from aws_cdk.assertions import Match, Template

# The data bucket is the bucket that logs its access (to the access-log bucket).
DATA_BUCKET = {"LoggingConfiguration": Match.any_value()}


def _storage(templates: dict) -> Template:
    return Template.from_json(templates["ScorelineStorage"])


def test_data_bucket_uses_the_customer_managed_key_with_bucket_key(templates):
    storage = _storage(templates)
    [key] = storage.find_resources("AWS::KMS::Key")
    storage.has_resource_properties(
        "AWS::S3::Bucket",
        {
            **DATA_BUCKET,
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": {"Fn::GetAtt": [key, "Arn"]},
                        },
                    }
                ]
            },
        },
    )


def test_key_rotates_and_everything_stateful_is_retained(templates):
    storage = _storage(templates)
    storage.resource_count_is("AWS::KMS::Key", 1)
    storage.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    for kind in ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::SageMaker::ModelPackageGroup"):
        assert storage.find_resources(kind), kind
        storage.all_resources(kind, {"DeletionPolicy": "Retain"})


def test_retention_can_be_turned_off(tmp_path):
    from tests.synth_helpers import synth

    storage = Template.from_json(synth(tmp_path, retain_stateful=False)["ScorelineStorage"])
    storage.resource_count_is("AWS::SageMaker::ModelPackageGroup", 1)
    storage.has_resource("AWS::SageMaker::ModelPackageGroup", {"DeletionPolicy": "Delete"})


def test_data_bucket_is_private_versioned_logged_and_expires_old_versions(templates):
    _storage(templates).has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "LoggingConfiguration": {"DestinationBucketName": {"Ref": Match.string_like_regexp("^AccessLogBucket")}},
            "LifecycleConfiguration": {
                "Rules": Match.array_with([Match.object_like({"NoncurrentVersionExpiration": Match.any_value()})])
            },
        },
    )


def test_every_bucket_denies_requests_without_tls(templates):
    storage = _storage(templates)
    secured = set()
    for policy in storage.find_resources("AWS::S3::BucketPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false":
                assert statement["Effect"] == "Deny"
                secured.add(policy["Properties"]["Bucket"]["Ref"])
    assert secured == set(storage.find_resources("AWS::S3::Bucket"))


def test_model_package_group_is_named_from_the_project(templates):
    storage = _storage(templates)
    storage.resource_count_is("AWS::SageMaker::ModelPackageGroup", 1)
    storage.has_resource_properties("AWS::SageMaker::ModelPackageGroup", {"ModelPackageGroupName": "scoreline-models"})
