"""The scoring function records each alert it sends as an object under scoring/alerts/ in the data bucket, written
with PutObject If-None-Match, and deletes a record whose alert could not be sent. A conditional write needs
s3:PutObject only (S3 User Guide, "How to prevent object overwrites with conditional writes"), and the bucket encrypts
new objects with the data key (SSE-KMS), so PutObject needs kms:GenerateDataKey on that key (S3 API reference,
PutObject). Least privilege: those actions, on that prefix and key only, the key through S3 only; no object reads."""

from tests.aws_rules.policies import render
from tests.aws_rules.template_iam import allowing, listed, role_statements
from tests.synth_helpers import main_function


def test_the_scoring_function_may_write_and_delete_its_alert_records_and_nothing_else(app_templates):
    scoring = app_templates["ScorelineScoring"]
    function = main_function(scoring)["Properties"]
    statements = role_statements(scoring, function["Role"]["Fn::GetAtt"][0])
    records = render(function["Environment"]["Variables"]["SENT_ALERTS_URI"])

    (write,) = allowing(statements, "s3:PutObject")
    assert allowing(statements, "s3:DeleteObject") == [write]
    assert sorted(write["Action"]) == ["s3:DeleteObject", "s3:PutObject"]
    (objects,) = [render(arn) for arn in listed(write["Resource"])]
    assert objects.startswith("<import:ScorelineStorage:ExportsOutputFnGetAttDataBucket")
    assert objects.endswith(">/scoring/alerts/*")
    assert records.startswith("s3://<import:ScorelineStorage:ExportsOutputRefDataBucket")
    assert records.endswith(">/scoring/alerts/")
    assert allowing(statements, "s3:GetObject") == []


def test_the_scoring_function_may_have_s3_encrypt_its_records_with_the_data_key(app_templates):
    scoring = app_templates["ScorelineScoring"]
    function = main_function(scoring)["Properties"]
    statements = role_statements(scoring, function["Role"]["Fn::GetAtt"][0])
    data_key = function["Environment"]["Variables"]["KMS_KEY_ARN"]

    (encrypt,) = [s for s in allowing(statements, "kms:GenerateDataKey") if data_key in listed(s["Resource"])]
    assert listed(encrypt["Action"]) == ["kms:GenerateDataKey"]
    (via,) = encrypt["Condition"]["StringEquals"].values()
    assert render(via) == "s3.us-east-1.amazonaws.com"
    assert allowing([s for s in statements if data_key in listed(s["Resource"])], "kms:Decrypt") == []
