"""API Gateway's mapping-template variables around airspeed, the Velocity (VTL) engine localstack runs API Gateway's
templates with (PyPI airspeed-ext, localstack's maintained fork): a response template runs as API Gateway runs it,
with `$input` (path, json, body), `$util` (the six functions "Variables for data transformations" lists) and
`$context.responseOverride` (status and header, "Override your API's request and response parameters and status
codes"). Velocity itself (directives, expressions, comments, string literals) is airspeed's.

API Gateway's rules kept here, where airspeed or Velocity differ:
- A reference that is null or cannot be resolved writes nothing and is "" in expressions, so `$m == ""` holds for a
  missing field and `!$m` is true. Velocity would write such a reference as it stands; API Gateway does not:
  localstack's AWS-validated test_input_path_template_formatting has a missing path, and a property of it, render as
  nothing and equal both $null and "" (localstack's API Gateway makes this same change to airspeed, in
  localstack/utils/aws/templating.py). A function $util does not have (`$util.toJson`: "Variables for data
  transformations" lists six) is such a reference too; that API Gateway writes it as nothing rather than as it stands
  is inferred from the same test (Velocity resolves a missing method and a missing property alike), not observed.
- Java's String methods: `matches` is the whole string, `replaceAll`/`replaceFirst` take `$1` in the replacement.
- A JSON object from `$input.path` writes as Java's Map ({a=1}), an array as compact JSON (localstack's AWS-validated
  snapshot of the same test).
- "Overrides are final": setting the same `$context.responseOverride` parameter twice is API Gateway's 5XX (refused
  here, a VtlError).

LIMITATIONS: no `$input.params()` (refused: the response layer does not carry the method request) or
`$stageVariables`; `$context` holds `responseOverride` only; JSONPath steps `.name`, `['name']` and `[n]` only (others
refused, never misread); a status override must be an int in 100-599 (refused otherwise; localstack ignores such a
value, AWS's behaviour is not verified here); whitespace and #if's truth (Python's: null, false, "", 0 and empty
collections are false) are airspeed's; Java regular expressions run on Python's `re` (their common syntax)."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import airspeed
from airspeed import operators


class VtlError(ValueError):
    """The template is not valid VTL, or does what API Gateway answers with a 5XX, or what this module does not run
    (LIMITATIONS)."""


@dataclass
class Rendered:
    """A response template's output and what it asked API Gateway to override."""

    body: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


# Marks a namespace as API Gateway's, so only these templates get its null rule (airspeed stays as it is elsewhere).
_API_GATEWAY = "__scoreline_api_gateway__"
_OVERRIDE = "$context.responseOverride"


def render_response(template: str, body: str) -> Rendered:
    """Run an integration response's template on the backend's body."""
    override = _Overrides(_OVERRIDE, header=_Overrides(f"{_OVERRIDE}.header"))
    namespace = {
        _API_GATEWAY: True,
        "input": _Input(body),
        "util": _Util(),
        "context": {"responseOverride": override},
    }
    try:
        output = airspeed.Template(template).merge(namespace)
    except airspeed.TemplateError as error:
        if isinstance(error.__cause__, VtlError):  # raised by this module's variables, wrapped by airspeed
            raise error.__cause__ from None
        raise VtlError(str(error)) from error
    status = override.get("status")
    if status is not None and not (isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599):
        raise VtlError(f"$context.responseOverride.status must be an HTTP status code (got {status!r})")
    headers = {str(name): _text(value) for name, value in override["header"].items()}
    return Rendered(output, status, headers)


class _Overrides(dict):
    """$context.responseOverride and its header map: "Overrides are final. An override may only be applied to each
    parameter once. If you try to override the same parameter multiple times, API Gateway returns a 5XX response."""

    def __init__(self, name: str, **items):
        super().__init__(**items)
        self._path = name

    def __setitem__(self, key, value):
        if key in self:
            raise VtlError(f"{self._path}.{key} is overridden twice (overrides are final)")
        super().__setitem__(key, value)


def _null_is_empty(original):
    """airspeed's VariableExpression.calculate (every reference's value), with API Gateway's null rule for the
    namespaces render_response makes."""

    def calculate(self, namespace, loader, global_namespace=None):
        value = original(self, namespace, loader, global_namespace)
        scope = namespace if global_namespace is None else global_namespace
        top = scope.top() if isinstance(scope, operators.LocalNamespace) else scope
        return "" if value is None and isinstance(top, dict) and top.get(_API_GATEWAY) else value

    calculate.wrapped = original
    return calculate


if not hasattr(operators.VariableExpression.calculate, "wrapped"):
    operators.VariableExpression.calculate = _null_is_empty(operators.VariableExpression.calculate)


# --- values: JSON as Java's Map and List, and Java's String methods ------------------------------------------------


class _JsonObject(dict):
    def __str__(self) -> str:
        return "{" + ", ".join(f"{key}={_text(value)}" for key, value in self.items()) + "}"


class _JsonArray(list):
    def __str__(self) -> str:
        return json.dumps(self, separators=(",", ":"), ensure_ascii=False)


def _java(value: Any) -> Any:
    """A parsed JSON value as the template sees it."""
    if isinstance(value, dict):
        return _JsonObject((key, _java(item)) for key, item in value.items())
    if isinstance(value, list):
        return _JsonArray(_java(item) for item in value)
    return value


