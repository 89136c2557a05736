"""The packages' layers (README, Layout): each imports only the packages below it, and no modules import each other
in a cycle. Code that ships alone (container code, functions) imports no package of the project at all."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> the project's packages it may import (besides itself)
ALLOWED = {
    "scoreline": set(),
    "pipeline_definitions": {"scoreline"},
    "stacks": {"scoreline", "pipeline_definitions"},
    "local_mode": {"scoreline"},
    "registry": set(),  # the AWS API only: the same page works against a real account
    "demo": {"scoreline", "local_mode", "registry"},
    "benchmarks": {"scoreline", "local_mode", "demo", "registry"},
    "functions": set(),
    "container_code": set(),
}


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    """Every absolute import of `path`, `from a import b` counted as both a and a.b (b may be a module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


MODULES = {_module_name(path): path for package in ALLOWED for path in (ROOT / package).rglob("*.py")}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package):
    upward = sorted(
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        if name.split(".")[0] == package
        for imported in _imports(path)
        if imported.split(".")[0] in ALLOWED
        and imported.split(".")[0] not in ALLOWED[package] | {package}
        and imported in MODULES
    )
    assert upward == []


def test_no_modules_import_each_other_in_a_cycle():
    graph = {
        name: {other for other in _imports(path) if other in MODULES and other != name}
        for name, path in MODULES.items()
    }
    assert _cycles(graph) == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iteratively)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, neighbours = work[-1]
            for neighbour in neighbours:
                if neighbour not in index:
                    index[neighbour] = low[neighbour] = len(index)
                    stack.append(neighbour)
                    on_stack.add(neighbour)
                    work.append((neighbour, iter(sorted(graph[neighbour]))))
                    break
                if neighbour in on_stack:
                    low[node] = min(low[node], index[neighbour])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
