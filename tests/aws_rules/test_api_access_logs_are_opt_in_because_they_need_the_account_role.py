"""API Gateway writes any CloudWatch log of a stage, access logs included, with the account's CloudWatch role, set
once per account and Region ("Set up CloudWatch logging for REST APIs in API Gateway": permissions for CloudWatch
logging); in an account without it, creating a stage with AccessLogSetting fails ("CloudWatch Logs role ARN must be
set in account settings to enable logging"). So the default app logs no access and works in a fresh account, access
logs are the opt-in `realtime_access_logs`, and the app never sets the account's role itself
(AWS::ApiGateway::Account would replace the one every other API of the Region uses)."""

from tests.synth_helpers import only, resources


def test_the_default_stage_works_in_an_account_without_the_role(realtime_app):
    stage = only(realtime_app["ScorelineServing"], "AWS::ApiGateway::Stage")["Properties"]
    assert "AccessLogSetting" not in stage
    assert all(setting.get("LoggingLevel", "OFF") == "OFF" for setting in stage.get("MethodSettings", []))


def test_access_logs_when_asked_and_never_the_account_role(realtime_app, realtime_access_logs_app):
    stage = only(realtime_access_logs_app["ScorelineServing"], "AWS::ApiGateway::Stage")["Properties"]
    assert "DestinationArn" in stage["AccessLogSetting"]
    for app in (realtime_app, realtime_access_logs_app):
        assert not any(resources(template, "AWS::ApiGateway::Account") for template in app.values())
