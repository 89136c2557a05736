"""The Velocity Template Language (VTL) of API Gateway's mapping templates, the part the serving stack's integration
responses use, run as API Gateway runs a response template: `$input` (path, json, body), `$util` (the six functions
"Variables for data transformations" lists), `$context` with `responseOverride.status` and `.header`, Java String
methods, `#set`, `#if`/`#elseif`/`#else`/`#end`, `##` and `#* *#` comments.

Velocity's own rules kept: a null reference, or a method its object does not have, renders as written
(`$util.toJson($m)` stays in the output: API Gateway's $util has no toJson, and it reports no error for it); `$!ref`
renders nothing instead; a method called on null is null; double-quoted strings are templates themselves ("$!m"),
single-quoted ones are not; #if is false for null and false only (Velocity 1.7; Velocity 2 also takes "", 0 and empty
collections for false: write conditions that hold in both, such as `!$m || $m == ""`); Java's regular expressions
(`matches` is the whole string, `$1` in a replacement).

LIMITATIONS: no #foreach, #macro, #define, #parse, #include, #evaluate, #break, #stop, arithmetic, ranges or list and
map literals (refused, never misread); no `$input.params()`, `$stageVariables` or other `$context` values than what
the caller passes; JSONPath steps `.name`, `['name']` and `[n]` only; #set assigns null as Velocity 2 does (1.7 keeps
the old value); lines holding only directives leave nothing (Velocity 2's "lines" space gobbling); Java regular
expressions run on Python's `re` (their common syntax)."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any


class VtlError(ValueError):
    """The template is not valid VTL, or uses what this engine does not run (LIMITATIONS)."""


@dataclass
class Rendered:
    """A response template's output and what it asked API Gateway to override."""

    body: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def render_response(template: str, body: str) -> Rendered:
    """Run an integration response's template on the backend's body."""
    override: dict[str, Any] = {"status": None, "header": {}}
    variables = {"input": _Input(body), "util": _Util(), "context": {"responseOverride": override}}
    output = _Renderer(variables).render(_Parser(template).template())
    status = override["status"]
    if status is not None and not (isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599):
        raise VtlError(f"$context.responseOverride.status must be an HTTP status code (got {status!r})")
    headers = {str(name): _text(value) for name, value in override["header"].items()}
    return Rendered(output, status, headers)


# --- parsing -----------------------------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_DIRECTIVE = re.compile(r"#\{([A-Za-z]+)\}|#([A-Za-z]+)")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_UNSUPPORTED = {"foreach", "macro", "define", "parse", "include", "evaluate", "break", "stop"}


@dataclass
class _Reference:
    name: str
    steps: list[tuple]  # ("get", name) or ("call", name, [argument expressions])
    quiet: bool  # $!name
    source: str  # as written, what a null renders as


@dataclass
class _Set:
    target: _Reference
    value: tuple


@dataclass
class _If:
    branches: list[tuple[tuple, list]]  # (condition, nodes); a final (None, nodes) is the #else


