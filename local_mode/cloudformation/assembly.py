"""Reading a CDK cloud assembly (`cdk.out`) the way `cdk deploy` does: stacks in dependency order, their
templates and their file assets, and CloudFormation's intrinsic functions resolved against deployed values."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class AssemblyError(RuntimeError):
    """The cloud assembly is missing or uses something local mode cannot deploy."""


@dataclass
class FileAsset:
    source: Path
    packaging: str  # "file" or "zip" (a directory CDK would zip)
    bucket: str  # may hold ${AWS::AccountId} / ${AWS::Region}
    key: str


@dataclass
class StackArtifact:
    name: str
    template: dict[str, Any]
    assets: list[FileAsset] = field(default_factory=list)


def read_assembly(cdk_out: Path) -> list[StackArtifact]:
    """Stacks of the assembly, each after the stacks it depends on. Asset paths are absolute: the deployed functions
    run with their code folder as working directory, where a path relative to the caller's would point nowhere."""
    cdk_out = cdk_out.resolve()
    manifest_file = cdk_out / "manifest.json"
    if not manifest_file.exists():
        raise AssemblyError(f"no cloud assembly in {cdk_out}: run `make synth` (or `cdk synth`) first")
    artifacts = json.loads(manifest_file.read_text())["artifacts"]
    stacks = {name: item for name, item in artifacts.items() if item["type"] == "aws:cloudformation:stack"}
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered or name not in stacks:
            return
        for dependency in stacks[name].get("dependencies", []):
            visit(dependency)
        ordered.append(name)

    for name in sorted(stacks):
        visit(name)
    return [_stack(cdk_out, name, stacks[name], artifacts) for name in ordered]


def _stack(cdk_out: Path, name: str, artifact: dict, artifacts: dict) -> StackArtifact:
    template = json.loads((cdk_out / artifact["properties"]["templateFile"]).read_text())
    assets = []
    for dependency in artifact.get("dependencies", []):
        if artifacts.get(dependency, {}).get("type") == "cdk:asset-manifest":
            manifest = json.loads((cdk_out / artifacts[dependency]["properties"]["file"]).read_text())
            for entry in manifest.get("files", {}).values():
                for destination in entry["destinations"].values():
                    assets.append(
                        FileAsset(
                            source=cdk_out / entry["source"]["path"],
                            packaging=entry["source"].get("packaging", "file"),
                            bucket=destination["bucketName"],
                            key=destination["objectKey"],
                        )
                    )
    return StackArtifact(name=name, template=template, assets=assets)


_PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None}


class Resolver:
    """Resolves intrinsic functions against what has been deployed so far (refs, attributes, exports)."""

    def __init__(self, stack: StackArtifact, account: str, region: str, exports: dict[str, str]):
        self._template = stack.template
        self._pseudo = {
            **_PSEUDO,
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::StackName": stack.name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack.name}/local",
        }
        self._exports = exports
        self.refs: dict[str, Any] = {}
        self.attributes: dict[str, dict[str, Any]] = {}

    def substitute(self, text: str, variables: dict[str, Any] | None = None) -> str:
        """Fn::Sub: ${Name}, ${Resource.Attribute}, ${AWS::Region}; ${!Literal} stays literal."""
        variables = variables or {}

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self._attribute(logical_id, attribute))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = _FUNCTIONS.get(key)
            if function:
                return function(self, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not None}

    def _ref(self, name: str) -> Any:
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self.refs:
            return self.refs[name]
        parameter = self._template.get("Parameters", {}).get(name)
        if parameter is not None:
            return parameter.get("Default")
        raise AssemblyError(f"Ref to {name}, which is not deployed yet")

    def _attribute(self, logical_id: str, attribute: str) -> Any:
        try:
            return self.attributes[logical_id][attribute]
        except KeyError:
            raise AssemblyError(f"Fn::GetAtt {logical_id}.{attribute} is not available in local mode") from None

    def _import(self, name: Any) -> str:
        name = self.resolve(name)
        if name not in self._exports:
            raise AssemblyError(f"Fn::ImportValue {name}: no deployed stack exports it")
        return self._exports[name]

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            return self.substitute(argument[0], argument[1])
        return self.substitute(argument)

    def _find_in_map(self, argument: list) -> Any:
        mapping, first, second = (self.resolve(part) for part in argument)
        try:
            return self._template["Mappings"][mapping][first][second]
        except KeyError:
            raise AssemblyError(f"Fn::FindInMap {mapping}/{first}/{second}: no such entry") from None


def _get_att(resolver: Resolver, argument: Any) -> Any:
    logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
    return resolver._attribute(logical_id, resolver.resolve(attribute))


_FUNCTIONS = {
    "Ref": lambda r, name: r._ref(name),
    "Fn::GetAtt": _get_att,
    "Fn::Join": lambda r, a: str(r.resolve(a[0])).join(str(part) for part in r.resolve(a[1])),
    "Fn::Sub": lambda r, a: r._sub(a),
    "Fn::Select": lambda r, a: r.resolve(a[1])[int(r.resolve(a[0]))],
    "Fn::Split": lambda r, a: str(r.resolve(a[1])).split(r.resolve(a[0])),
    "Fn::FindInMap": lambda r, a: r._find_in_map(a),
    "Fn::ImportValue": lambda r, a: r._import(a),
    "Fn::GetAZs": lambda r, a: [f"{r._pseudo['AWS::Region']}{zone}" for zone in "abc"],
}


def references(value: Any) -> set[str]:
    """Logical ids a template value refers to (Ref, GetAtt, ${...} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else item.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found |= {name.split(".", 1)[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
                found |= references(item[1] if isinstance(item, list) else [])
            else:
                found |= references(item)
    return {name for name in found if not name.startswith("AWS::")}


def deployment_order(template: dict) -> list[str]:
    """Logical ids so that every resource comes after the resources it references or depends on."""
    resources = template.get("Resources", {})
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in ordered or logical_id not in resources or logical_id in visiting:
            return
        visiting.add(logical_id)
        resource = resources[logical_id]
        depends_on = resource.get("DependsOn", [])
        for dependency in sorted(references(resource.get("Properties", {})) | set(_as_list(depends_on))):
            visit(dependency)
        ordered.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return ordered


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]
