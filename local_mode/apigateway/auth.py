"""IAM authorization of the local predictions API, as API Gateway applies it to a method with AWS_IAM authorization.

Order and answers follow "How do I troubleshoot HTTP 403 errors from API Gateway?" (AWS Knowledge Center) and
"Gateway response types for API Gateway" (API Gateway Developer Guide): a method or resource that does not exist, or
a request without a signature, is 403 MissingAuthenticationTokenException "Missing Authentication Token"; an
unknown access key 403 "The security token included in the request is invalid."; a signature that does not match
403 InvalidSignatureException "The request signature we calculated does not match the signature you provided. ..."
(with the canonical string and string to sign it expected); a signature older than 5 minutes "Signature expired";
then the caller's identity policies are evaluated for `execute-api:Invoke` on the method ARN
`arn:aws:execute-api:region:account:api-id/stage/METHOD/resource-path` ("Control access to a REST API with IAM
permissions"), a refusal is 403 AccessDeniedException. The signature is recomputed with botocore's own SigV4 code
over exactly the headers the caller signed.

Who the caller is: a role's access key (local_mode.iam.evaluator.credentials_for: functions, jobs, or a role a test
registers) is that role, evaluated with local_mode/iam/evaluator.py; the local cloud's administrator key
(local_mode.clients.ADMIN_CREDENTIALS, what the README exports) passes as administrator, as everywhere in the
local cloud. Every secret is "local".

LIMITATIONS: no presigned (query-string) signatures, session tokens are not checked, no API resource policy (the
serving stack sets none), no permission boundaries or SCPs (local_mode/iam/evaluator.py)."""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from local_mode.clients import ADMIN_CREDENTIALS
from local_mode.cloudformation.assembly import AssemblyError, read_assembly
from local_mode.cloudformation.deploy import physical_name  # unsupported types get this name as their Ref
from local_mode.iam.evaluator import AccessDenied, Request, Roles

SERVICE = "execute-api"
SECRET = "local"  # every local credential's secret (local_mode.iam.evaluator.credentials_for, ADMIN_CREDENTIALS)
# IAM User Guide, "AWS Signature Version 4 for API requests": "a request must reach AWS within five minutes of the
# time stamp in the request. Otherwise, AWS denies the request."
MAX_AGE = timedelta(minutes=5)
_AUTHORIZATION = re.compile(r"AWS4-HMAC-SHA256 (?P<parameters>.*)")
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True)
class Refusal:
    """API Gateway's 403: the x-amzn-ErrorType header and the JSON body."""

    error_type: str
    body: dict

    status = 403

    def encoded(self) -> bytes:
        return json.dumps(self.body).encode()


MISSING_TOKEN = Refusal("MissingAuthenticationTokenException", {"message": "Missing Authentication Token"})