def _text(value: Any) -> str:
    """A value as Velocity writes it (Java's toString)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _regex(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise VtlError(f"regular expression {pattern!r}: {error}") from error


def _replacement(java: str) -> str:
    """Java's replacement syntax ($1, ${name}, \\x for x) in Python's."""
    out, i = [], 0
    while i < len(java):
        char = java[i]
        if char == "\\" and i + 1 < len(java):
            out.append(java[i + 1].replace("\\", "\\\\"))
            i += 2
        elif char == "$" and (group := re.match(r"\$(?:(\d)|\{([A-Za-z][A-Za-z0-9]*)\})", java[i:])):
            out.append(f"\\g<{group.group(1) or group.group(2)}>")
            i += group.end()
        elif char == "$":
            raise VtlError(f"illegal group reference in replacement {java!r}")
        else:
            out.append("\\\\" if char == "\\" else char)
            i += 1
    return "".join(out)


_JAVA_SPACE = "".join(chr(code) for code in range(33))  # String.trim: every character up to ' '

# java.lang.String's methods templates use, through airspeed's table of methods per type (Python's own str methods
# come first there: `replace` is Python's, the same as Java's). These replace airspeed's replaceAll (Python's
# replacement syntax) and indexOf (an error where Java answers -1).
operators.__additional_methods__[str].update(
    {
        "endsWith": lambda self, suffix: self.endswith(suffix),
        "equals": lambda self, other: isinstance(other, str) and self == other,
        "indexOf": lambda self, text: self.find(text),
        "isEmpty": lambda self: not self,
        "matches": lambda self, pattern: _regex(pattern).fullmatch(self) is not None,
        "replaceAll": lambda self, pattern, by: _regex(pattern).sub(_replacement(by), self),
        "replaceFirst": lambda self, pattern, by: _regex(pattern).sub(_replacement(by), self, count=1),
        "toLowerCase": lambda self: self.lower(),
        "toString": lambda self: self,
        "toUpperCase": lambda self: self.upper(),
        "trim": lambda self: self.strip(_JAVA_SPACE),
    }
)
operators.__additional_methods__[_JsonObject] = {
    **operators.__additional_methods__[dict],
    "containsKey": lambda self, key: key in self,
    "isEmpty": lambda self: not self,
    "size": lambda self: len(self),
    "toString": str,
}
operators.__additional_methods__[_JsonArray] = {**operators.__additional_methods__[list], "toString": str}


# --- $input and $util --------------------------------------------------------------------------------------------


class _Input:
    """$input: the integration response's body."""

    def __init__(self, body: str):
        self.body = body

    def path(self, path: str) -> Any:
        """JSONPath on the body: `$` and steps `.name`, `['name']`, `[n]`; null where nothing is found."""
        return _java(_json_path(self.body, path))

    def json(self, path: str) -> str:
        return json.dumps(_json_path(self.body, path))

    def params(self, *names):
        raise VtlError("$input.params() is not supported here (LIMITATIONS)")


_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\['([^']*)'\]|\[([0-9]+)\]")


def _json_path(body: str, path: str) -> Any:
    if not isinstance(path, str) or not path.startswith("$"):
        raise VtlError(f"JSONPath must start with $ (got {path!r})")
    steps, at = [], 1
    while at < len(path):
        step = _STEP.match(path, at)
        if not step:
            raise VtlError(f"JSONPath {path!r}: only .name, ['name'] and [n] steps are supported (LIMITATIONS)")
        steps.append(step.groups())
        at = step.end()
    try:
        value = json.loads(body)
    except ValueError:
        return None if steps else body  # not JSON: only the whole body
    for name, quoted, index in steps:
        if index:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            value = value.get(name or quoted) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


class _Util:
    """$util: "Variables for data transformations" lists exactly these six (API Gateway's names); anything else is
    null, written as nothing."""

    @staticmethod
    def escapeJavaScript(value: Any) -> str:
        """Apache Commons Lang StringEscapeUtils.escapeJavaScript, as API Gateway's: ' and " and \\ and / escaped,
        control characters as \\b \\n \\t \\f \\r or \\u00XX, every non-ASCII UTF-16 unit as \\uXXXX."""
        out = []
        for unit in _utf16_units(_text(value)):
            if unit > 0x7F:
                out.append(f"\\u{unit:04X}")
            elif unit < 32:
                out.append({8: "\\b", 10: "\\n", 9: "\\t", 12: "\\f", 13: "\\r"}.get(unit, f"\\u{unit:04X}"))
            else:
                char = chr(unit)
                out.append({"'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/"}.get(char, char))
        return "".join(out)

    @staticmethod
    def parseJson(value: str) -> Any:
        try:
            return _java(json.loads(value))
        except (TypeError, ValueError) as error:
            raise VtlError(f"$util.parseJson: not JSON: {value!r}") from error

    @staticmethod
    def urlEncode(value: str) -> str:
        return urllib.parse.quote_plus(value, safe="*")

    @staticmethod
    def urlDecode(value: str) -> str:
        return urllib.parse.unquote_plus(value)

    @staticmethod
    def base64Encode(value: str) -> str:
        return base64.b64encode(value.encode()).decode()

    @staticmethod
    def base64Decode(value: str) -> str:
        return base64.b64decode(value).decode()


def _utf16_units(text: str) -> list[int]:
    encoded = text.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(encoded[i : i + 2], "big") for i in range(0, len(encoded), 2)]
