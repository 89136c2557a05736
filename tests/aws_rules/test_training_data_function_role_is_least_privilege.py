"""Least privilege for the TrainingData function's execution role (IAM: grant only the permissions a task needs).
It lists the training input (s3:ListBucket, limited by the s3:prefix condition key), writes manifests under
training/manifests/ (s3:PutObject; the bucket's KMS key needs kms:GenerateDataKey for that), and reads the model
registry (sagemaker:ListModelPackages has no resource-level permissions; DescribeModelPackage is scoped to the
group). It cannot read or delete data, start jobs or pass roles."""

from tests.aws_rules.template_iam import actions, allowing, flat, role_id, role_statements, trust_statements


def test_training_data_function_role_lists_the_input_writes_manifests_and_reads_the_registry(app_templates):
    training = app_templates["ScorelineTraining"]
    role = role_id(training, "TrainingDataFunctionRole")
    assert [s["Principal"] for s in trust_statements(training, role)] == [{"Service": "lambda.amazonaws.com"}]
    statements = role_statements(training, role)
    (listing,) = allowing(statements, "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["training/input/*"]}}
    (put,) = allowing(statements, "s3:PutObject")
    assert flat(put["Resource"]).endswith('"/training/manifests/*"]]}')
    for forbidden in (
        "s3:GetObject",
        "s3:DeleteObject",
        "iam:PassRole",
        "sagemaker:CreateProcessingJob",
        "sagemaker:CreateModelPackage",
        "sagemaker:UpdateModelPackage",
    ):
        assert allowing(statements, forbidden) == [], forbidden
    sagemaker = sorted(a for s in statements for a in actions(s) if a.startswith("sagemaker:"))
    assert sagemaker == ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"]
    (describe,) = allowing(statements, "sagemaker:DescribeModelPackage")
    assert ":model-package/scoreline-models/*" in flat(describe["Resource"])
    unscoped = [a for s in statements if s["Resource"] == "*" for a in actions(s)]
    assert unscoped == ["sagemaker:ListModelPackages"]


def test_job_role_reads_the_manifests_its_manifest_inputs_name(app_templates):
    """With S3DataType=ManifestFile SageMaker reads the manifest object and then each object it lists, with the
    role the processing job runs as (API reference, ProcessingS3Input)."""
    training = app_templates["ScorelineTraining"]
    statements = role_statements(training, role_id(training, "JobRole"))
    readable = flat([s["Resource"] for s in allowing(statements, "s3:GetObject")])
    assert "/training/manifests/*" in readable
    assert "/training/input/*" in readable
