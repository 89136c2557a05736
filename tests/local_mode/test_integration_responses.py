"""How the local predictions API maps InvokeEndpoint's answer (local_mode/apigateway/responses.py), as API Gateway
maps an AWS integration's: the response whose selection pattern matches the status, else the default, with the
template's status override; a configuration API Gateway cannot serve is its 500. The serving stack's own responses
are checked against the AWS rules in tests/aws_rules/test_api_*.py, and through HTTP in test_endpoints.py."""

from __future__ import annotations

import json

import pytest

from local_mode.apigateway.responses import CONFIGURATION_ERROR, integration_answer
from local_mode.sagemaker.endpoints import Answer

JSON = {"method.response.header.Content-Type": "'application/json'"}
SUCCESS = {
    "SelectionPattern": "2\\d{2}",
    "StatusCode": "200",
    "ResponseParameters": {"method.response.header.Content-Type": "integration.response.header.Content-Type"},
}
BUSY = {
    "SelectionPattern": "4\\d{2}",
    "StatusCode": "400",
    "ResponseParameters": JSON,
    "ResponseTemplates": {
        "application/json": """#set($m = $input.path('$.message'))
#if(!$m)
#set($context.responseOverride.status = 429)
{"message": "busy"}
#else
{"message": "$util.escapeJavaScript($m)"}
#end""",
        "text/plain": "refused",
    },
}
# "Overrides are final": overriding the status twice is API Gateway's 5XX.
BUSY_TWICE = "#set($context.responseOverride.status = 429)\n#set($context.responseOverride.status = 503)\n{}"
DEFAULT = {"StatusCode": "502", "ResponseParameters": JSON, "ResponseTemplates": {"application/json": '{"m": "bad"}'}}
INTEGRATION = {"IntegrationResponses": [SUCCESS, BUSY, DEFAULT]}


def answer(status: int, body: bytes = b"{}", content_type: str = "application/json") -> Answer:
    return Answer(status, content_type, body)


def test_a_2xx_passes_through_with_the_endpoints_content_type_and_the_responses_status():
    assert integration_answer(INTEGRATION, answer(200, b"1.5\n", "text/csv")) == answer(200, b"1.5\n", "text/csv")
    assert integration_answer(INTEGRATION, answer(204, b"")) == answer(200, b"")


def test_the_matching_response_runs_its_template_and_its_override_is_the_status():
    refused = integration_answer(INTEGRATION, answer(413, b'{"message": "too big"}'))
    assert (refused.status, refused.content_type, json.loads(refused.body)) == (
        400,
        "application/json",
        {"message": "too big"},
    )
    throttled = integration_answer(INTEGRATION, answer(400, b'{"message": null}'))
    assert (throttled.status, json.loads(throttled.body)) == (429, {"message": "busy"})


@pytest.mark.parametrize("status", [100, 302, 503, 599])
def test_a_status_no_pattern_matches_gets_the_default(status):
    assert integration_answer(INTEGRATION, answer(status)) == answer(502, b'{"m": "bad"}')


def test_the_pattern_must_match_the_whole_status():
    only_four = {"IntegrationResponses": [{**SUCCESS, "SelectionPattern": "2"}, DEFAULT]}
    assert integration_answer(only_four, answer(200)).status == 502


def test_the_accept_header_picks_a_template_else_application_json():
    assert integration_answer(INTEGRATION, answer(400, b'{"message": "x"}'), "text/plain").body == b"refused"
    assert integration_answer(INTEGRATION, answer(400, b'{"message": "x"}'), "text/csv").status == 400


@pytest.mark.parametrize(
    "responses, status",
    [
        ([SUCCESS, BUSY], 503),  # no default: nothing for a 5xx
        ([SUCCESS, {**BUSY, "SelectionPattern": "5\\d{2}|4\\d{2}"}, {**DEFAULT, "SelectionPattern": "50[0-3]"}], 503),
        ([SUCCESS, BUSY, {**DEFAULT, "StatusCode": "400"}], 503),  # one status code twice: API Gateway keeps one
        ([SUCCESS, {**BUSY, "ResponseTemplates": {"application/json": "#if($a)no end"}}, DEFAULT], 400),
        ([SUCCESS, {**BUSY, "ResponseTemplates": {"application/json": BUSY_TWICE}}, DEFAULT], 400),
    ],
    ids=["no default", "two patterns match", "a status code twice", "a template that does not parse", "two overrides"],
)
def test_what_api_gateway_cannot_map_is_its_500(responses, status):
    assert integration_answer({"IntegrationResponses": responses}, answer(status)) == CONFIGURATION_ERROR
