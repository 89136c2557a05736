"""Integration responses of an AWS (non-proxy) integration, applied to the backend's answer as API Gateway applies
them: the response whose SelectionPattern matches the backend's HTTP status ("For all other HTTP and AWS back ends,
the HTTP status code is matched"), else the one without a pattern (the default), else API Gateway's 500 "Internal
server error" (no default is a configuration error); its ResponseParameters for the method's headers; its
ResponseTemplates run by local_mode/apigateway/vtl.py, whose `$context.responseOverride.status` replaces the
response's StatusCode ("Override your API's request and response parameters and status codes"). A response without
templates passes the body through.

Read from the deployed template: the method's Integration as the cloud assembly has it (`method_integration`).

Refused as a configuration error (500): two responses with one StatusCode (integration responses are addressed by
status code: API Gateway would keep one), two patterns that both match the status (AWS does not document which it
takes).

LIMITATIONS: a pattern matches the whole status (Java's String.matches); the template is the one keyed by the
request's Accept header, else application/json, else the first (AWS's choice when Accept names none is not verified
here); only the method.response.header.Content-Type parameter, from a static value or
integration.response.header.Content-Type (the one header the local endpoint answers with); no ContentHandling; what
vtl.py does not run."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from local_mode.apigateway.vtl import VtlError, render_response
from local_mode.cloudformation.assembly import AssemblyError, read_assembly
from local_mode.sagemaker.endpoints import Answer

log = logging.getLogger("local_mode")
# What API Gateway answers when it cannot map the integration's response ("Execution failed due to configuration
# error"): 500, its default gateway response body.
CONFIGURATION_ERROR = Answer(500, "application/json", b'{"message": "Internal server error"}')


class IntegrationResponseError(ValueError):
    """The integration responses cannot map this answer (API Gateway: a configuration error, a 500)."""


def method_integration(cdk_out: Path, http_method: str, resource_path: str) -> dict:
    """The deployed Integration of the REST API method `http_method` on the resource at `resource_path` (such as
    "/predictions"), as the cloud assembly's template has it."""
    for stack in read_assembly(cdk_out):
        resources = stack.template.get("Resources", {})
        for method in resources.values():
            properties = method.get("Properties", {})
            if method["Type"] != "AWS::ApiGateway::Method" or properties.get("HttpMethod") != http_method:
                continue
            if _resource_path(resources, properties.get("ResourceId")) == resource_path:
                return properties["Integration"]
    raise AssemblyError(f"{cdk_out} has no {http_method} {resource_path} method: synthesize with -c realtime=true")


def _resource_path(resources: dict, resource_id) -> str | None:
    """The path of an AWS::ApiGateway::Resource given as {"Ref": logical id}; "/" for the API's root."""
    parts: list[str] = []
    while isinstance(resource_id, dict) and "Ref" in resource_id:
        resource = resources.get(resource_id["Ref"], {})
        if resource.get("Type") != "AWS::ApiGateway::Resource":
            return None
        parts.insert(0, resource["Properties"]["PathPart"])
        resource_id = resource["Properties"]["ParentId"]
    if isinstance(resource_id, dict) and "Fn::GetAtt" in resource_id:  # the RestApi's RootResourceId
        return "/" + "/".join(parts)
    return None


def select(integration_responses: list[dict], status: int) -> dict | None:
    """The integration response for the backend's status: the one whose pattern matches, else the default."""
    matching = [
        response
        for response in integration_responses
        if response.get("SelectionPattern") and _pattern(response["SelectionPattern"]).fullmatch(str(status))
    ]
    if len(matching) > 1:
        patterns = ", ".join(response["SelectionPattern"] for response in matching)
        raise IntegrationResponseError(f"status {status} matches more than one selection pattern: {patterns}")
    if matching:
        return matching[0]
    defaults = [response for response in integration_responses if not response.get("SelectionPattern")]
    return defaults[0] if defaults else None


def _pattern(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise IntegrationResponseError(f"selection pattern {pattern!r}: {error}") from error


def integration_answer(integration: dict, backend: Answer, accept: str | None = None) -> Answer:
    """What the method answers for the backend's answer, through the integration's responses."""
    try:
        return _mapped(integration.get("IntegrationResponses", []), backend, accept)
    except (IntegrationResponseError, VtlError) as error:
        log.warning("predictions API: cannot map InvokeEndpoint's %s answer: %s", backend.status, error)
        return CONFIGURATION_ERROR


def _mapped(responses: list[dict], backend: Answer, accept: str | None) -> Answer:
    codes = [response["StatusCode"] for response in responses]
    if len(codes) != len(set(codes)):  # PutIntegrationResponse is keyed by status code: one of them would be lost
        raise IntegrationResponseError(f"integration responses share a status code: {sorted(codes)}")
    response = select(responses, backend.status)
    if response is None:
        raise IntegrationResponseError(f"no selection pattern matches status {backend.status} and there is no default")
    headers = {
        _header(name): _parameter(source, backend) for name, source in response.get("ResponseParameters", {}).items()
    }
    status, body = int(response["StatusCode"]), backend.body
    templates = response.get("ResponseTemplates") or {}
    if templates:
        template = templates.get(accept or "") or templates.get("application/json") or next(iter(templates.values()))
        rendered = render_response(template, backend.body.decode("utf-8", errors="replace"))
        status, body = rendered.status or status, rendered.body.encode()
        headers.update(rendered.headers)
    unsupported = set(headers) - {"Content-Type"}
    if unsupported:
        raise IntegrationResponseError(f"only Content-Type is mapped locally (got {sorted(unsupported)})")
    return Answer(status, headers.get("Content-Type", "application/json"), body)


def _header(parameter: str) -> str:
    if not parameter.startswith("method.response.header."):
        raise IntegrationResponseError(f"unsupported response parameter {parameter}")
    return parameter.removeprefix("method.response.header.")


def _parameter(source: str, backend: Answer) -> str:
    if len(source) >= 2 and source.startswith("'") and source.endswith("'"):
        return source[1:-1]
    if source.lower() == "integration.response.header.content-type":
        return backend.content_type
    raise IntegrationResponseError(f"unsupported response parameter source {source}")