class _Parser:
    """Template text -> nodes: str (text), _Reference, _Set, _If. Expressions are tuples: ("literal", value),
    ("reference", _Reference), ("string", nodes), ("not", e), ("and"/"or", a, b), ("compare", op, a, b)."""

    def __init__(self, source: str, in_string: bool = False):
        self.s, self.i, self.in_string = source, 0, in_string

    def template(self) -> list:
        return self._nodes(())[0]

    def _nodes(self, stops: tuple[str, ...]) -> tuple[list, str | None, tuple | None]:
        """Nodes up to one of the directives in `stops` (consumed, with its line if it stands alone on it), which
        one, and an #elseif's condition."""
        nodes: list = []
        text: list[str] = []

        def flush():
            if text:
                nodes.append("".join(text))
                text.clear()

        while self.i < len(self.s):
            char = self.s[self.i]
            if char == "\\" and self.s.startswith("$", self.i + 1):
                raise VtlError(f"escaped references (\\$) are not supported: {self._where()}")
            if char == "$":
                reference = self._reference()
                if reference is None:
                    text.append("$")
                    self.i += 1
                else:
                    flush()
                    nodes.append(reference)
                continue
            if char == "#":
                start = self.i
                word = self._directive_word()
                if word is None:
                    text.append("#")
                    self.i += 1
                    continue
                if self.in_string:
                    raise VtlError(f"directives inside strings are not supported: {self._where()}")
                if word in ("##", "#*"):
                    self._comment(word)
                    self._gobble(start, text)
                    continue
                if word in stops:
                    condition = self._parenthesized() if word == "elseif" else None
                    self._gobble(start, text)
                    flush()
                    return nodes, word, condition
                if word in ("elseif", "else", "end"):
                    raise VtlError(f"#{word} without #if: {self._where(start)}")
                if word in _UNSUPPORTED:
                    raise VtlError(f"#{word} is not supported here (LIMITATIONS): {self._where(start)}")
                if word == "set":
                    target, value = self._set()
                    self._gobble(start, text)
                    flush()
                    nodes.append(_Set(target, value))
                else:  # #if
                    condition = self._parenthesized()
                    self._gobble(start, text)
                    flush()
                    nodes.append(self._if(condition))
                continue
            text.append(char)
            self.i += 1
        flush()
        if stops:
            raise VtlError(f"#if without #end (expected one of {', '.join('#' + s for s in stops)})")
        return nodes, None, None

    def _if(self, condition: tuple) -> _If:
        branches = []
        while True:
            nodes, stop, next_condition = self._nodes(("elseif", "else", "end"))
            branches.append((condition, nodes))
            if stop == "end":
                return _If(branches)
            if stop == "else":
                branches.append((None, self._nodes(("end",))[0]))
                return _If(branches)
            condition = next_condition

    def _directive_word(self) -> str | None:
        """At a '#': '##' or '#*' for comments, a directive's name (consumed), or None for a plain '#' (text)."""
        if self.s.startswith("##", self.i) or self.s.startswith("#*", self.i):
            return self.s[self.i : self.i + 2]
        if self.s.startswith("#[[", self.i):
            raise VtlError(f"unparsed content (#[[ ]]#) is not supported: {self._where()}")
        match = _DIRECTIVE.match(self.s, self.i)
        word = match and (match.group(1) or match.group(2))
        if word not in ("set", "if", "elseif", "else", "end", *_UNSUPPORTED):
            return None
        self.i = match.end()
        return word

    def _comment(self, kind: str) -> None:
        if kind == "##":
            end = self.s.find("\n", self.i)
            self.i = len(self.s) if end < 0 else end  # the newline stays (and goes with the line if it is empty)
        else:
            end = self.s.find("*#", self.i + 2)
            if end < 0:
                raise VtlError(f"unclosed #* comment: {self._where()}")
            self.i = end + 2

    def _gobble(self, start: int, text: list[str]) -> None:
        """A directive alone on its line leaves nothing: its indentation and its line end go."""
        line_start = self.s.rfind("\n", 0, start) + 1
        line_end = self.s.find("\n", self.i)
        line_end = len(self.s) if line_end < 0 else line_end
        if self.s[line_start:start].strip(" \t") or self.s[self.i : line_end].strip(" \t"):
            return
        pending = "".join(text)  # ends with the indentation: nothing else stands before the directive on its line
        text[:] = [pending[: len(pending) - (start - line_start)]]
        self.i = min(line_end + 1, len(self.s))

    def _set(self) -> tuple[_Reference, tuple]:
        self._expect("(")
        self._space()
        if not self.s.startswith("$", self.i):
            raise VtlError(f"#set needs a reference on its left: {self._where()}")
        target = self._reference()
        if target is None or target.quiet:
            raise VtlError(f"#set needs a reference on its left: {self._where()}")
        self._space()
        self._expect("=")
        value = self._expression()
        self._space()
        self._expect(")")
        return target, value

    def _parenthesized(self) -> tuple:
        self._space()
        self._expect("(")
        value = self._expression()
        self._space()
        self._expect(")")
        return value

    def _reference(self) -> _Reference | None:
        """At a '$': a reference with its property and method steps, or None when none starts here."""
        start, s = self.i, self.s
        j = start + 1
        quiet = s.startswith("!", j)
        j += quiet
        braced = s.startswith("{", j)
        j += braced
        match = _IDENTIFIER.match(s, j)
        if not match:
            return None
        self.i = match.end()
        steps: list[tuple] = []
        while s.startswith(".", self.i) and (step := _IDENTIFIER.match(s, self.i + 1)):
            if s.startswith("(", step.end()):
                self.i = step.end() + 1
                steps.append(("call", step.group(), self._arguments()))
            else:
                steps.append(("get", step.group()))
                self.i = step.end()
        if s.startswith("[", self.i):
            raise VtlError(f"index steps ([...]) are not supported: {self._where()}")
        if braced:
            self._expect("}")
        return _Reference(match.group(), steps, quiet, s[start : self.i])

    def _arguments(self) -> list[tuple]:
        arguments: list[tuple] = []
        self._space()
        if self.s.startswith(")", self.i):
            self.i += 1
            return arguments
        while True:
            arguments.append(self._expression())
            self._space()
            if self.s.startswith(",", self.i):
                self.i += 1
            elif self.s.startswith(")", self.i):
                self.i += 1
                return arguments
            else:
                raise VtlError(f"expected ',' or ')': {self._where()}")

    def _expression(self) -> tuple:
        return self._or()

    def _or(self) -> tuple:
        left = self._and()
        while self._operator("||", "or"):
            left = ("or", left, self._and())
        return left

    def _and(self) -> tuple:
        left = self._comparison()
        while self._operator("&&", "and"):
            left = ("and", left, self._comparison())
        return left

    def _comparison(self) -> tuple:
        left = self._unary()
        self._space()
        for symbol, word in (("==", "eq"), ("!=", "ne"), ("<=", "le"), (">=", "ge"), ("<", "lt"), (">", "gt")):
            if self._operator(symbol, word):
                return ("compare", symbol, left, self._unary())
        return left

    def _unary(self) -> tuple:
        self._space()
        if self.s.startswith("!", self.i) and not self.s.startswith("!=", self.i):
            self.i += 1
            return ("not", self._unary())
        if self._operator(None, "not"):
            return ("not", self._unary())
        return self._primary()

    def _primary(self) -> tuple:
        self._space()
        s, i = self.s, self.i
        if s.startswith("(", i):
            return self._parenthesized()
        if s.startswith('"', i):
            content = self._string('"')
            return ("string", _Parser(content, in_string=True).template())
        if s.startswith("'", i):
            return ("literal", self._string("'"))
        if s.startswith("$", i):
            reference = self._reference()
            if reference is None:
                raise VtlError(f"expected a reference: {self._where()}")
            return ("reference", reference)
        if number := _NUMBER.match(s, i):
            self.i = number.end()
            return ("literal", float(number.group()) if number.group(1) else int(number.group()))
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self._operator(None, word):
                return ("literal", value)
        if s.startswith("[", i) or s.startswith("{", i):
            raise VtlError(f"list and map literals are not supported: {self._where()}")
        raise VtlError(f"expected a value: {self._where()}")

    def _string(self, quote: str) -> str:
        """A string literal's content as written (Velocity keeps backslashes: they reach the method as they are)."""
        s, start = self.s, self.i + 1
        j = start
        while j < len(s) and s[j] != quote:
            j += 2 if s[j] == "\\" and quote == '"' else 1
        if j >= len(s):
            raise VtlError(f"unclosed string: {self._where()}")
        self.i = j + 1
        return s[start:j]

    def _operator(self, symbol: str | None, word: str) -> bool:
        self._space()
        if symbol and self.s.startswith(symbol, self.i):
            self.i += len(symbol)
            return True
        match = _IDENTIFIER.match(self.s, self.i)
        if match and match.group() == word:
            self.i = match.end()
            return True
        return False

    def _space(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t\r\n":
            self.i += 1

    def _expect(self, token: str) -> None:
        if not self.s.startswith(token, self.i):
            raise VtlError(f"expected {token!r}: {self._where()}")
        self.i += len(token)

    def _where(self, at: int | None = None) -> str:
        at = self.i if at is None else at
        return f"at {at}: {self.s[at : at + 40]!r}"


# --- rendering ---------------------------------------------------------------------------------------------------


class _Renderer:
    def __init__(self, variables: dict[str, Any]):
        self.variables = variables

    def render(self, nodes: list) -> str:
        out: list[str] = []
        for node in nodes:
            if isinstance(node, str):
                out.append(node)
            elif isinstance(node, _Reference):
                value = self.resolve(node)
                out.append(("" if node.quiet else node.source) if value is None else _text(value))
            elif isinstance(node, _Set):
                self.assign(node.target, self.evaluate(node.value))
            else:
                for condition, body in node.branches:
                    if condition is None or _true(self.evaluate(condition)):
                        out.append(self.render(body))
                        break
        return "".join(out)

    def resolve(self, reference: _Reference) -> Any:
        value = self.variables.get(reference.name)
        for step in reference.steps:
            if value is None:
                return None
            if step[0] == "get":
                value = _property(value, step[1])
            else:
                value = _call(value, step[1], [self.evaluate(argument) for argument in step[2]])
        return value

    def assign(self, target: _Reference, value: Any) -> None:
        if not target.steps:
            self.variables[target.name] = value
            return
        if target.steps[-1][0] != "get":
            raise VtlError(f"#set cannot assign to a method call: {target.source}")
        owner = self.resolve(_Reference(target.name, target.steps[:-1], False, target.source))
        if not isinstance(owner, dict):
            raise VtlError(f"#set: {target.source} is not a property of a map")
        owner[target.steps[-1][1]] = value

    def evaluate(self, expression: tuple) -> Any:
        kind = expression[0]
        if kind == "literal":
            return expression[1]
        if kind == "reference":
            return self.resolve(expression[1])
        if kind == "string":
            return self.render(expression[1])
        if kind == "not":
            return not _true(self.evaluate(expression[1]))
        if kind == "and":
            return _true(self.evaluate(expression[1])) and _true(self.evaluate(expression[2]))
        if kind == "or":
            return _true(self.evaluate(expression[1])) or _true(self.evaluate(expression[2]))
        return _compare(expression[1], self.evaluate(expression[2]), self.evaluate(expression[3]))


def _true(value: Any) -> bool:
    return value is not None and value is not False


def _compare(operator: str, left: Any, right: Any) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    if operator in ("==", "!="):
        if left is None or right is None:
            equal = left is None and right is None
        elif numbers or type(left) is type(right):
            equal = left == right
        else:  # Velocity compares the two values' text
            equal = _text(left) == _text(right)
        return equal if operator == "==" else not equal
    if not numbers:
        raise VtlError(f"{operator} compares numbers only (got {left!r} and {right!r})")
    return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[operator]


def _text(value: Any) -> str:
    """A value as Velocity writes it (Java's toString)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_text(k)}={_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)


# --- what templates can call -------------------------------------------------------------------------------------


class _Input:
    """$input: the integration response's body."""

    def __init__(self, body: str):
        self.body = body

    def parsed(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return _NOT_JSON


_NOT_JSON = object()


class _Util:
    """$util: "Variables for data transformations" lists exactly these six."""


def _property(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return value.get(name)
    if isinstance(value, _Input) and name == "body":
        return value.body
    return None


def _call(value: Any, name: str, arguments: list[Any]) -> Any:
    """A method call; None (rendered as written) for a method the value does not have or wrong arguments."""
    if isinstance(value, _Input):
        if name in ("params",):
            raise VtlError("$input.params() is not supported here (LIMITATIONS)")
        if name in ("path", "json") and len(arguments) == 1 and isinstance(arguments[0], str):
            found = _json_path(value.parsed(), value.body, arguments[0])
            return found if name == "path" else json.dumps(found)
        return None
    if isinstance(value, _Util):
        function = _UTIL.get(name)
        if function is None or len(arguments) != 1:
            return None
        return function(arguments[0])
    if isinstance(value, str):
        return _string_method(value, name, arguments)
    if isinstance(value, dict):
        methods = {
            ("get", 1): lambda k: value.get(k),
            ("containsKey", 1): lambda k: k in value,
            ("isEmpty", 0): lambda: not value,
            ("size", 0): lambda: len(value),
        }
    elif isinstance(value, list):
        methods = {
            ("get", 1): lambda n: value[n] if isinstance(n, int) and 0 <= n < len(value) else None,
            ("isEmpty", 0): lambda: not value,
            ("size", 0): lambda: len(value),
        }
    else:
        methods = {("toString", 0): lambda: _text(value)}
    method = methods.get((name, len(arguments)))
    return None if method is None else method(*arguments)


def _string_method(value: str, name: str, arguments: list[Any]) -> Any:
    """java.lang.String's methods that mapping templates use."""
    if not all(isinstance(argument, str) for argument in arguments):
        return None
    methods = {
        ("contains", 1): lambda a: a in value,
        ("startsWith", 1): lambda a: value.startswith(a),
        ("endsWith", 1): lambda a: value.endswith(a),
        ("equals", 1): lambda a: value == a,
        ("matches", 1): lambda a: re.fullmatch(_regex(a), value) is not None,
        ("replaceAll", 2): lambda a, b: _regex(a).sub(_replacement(b), value),
        ("replaceFirst", 2): lambda a, b: _regex(a).sub(_replacement(b), value, count=1),
        ("replace", 2): lambda a, b: value.replace(a, b),
        ("isEmpty", 0): lambda: not value,
        ("length", 0): lambda: len(value),
        ("trim", 0): lambda: value.strip(_JAVA_SPACE),
        ("toLowerCase", 0): lambda: value.lower(),
        ("toUpperCase", 0): lambda: value.upper(),
        ("toString", 0): lambda: value,
    }
    method = methods.get((name, len(arguments)))
    return None if method is None else method(*arguments)


_JAVA_SPACE = "".join(chr(code) for code in range(33))  # String.trim: every character up to ' '


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


_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\['([^']*)'\]|\[([0-9]+)\]")


def _json_path(document: Any, body: str, path: str) -> Any:
    """JSONPath on the body: `$` and steps `.name`, `['name']`, `[n]`; None where nothing is found."""
    if not path.startswith("$"):
        raise VtlError(f"JSONPath must start with $ (got {path!r})")
    steps, at = [], 1
    while at < len(path):
        step = _STEP.match(path, at)
        if not step:
            raise VtlError(f"JSONPath {path!r}: only .name, ['name'] and [n] steps are supported (LIMITATIONS)")
        steps.append(step.groups())
        at = step.end()
    if document is _NOT_JSON:
        return None if steps else body
    value = document
    for name, quoted, index in steps:
        if index:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            value = value.get(name or quoted) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


def _escape_javascript(value: Any) -> str | None:
    """Apache Commons Lang StringEscapeUtils.escapeJavaScript, as API Gateway's $util.escapeJavaScript: ' and " and
    \\ and / escaped, control characters as \\b \\n \\t \\f \\r or \\u00XX, every non-ASCII UTF-16 unit as \\uXXXX."""
    if value is None:
        return None
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


def _utf16_units(text: str) -> list[int]:
    encoded = text.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(encoded[i : i + 2], "big") for i in range(0, len(encoded), 2)]


def _parse_json(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) else None
    except ValueError as error:
        raise VtlError(f"$util.parseJson: not JSON: {value!r}") from error


_UTIL = {
    "escapeJavaScript": _escape_javascript,
    "parseJson": _parse_json,
    "urlEncode": lambda v: urllib.parse.quote_plus(v, safe="*") if isinstance(v, str) else None,
    "urlDecode": lambda v: urllib.parse.unquote_plus(v) if isinstance(v, str) else None,
    "base64Encode": lambda v: base64.b64encode(v.encode()).decode() if isinstance(v, str) else None,
    "base64Decode": lambda v: base64.b64decode(v).decode() if isinstance(v, str) else None,
}
