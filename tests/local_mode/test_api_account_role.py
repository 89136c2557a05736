"""The local cloud refuses what API Gateway refuses: a stage that logs to CloudWatch (here the predictions API's
access logs, `realtime_access_logs`) in an account whose API Gateway CloudWatch role is not set ("Set up
CloudWatch logging for REST APIs in API Gateway"); once `aws apigateway update-account` sets it, the same app
deploys."""

import pytest

from demo.synth import synthesize
from local_mode.cloudformation.assembly import AssemblyError
from tests.local_mode.conftest import local_cloud


@pytest.fixture(scope="module")
def access_logs_assembly(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("access-logs") / "cdk.out"
    synthesize(out_dir, {"realtime": "true", "realtime_access_logs": "true"})
    return out_dir


def test_access_logs_without_the_account_role_are_refused(access_logs_assembly, tmp_path):
    refused = pytest.raises(AssemblyError, match="CloudWatch Logs role ARN must be set in account settings")
    with local_cloud(tmp_path) as cloud, refused:
        cloud.deploy(access_logs_assembly)


def test_access_logs_deploy_once_the_account_has_the_role(access_logs_assembly, tmp_path):
    with local_cloud(tmp_path) as cloud:
        role = cloud.client("iam").create_role(RoleName="api-gateway-logs", AssumeRolePolicyDocument="{}")["Role"]
        cloud.client("apigateway").update_account(
            patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role["Arn"]}]
        )
        deployment = cloud.deploy(access_logs_assembly)
        assert "ScorelineServing" in [stack.stack_name for stack in deployment.stacks]
