"""The storage stack keeps data encrypted, private, versioned and retained."""

from tests.synth_helpers import only, resources


def _data_bucket(storage: dict) -> dict:
    return next(
        bucket
        for bucket in resources(storage, "AWS::S3::Bucket").values()
        if "LoggingConfiguration" in bucket["Properties"]
    )


def test_data_bucket_uses_the_customer_managed_key_with_bucket_key(templates):
    storage = templates["ScorelineStorage"]
    encryption = _data_bucket(storage)["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["BucketKeyEnabled"] is True
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    key_name = next(iter(resources(storage, "AWS::KMS::Key")))
    assert encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [key_name, "Arn"]}


def test_key_rotates_and_everything_stateful_is_retained(templates):
    storage = templates["ScorelineStorage"]
    assert only(storage, "AWS::KMS::Key")["Properties"]["EnableKeyRotation"] is True
    for kind in ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::SageMaker::ModelPackageGroup"):
        for resource in resources(storage, kind).values():
            assert resource["DeletionPolicy"] == "Retain", kind


def test_retention_can_be_turned_off(tmp_path):
    from tests.synth_helpers import synth

    storage = synth(tmp_path, retain_stateful=False)["ScorelineStorage"]
    assert only(storage, "AWS::SageMaker::ModelPackageGroup")["DeletionPolicy"] == "Delete"


def test_data_bucket_is_private_versioned_logged_and_expires_old_versions(templates):
    properties = _data_bucket(templates["ScorelineStorage"])["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith("AccessLogBucket")
    rules = properties["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in rule for rule in rules)


def test_every_bucket_denies_requests_without_tls(templates):
    storage = templates["ScorelineStorage"]
    policies = resources(storage, "AWS::S3::BucketPolicy").values()
    buckets = resources(storage, "AWS::S3::Bucket")
    secured = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false":
                assert statement["Effect"] == "Deny"
                secured.add(policy["Properties"]["Bucket"]["Ref"])
    assert secured == set(buckets)


def test_model_package_group_is_named_from_the_project(templates):
    group = only(templates["ScorelineStorage"], "AWS::SageMaker::ModelPackageGroup")
    assert group["Properties"]["ModelPackageGroupName"] == "scoreline-models"
