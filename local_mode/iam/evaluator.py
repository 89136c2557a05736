"""IAM as AWS evaluates it for what the local cloud does on a principal's behalf: identity policies of roles
(inline and attached, read from moto's IAM store, so an edit through the IAM API takes effect at once), resource
policies (topic, queue, Lambda permissions) and KMS key policies, each with the real resource ARN.

A role's calls carry their own access key (`credentials_for`): the server maps the key back to the role, so a
request signed by a function, a job or the pipeline is evaluated as that role before moto sees it.

Evaluation follows "Policy evaluation logic" (IAM User Guide): an explicit Deny wins, otherwise an Allow is needed.
Within one account, an identity policy or a resource policy naming the principal is enough ("Cross-account policy
evaluation logic" is not needed here); a KMS key is the exception: its key policy must allow the principal, directly
or through the account ("Key policies in AWS KMS": the default statement for the account root lets IAM policies
grant access), and then an IAM policy must allow it too when the key policy allows only the account.

moto 5.2.5 has an evaluator (moto.iam.access_control.IAMPolicy(document).is_action_permitted(action, resource,
principal, incoming_condition_values)) but local mode cannot use it as it is: it evaluates only StringEquals
conditions and treats every other operator (ArnLike, ArnEquals, StringLike, Bool) as satisfied, turns an Allow whose
condition fails into an explicit Deny, raises TypeError on a {"Service": ...} principal, lets NotResource match
everything, and matches ARNs as unescaped regular expressions. `evaluate` below follows the same statement model with
those points as IAM documents them.

LIMITATIONS: condition operators other than String*/Arn*/Bool (with IfExists) fail closed (the statement does not
apply); only the condition keys listed in CONTEXT_KEYS are supplied, an absent key fails its condition as on AWS
(except with IfExists); permission boundaries, SCPs, session policies and S3 bucket policies are not evaluated; the
caller of the public API (you, the demo, the tests) is the account's administrator and is not evaluated."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

# The request context keys the local cloud supplies (IAM "AWS global condition context keys" and the services' keys).
CONTEXT_KEYS = (
    "aws:SourceArn",
    "aws:SourceAccount",
    "aws:SecureTransport",
    "iam:PassedToService",
    "s3:prefix",
    "kms:ViaService",
    "kms:EncryptionContext:aws:sns:topicArn",
    "kms:EncryptionContext:aws:sqs:arn",
    "cloudwatch:namespace",
)
_ROLE_KEY_PREFIX = "ASIALOCAL"  # temporary credentials of an assumed role start with ASIA


class AccessDenied(Exception):
    """The principal may not do this: the message is AWS's sentence."""

    def __init__(self, principal: str, action: str, resource: str, reason: str):
        self.principal, self.action, self.resource = principal, action, resource
        super().__init__(
            f"User: {principal} is not authorized to perform: {action} on resource: {resource} because {reason}"
        )


@dataclass
class Request:
    """One authorization question: may `principal` do `action` on `resource` in this context."""

    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


# Credentials ---------------------------------------------------------------------------------------------------
def credentials_for(role_arn: str) -> dict[str, str]:
    """The access key a role's calls are signed with (the role's session, as STS would hand it to the service)."""
    digest = hashlib.sha256(role_arn.encode()).hexdigest()[:11].upper()
    return {"aws_access_key_id": f"{_ROLE_KEY_PREFIX}{digest}", "aws_secret_access_key": "local"}


def session_arn(role_arn: str, session: str) -> str:
    """The assumed-role ARN AWS names in an AccessDenied message."""
    account = role_arn.split(":")[4]
    return f"arn:aws:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[1]}/{session}"


