"""A log group encrypted with a customer managed key works only if the key policy lets the CloudWatch Logs service
principal of the Region (logs.<region>.amazonaws.com) use it; AWS recommends binding that grant to the log group
with the encryption context kms:EncryptionContext:aws:logs:arn (CloudWatch Logs user guide, Encrypt log data in
CloudWatch Logs using AWS KMS). The predictions API's access logs are written there."""

from tests.aws_rules.policies import allows, arn, condition_values, render, service_principals
from tests.synth_helpers import resources


def test_the_access_log_key_grants_cloudwatch_logs_for_that_group_only(realtime_access_logs_app):
    serving = realtime_access_logs_app["ScorelineServing"]
    [log_group] = [g for name, g in resources(serving, "AWS::Logs::LogGroup").items() if "AccessLogs" in name]
    key_id = log_group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
    policy = serving["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    group_arn = arn("logs", f"log-group:{log_group['Properties']['LogGroupName']}")

    [grant] = [s for s in policy if "logs.us-east-1.amazonaws.com" in [render(p) for p in service_principals(s)]]
    assert all(allows(grant, action) for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"))
    contexts = condition_values(grant, "kms:EncryptionContext:aws:logs:arn")
    assert [render(value) for values in contexts.values() for value in values] == [group_arn]