class ApiAuthorizer:
    """Decides, for one REST API with IAM authorization on `methods` ({(METHOD, resource path)}), whether a request
    reaches the integration."""

    def __init__(
        self,
        roles: Roles,
        region: str,
        account: str,
        api_id: str,
        stage: str,
        methods: set[tuple[str, str]],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._roles, self.region, self._account, self.api_id, self.stage = roles, region, account, api_id, stage
        self._methods, self._now = methods, now

    def method_arn(self, method: str, resource_path: str) -> str:
        return f"arn:aws:execute-api:{self.region}:{self._account}:{self.api_id}/{self.stage}/{method}{resource_path}"

    def refusal(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Refusal | None:
        """None when the request may reach the integration, else API Gateway's 403. `path` is the request's
        path and query as sent (/stage/resource?query)."""
        resource_path = path.split("?")[0].removeprefix(f"/{self.stage}")
        if (method, resource_path) not in self._methods:
            return MISSING_TOKEN  # API Gateway answers an unknown method or resource this way too
        authorization = headers.get("Authorization")
        if not authorization:
            return MISSING_TOKEN
        signed = _parse(authorization, headers)
        if isinstance(signed, Refusal):
            return signed
        key, signed_headers, signature, timestamp = signed
        problem = self._age_problem(timestamp)
        if problem:
            return problem
        role_arn = self._roles.role_for_key(key)
        if role_arn is None and key != ADMIN_CREDENTIALS["aws_access_key_id"]:
            return Refusal(  # the Knowledge Center's table gives this error type for it
                "AccessDeniedException", {"message": "The security token included in the request is invalid."}
            )
        expected = _expected_signature(key, self.region, method, path, headers, body, signed_headers, timestamp)
        if expected[0] != signature:
            canonical, string_to_sign = expected[1:]
            message = (
                f"{_MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
                f"The String-to-Sign should have been\n'{string_to_sign}'\n"
            )
            return Refusal("InvalidSignatureException", {"message": message})
        if role_arn is None:
            return None  # the administrator
        try:
            self._roles.authorize(role_arn, Request("execute-api:Invoke", self.method_arn(method, resource_path)))
        except AccessDenied as denial:
            return Refusal("AccessDeniedException", {"Message": str(denial)})
        return None

    def _age_problem(self, timestamp: str) -> Refusal | None:
        try:
            signed_at = datetime.strptime(timestamp, _TIMESTAMP).replace(tzinfo=UTC)
        except ValueError:
            return _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{timestamp}'.")
        now = self._now()
        if signed_at < now - MAX_AGE:
            earliest = (now - MAX_AGE).strftime(_TIMESTAMP)
            message = (
                f"Signature expired: {timestamp} is now earlier than {earliest} ({now.strftime(_TIMESTAMP)} - 5 min.)"
            )
            return Refusal("InvalidSignatureException", {"message": message})
        return None


def _incomplete(message: str) -> Refusal:
    return Refusal("IncompleteSignatureException", {"message": message})


def _parse(authorization: str, headers: Mapping[str, str]):
    """(access key, signed header names, signature, timestamp) or the refusal of a malformed header."""
    match = _AUTHORIZATION.fullmatch(authorization.strip())
    parameters = dict(
        part.strip().split("=", 1) for part in (match.group("parameters") if match else "").split(",") if "=" in part
    )
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in parameters]
    if missing:
        sentences = " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
        return _incomplete(f"{sentences} Authorization={authorization}")
    timestamp = headers.get("X-Amz-Date")
    if not timestamp:
        return _incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    key = parameters["Credential"].split("/")[0]  # a scope other than date/region/execute-api fails the signature
    return key, parameters["SignedHeaders"].split(";"), parameters["Signature"], timestamp


class _Verifier(SigV4Auth):
    """botocore's SigV4 signer over exactly the headers the caller named in SignedHeaders."""

    def __init__(self, credentials: Credentials, region: str, signed_headers: list[str]):
        super().__init__(credentials, SERVICE, region)
        self._signed_headers = signed_headers

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = HTTPHeaders()
        for name in self._signed_headers:
            for value in request.headers.get_all(name) or []:
                chosen[name] = value
        return chosen


def _expected_signature(key, region, method, path, headers, body, signed_headers, timestamp) -> tuple[str, str, str]:
    """(signature, canonical request, string to sign) as the caller should have computed them."""
    request = AWSRequest(method=method, url=f"http://{headers.get('Host', 'localhost')}{path}", data=body)
    for name, value in headers.items():
        request.headers[name] = value
    request.context["timestamp"] = timestamp
    verifier = _Verifier(Credentials(key, SECRET), region, signed_headers)
    canonical = verifier.canonical_request(request)
    string_to_sign = verifier.string_to_sign(request, canonical)
    return verifier.signature(string_to_sign, request), canonical, string_to_sign


def signed_headers(
    url: str,
    body: bytes,
    content_type: str | None,
    region: str,
    credentials: Mapping[str, str] = ADMIN_CREDENTIALS,
    method: str = "POST",
) -> dict[str, str]:
    """The headers a caller sends to an IAM-authorized API: SigV4 for execute-api, signed by botocore."""
    request = AWSRequest(
        method=method, url=url, data=body, headers={"Content-Type": content_type} if content_type else {}
    )
    keys = Credentials(credentials["aws_access_key_id"], credentials["aws_secret_access_key"])
    SigV4Auth(keys, SERVICE, region).add_auth(request)
    return dict(request.headers.items())


def signed_post(url: str, body: bytes, region: str, timeout: float = 60) -> tuple[int, str]:
    """POST text/csv rows as an application does: SigV4-signed for execute-api; the status and the answer's text."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("POST", parts.path, body=body, headers=signed_headers(url, body, "text/csv", region))
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def rest_api_id(cdk_out: Path) -> str:
    """The id the local deploy gave the app's REST API (its Ref, as the deployed invoke policy resolved it)."""
    for stack in read_assembly(cdk_out):
        for logical_id, resource in stack.template.get("Resources", {}).items():
            if resource["Type"] == "AWS::ApiGateway::RestApi":
                return physical_name(stack, logical_id)
    raise AssemblyError(f"{cdk_out} has no REST API: synthesize with -c realtime=true")