class Roles:
    """Which role an access key belongs to, and the role's identity policies from moto's IAM store."""

    def __init__(self, account: str):
        self._account = account
        self._by_key: dict[str, str] = {}

    def register(self, role_arn: str) -> dict[str, str]:
        credentials = credentials_for(role_arn)
        self._by_key[credentials["aws_access_key_id"]] = role_arn
        return credentials

    def role_for_key(self, access_key_id: str) -> str | None:
        return self._by_key.get(access_key_id)

    def identity_documents(self, role_arn: str) -> list[dict]:
        from moto.iam.models import iam_backends

        backend = iam_backends[self._account]["aws"]
        role = backend.get_role(role_arn.rsplit("/", 1)[1])
        documents = [_document(text) for text in role.policies.values()]
        for policy in role.managed_policies.values():
            version = next(v for v in policy.versions if v.is_default)
            documents.append(_document(version.document))
        return documents

    def authorize(self, role_arn: str, request: Request, session: str = "local") -> None:
        """Raise AccessDenied unless the role's identity policies allow the request and none denies it."""
        decision = evaluate(self.identity_documents(role_arn), request)
        if decision != "Allow":
            reason = (
                f"an identity-based policy explicitly denies the {request.action} action"
                if decision == "Deny"
                else f"no identity-based policy allows the {request.action} action"
            )
            raise AccessDenied(session_arn(role_arn, session), request.action, request.resource, reason)


def _document(text: Any) -> dict:
    return json.loads(text) if isinstance(text, str) else text


# Evaluation ----------------------------------------------------------------------------------------------------
def evaluate(documents: list[dict], request: Request, principal: dict[str, str] | None = None) -> str:
    """ "Allow", "Deny" (an explicit deny) or "Neutral" (no statement applies: an implicit deny).

    `principal` is given for resource and key policies: {"Service": "events.amazonaws.com"} or {"AWS": arn}."""
    allowed = False
    for document in documents:
        statements = document.get("Statement", [])
        for statement in [statements] if isinstance(statements, dict) else statements:
            if not _applies(statement, request, principal):
                continue
            if statement.get("Effect") == "Deny":
                return "Deny"
            allowed = True
    return "Allow" if allowed else "Neutral"


def _applies(statement: dict, request: Request, principal: dict[str, str] | None) -> bool:
    if principal is not None and not _principal_matches(statement.get("Principal"), principal):
        return False
    if "NotAction" in statement:
        if _any_match(statement["NotAction"], request.action, case_sensitive=False):
            return False
    elif not _any_match(statement.get("Action", []), request.action, case_sensitive=False):
        return False
    if "NotResource" in statement:
        if _any_match(statement["NotResource"], request.resource):
            return False
    elif not _any_match(statement.get("Resource", "*"), request.resource):
        return False
    return _conditions_hold(statement.get("Condition", {}), request.context)


def _principal_matches(expected: Any, principal: dict[str, str]) -> bool:
    if expected == "*":
        return True
    if not isinstance(expected, dict):
        return False
    for kind, value in principal.items():
        names = expected.get(kind, [])
        names = [names] if isinstance(names, str) else names
        if "*" in names or value in names:
            return True
        if kind == "AWS" and any(
            name.endswith(":root") and value.split(":")[4] == name.split(":")[4] for name in names
        ):
            return True  # the account principal: the account's IAM policies decide (checked by the caller)
    return False


def _any_match(patterns: Any, value: str, case_sensitive: bool = True) -> bool:
    """IAM wildcards: * any run of characters, ? one character (actions compare without case)."""
    patterns = [patterns] if isinstance(patterns, str) else patterns
    for pattern in patterns:
        regex = fnmatch.translate(pattern).replace("[!", "[^")  # fnmatch also reads [..]; ARNs have none
        if re.match(regex, value, 0 if case_sensitive else re.IGNORECASE):
            return True
    return False


def _conditions_hold(conditions: dict, context: dict[str, str]) -> bool:
    """Every operator block holds; within one, every key; a key holds when any expected value matches."""
    for operator, keys in conditions.items():
        for key, expected in keys.items():
            expected = [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(expected)]
            if not _condition_holds(operator, key, expected, context):
                return False
    return True


