"""CreateTransformJob with TransformOutput.KmsKeyId / TransformResources.VolumeKmsKeyId makes SageMaker create grants
on that key for the job: the role that calls CreateTransformJob needs kms:CreateGrant on the key, limited to grants for
AWS resources (kms:GrantIsForAWSResource), and kms:DescribeKey (SageMaker developer guide, KMS permissions for
CreateTransformJob; KMS developer guide, kms:GrantIsForAWSResource)."""

from tests.aws_rules.policies import allows, as_list, role_statements
from tests.synth_helpers import main_function


def test_the_function_role_may_create_aws_resource_grants_on_the_key_it_passes(app_templates):
    scoring = app_templates["ScorelineScoring"]
    function = main_function(scoring)["Properties"]
    key = function["Environment"]["Variables"]["KMS_KEY_ARN"]
    granted = role_statements(scoring, function["Role"]["Fn::GetAtt"][0])

    create_grant = [s for s in granted if allows(s, "kms:CreateGrant")]
    assert create_grant and all(key in as_list(s["Resource"]) for s in create_grant)
    assert all(s["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}} for s in create_grant)
    assert any(allows(s, "kms:DescribeKey") and key in as_list(s["Resource"]) for s in granted)
