"""Reads infra/template.yaml without AWS: its functions, its rules, and the workspace's functions.

Used by the tests next to it and by infra/build.sh (`python infra/tests/stack.py functions` prints
one `<logical id> <binary> <package> <package dir>` line per function the template deploys; `?`
for a binary no workspace package builds).
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

INFRA = Path(__file__).resolve().parent.parent
ROOT = INFRA.parent
TEMPLATE = INFRA / "template.yaml"


class _Tag:
    """A CloudFormation short-form intrinsic (`!Ref x`, `!GetAtt a.b`, `!Sub ...`), kept as is."""

    def __init__(self, name: str, value):
        self.name = name
        self.value = value

    def __repr__(self) -> str:
        return f"!{self.name} {self.value!r}"

    def __eq__(self, other) -> bool:
        return isinstance(other, _Tag) and (self.name, self.value) == (other.name, other.value)

    def __hash__(self) -> int:
        return hash((self.name, repr(self.value)))


class _Loader(yaml.SafeLoader):
    pass


def _construct_tag(loader: _Loader, suffix: str, node: yaml.Node) -> _Tag:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return _Tag(suffix, value)


_Loader.add_multi_constructor("!", _construct_tag)


def load(path: Path = TEMPLATE) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def ref_name(value) -> str | None:
    """The logical id a `!Ref X`, `!GetAtt X.Arn` or `{"Ref": X}` points at, else None."""
    if isinstance(value, _Tag):
        if value.name == "Ref":
            return value.value
        if value.name == "GetAtt":
            target = value.value
            return target.split(".")[0] if isinstance(target, str) else target[0]
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target.split(".")[0] if isinstance(target, str) else target[0]
    return None


@dataclass(frozen=True)
class TemplateFunction:
    logical_id: str
    binary: str
    code_uri: Path
    properties: dict
    metadata: dict


@dataclass(frozen=True)
class WorkspaceFunction:
    package: str
    directory: Path
    binaries: tuple[str, ...]


def template_functions(template: dict | None = None) -> list[TemplateFunction]:
    template = template if template is not None else load()
    found = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties", {})
        metadata = resource.get("Metadata", {})
        binary = metadata.get("BuildProperties", {}).get("Binary", "")
        code_uri = (INFRA / str(properties.get("CodeUri", ""))).resolve()
        found.append(TemplateFunction(logical_id, binary, code_uri, properties, metadata))
    return found


def workspace_functions(root: Path = ROOT) -> list[WorkspaceFunction]:
    """Every `functions/<dir>` with a Cargo.toml, with the binaries it builds."""
    found = []
    for manifest in sorted((root / "functions").glob("*/Cargo.toml")):
        with open(manifest, "rb") as f:
            cargo = tomllib.load(f)
        package = cargo["package"]["name"]
        binaries = [b["name"] for b in cargo.get("bin", [])]
        if (manifest.parent / "src" / "main.rs").exists() and not any(
            b.get("path", "src/main.rs") == "src/main.rs" for b in cargo.get("bin", [])
        ):
            binaries.append(package)
        found.append(WorkspaceFunction(package, manifest.parent.resolve(), tuple(binaries)))
    return found


def rules(template: dict | None = None) -> dict[str, dict]:
    """Every AWS::Events::Rule, by logical id."""
    template = template if template is not None else load()
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Events::Rule"
    }


def resolve(value, refs: dict[str, str]):
    """`value` with every `!Ref X` / `!GetAtt X.Y` replaced by refs[X] (for tests: names in a pattern)."""
    name = ref_name(value)
    if name is not None:
        return refs[name]
    if isinstance(value, dict):
        return {k: resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    return value


def main(argv: list[str]) -> int:
    if argv[1:] != ["functions"]:
        print("usage: stack.py functions", file=sys.stderr)
        return 2
    by_binary = {b: w for w in workspace_functions() for b in w.binaries}
    for function in template_functions():
        package = by_binary.get(function.binary)
        if package is None:
            print(f"{function.logical_id} {function.binary} ? ?")
        else:
            where = package.directory.relative_to(ROOT)
            print(f"{function.logical_id} {function.binary} {package.package} {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