def _condition_holds(operator: str, key: str, expected: list[str], context: dict[str, str]) -> bool:
    base, if_exists = (operator[: -len("IfExists")], True) if operator.endswith("IfExists") else (operator, False)
    actual = next((value for name, value in context.items() if name.lower() == key.lower()), None)
    if actual is None:
        return if_exists  # "a condition key that is not present in the request context ... evaluates to false"
    matchers = {
        "StringEquals": lambda pattern: actual == pattern,
        "StringEqualsIgnoreCase": lambda pattern: actual.lower() == pattern.lower(),
        "StringLike": lambda pattern: _any_match(pattern, actual),
        "ArnEquals": lambda pattern: _any_match(pattern, actual),  # ARN operators accept wildcards per segment
        "ArnLike": lambda pattern: _any_match(pattern, actual),
        "Bool": lambda pattern: actual.lower() == pattern.lower(),
    }
    negated = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals"}
    if base in negated:
        return not any(matchers[negated[base]](pattern) for pattern in expected)
    if base not in matchers:
        return False  # an operator local mode does not know fails closed (see LIMITATIONS)
    return any(matchers[base](pattern) for pattern in expected)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


class Authorizer:
    """Every decision the local cloud makes on a principal's behalf, against the policies deployed in moto."""

    def __init__(self, account: str, region: str):
        self.account, self.region = account, region
        self.roles = Roles(account)

    def authorize(self, role_arn: str, request: Request, session: str = "local") -> None:
        """A role's call: its identity policies, and for a KMS action the key's policy as well."""
        if request.action.lower().startswith("kms:") and request.resource.startswith("arn:aws:kms:"):
            decision = evaluate(self.key_policy(request.resource), request, {"AWS": role_arn})
            if decision != "Allow":
                raise AccessDenied(
                    session_arn(role_arn, session),
                    request.action,
                    request.resource,
                    "the key policy does not allow it" if decision == "Neutral" else "the key policy denies it",
                )
        self.roles.authorize(role_arn, request, session)

    def assume(self, role_arn: str, service: str, source_arn: str) -> None:
        """A service assumes a role on a resource's behalf: the role's trust policy must allow the service principal
        with the aws:SourceArn and aws:SourceAccount the service sends ("The confused deputy problem")."""
        from moto.iam.models import iam_backends

        try:
            role = iam_backends[self.account]["aws"].get_role(role_arn.rsplit("/", 1)[1])
        except Exception:
            raise AccessDenied(service, "sts:AssumeRole", role_arn, "the role does not exist") from None
        request = Request("sts:AssumeRole", role_arn, {"aws:SourceArn": source_arn, "aws:SourceAccount": self.account})
        if evaluate([_document(role.assume_role_policy_document)], request, {"Service": service}) != "Allow":
            raise AccessDenied(service, "sts:AssumeRole", role_arn, "the role's trust policy does not allow it")

    def deliver(
        self, service: str, request: Request, resource_policy: list[dict], key_arn: str | None, key_context: dict
    ) -> None:
        """A service principal's delivery (rule -> function or queue, alarm -> topic, ...): the target's resource
        policy must allow it, and an encrypted target's key policy must allow the service to use the key."""
        decision = evaluate(resource_policy, request, {"Service": service})
        if decision != "Allow":
            reason = "the resource policy denies it" if decision == "Deny" else "no resource-based policy allows it"
            raise AccessDenied(service, request.action, request.resource, reason)
        if key_arn:
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                key_request = Request(action, key_arn, key_context)
                if evaluate(self.key_policy(key_arn), key_request, {"Service": service}) != "Allow":
                    raise AccessDenied(service, action, key_arn, "the key policy does not allow the service to use it")

    def key_policy(self, key_arn: str) -> list[dict]:
        from moto.kms.models import kms_backends

        key = kms_backends[self.account][self.region].keys.get(key_arn.rsplit("/", 1)[1])
        return [_document(key.policy)] if key is not None and key.policy else []
