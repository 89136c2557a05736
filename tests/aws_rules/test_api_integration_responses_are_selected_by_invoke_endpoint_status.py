"""API Gateway picks a method's integration response by the backend's answer: "If the back end is an AWS Lambda
function, the AWS Lambda function error header is matched. For all other HTTP and AWS back ends, the HTTP status code
is matched" (IntegrationResponse selectionPattern); the response without a pattern is the default, "to catch any
response that you haven't configured" (x-amazon-apigateway-integration.responses). So the success response must
select 2xx only, and the default must not be a 200: otherwise a 401, 408 or 413 from SageMaker reaches the caller as a
200 carrying SageMaker's error. Integration responses are addressed by status code (PutIntegrationResponse
`.../integration/responses/{status_code}`): two with the same code are one, and the other is lost. Which response
API Gateway takes when two patterns match is not documented, so no status may match two."""

import re

from tests.aws_rules.predictions_api import integration

STATUSES = range(100, 600)


def _responses(realtime_app) -> list[dict]:
    return integration(realtime_app)["IntegrationResponses"]


def _matches(response: dict, status: int) -> bool:
    return bool(response.get("SelectionPattern")) and re.fullmatch(response["SelectionPattern"], str(status))


def test_only_a_2xx_from_invoke_endpoint_reaches_the_success_response(realtime_app):
    [success] = [response for response in _responses(realtime_app) if response["StatusCode"] == "200"]
    assert [status for status in STATUSES if _matches(success, status)] == list(range(200, 300))


def test_the_default_response_is_not_a_success(realtime_app):
    [default] = [response for response in _responses(realtime_app) if not response.get("SelectionPattern")]
    assert not default["StatusCode"].startswith("2")


def test_each_integration_response_has_its_own_status_code(realtime_app):
    codes = [response["StatusCode"] for response in _responses(realtime_app)]
    assert len(codes) == len(set(codes)), codes


def test_no_status_selects_two_responses(realtime_app):
    responses = _responses(realtime_app)
    for status in STATUSES:
        matching = [response["SelectionPattern"] for response in responses if _matches(response, status)]
        assert len(matching) <= 1, f"{status} matches {matching}"
