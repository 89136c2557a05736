"""Reading IAM and resource policies in synthesized templates: statements, principals, conditions, ARNs.

Intrinsic functions are rendered to text with a fixed environment (partition aws, us-east-1, account
123456789012), so an ARN a policy builds with Fn::Join can be compared with the ARN AWS gives a named resource."""

from __future__ import annotations

from fnmatch import fnmatchcase

from tests.synth_helpers import resources

PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
ACCOUNT = PSEUDO["AWS::AccountId"]


def render(value) -> str:
    """A template value as text: pseudo parameters filled in, references to resources as <ref:Name>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return PSEUDO.get(argument, f"<ref:{argument}>")
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            return argument[0].join(render(part) for part in argument[1])
        if function == "Fn::ImportValue":
            return f"<import:{render(argument)}>"
    raise AssertionError(f"cannot render {value!r}")


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def statements(document: dict) -> list[dict]:
    return as_list(document["Statement"])


def service_principals(statement: dict) -> list[str]:
    principal = statement.get("Principal")
    if not isinstance(principal, dict):
        return []
    return as_list(principal.get("Service", []))


def actions(statement: dict) -> list[str]:
    return as_list(statement["Action"])


def allows(statement: dict, action: str) -> bool:
    """Whether an Allow statement's actions cover `action` (wildcards such as kms:GenerateDataKey* included)."""
    return statement["Effect"] == "Allow" and any(fnmatchcase(action, granted) for granted in actions(statement))


def condition_values(statement: dict, key: str) -> dict[str, list[str]]:
    """{operator: rendered values} of every operator that tests `key` (keys compare case-insensitively)."""
    found = {}
    for operator, tests in statement.get("Condition", {}).items():
        for name, value in tests.items():
            if name.lower() == key.lower():
                found[operator] = [render(item) for item in as_list(value)]
    return found


def matches_arn(statement: dict, arn: str) -> bool:
    """Whether the statement's aws:SourceArn condition admits `arn`."""
    for operator, values in condition_values(statement, "aws:SourceArn").items():
        if operator in ("ArnEquals", "StringEquals") and arn in values:
            return True
        if operator in ("ArnLike", "StringLike") and any(fnmatchcase(arn, value) for value in values):
            return True
    return False


def limited_to_this_account(statement: dict) -> bool:
    return condition_values(statement, "aws:SourceAccount").get("StringEquals") == [ACCOUNT]


def role_statements(template: dict, role_logical_id: str) -> list[dict]:
    """The statements of every AWS::IAM::Policy attached to the role."""
    found = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"].get("Roles", []):
            found += statements(policy["Properties"]["PolicyDocument"])
    return found


def key_policy_of(template: dict, key_reference) -> list[dict]:
    """The key policy statements of the key a KmsMasterKeyId (GetAtt Arn or Ref) points to."""
    logical_id = key_reference["Fn::GetAtt"][0] if "Fn::GetAtt" in key_reference else key_reference["Ref"]
    return statements(template["Resources"][logical_id]["Properties"]["KeyPolicy"])


def topic_policy_of(template: dict, topic_logical_id: str) -> list[dict]:
    found = []
    for policy in resources(template, "AWS::SNS::TopicPolicy").values():
        if {"Ref": topic_logical_id} in policy["Properties"]["Topics"]:
            found += statements(policy["Properties"]["PolicyDocument"])
    return found


def arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:us-east-1:{ACCOUNT}:{resource}"
