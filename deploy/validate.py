"""Strict offline validation of Kubernetes manifests against bundled JSON schemas.

    python deploy/validate.py [--kube-version 1.33] [--schemas DIR ...] FILE|- [FILE ...]
    helm template deploy/helm/id-monitor | scripts/validate-manifests -

Every YAML document must be an object with `apiVersion` and `kind` and must match its schema:
built-in kinds against the Kubernetes schemas of `kubernetes-validate` (strict variant), custom
resources against the schemas in `deploy/schemas/crds/` and any `--schemas` directory. Strict
means what the API server with strict field validation means: an unknown or misspelled field
fails, a wrong type fails (a port given as a string), a duplicate key in one mapping fails, and
an object whose kind has no schema fails (no silent pass for a custom resource).

Exit status: 0 when every document is valid, 1 with one line per problem otherwise, 2 for usage
errors (an unreadable file, an unknown Kubernetes version, a broken schema directory).

Why not a cluster's dry run: CI has no cluster, and a check that needs one is skipped where it
matters most. Why JSON schemas rather than a Go tool: the test suite is Python and so is the
schema source (`kubernetes-validate`); one process validates a whole chart render.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

HERE = Path(__file__).resolve().parent
BUNDLED_CRDS = HERE / "schemas" / "crds"
DEFAULT_KUBE_VERSION = "1.33"


@dataclass(frozen=True)
class Problem:
    """One reason a manifest is invalid, located by file, document and field path."""

    source: str
    document: int  # 1-based position of the YAML document in its source
    resource: str  # Kind/name, or "?" when the document has none
    path: str  # JSON path inside the document, "$" for the document itself
    message: str

    def __str__(self) -> str:
        return f"{self.source}: document {self.document} ({self.resource}) at {self.path}: {self.message}"


class ManifestError(Exception):
    """A usage problem: unreadable input, unknown Kubernetes version, broken schema directory."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key repeated in one mapping (YAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_documents(text: str) -> list[Any]:
    """The YAML documents of `text`, empty ones dropped (a rendered chart has many)."""
    return [doc for doc in yaml.load_all(text, Loader=_UniqueKeyLoader) if doc is not None]


# -- schemas -------------------------------------------------------------------------------------

def _kube_schema_root() -> Path:
    return Path(str(resources.files("kubernetes_validate") / "kubernetes-json-schema"))


def kube_schema_dir(kube_version: str) -> Path:
    """The strict schema directory of the newest bundled Kubernetes release not newer than asked."""
    wanted = _minor_tuple(kube_version)
    available = sorted(
        (_minor_tuple(p.name[1:].removesuffix("-local-strict")), p)
        for p in _kube_schema_root().glob("v*-local-strict")
    )
    older = [p for version, p in available if version <= wanted]
    if not older:
        have = ", ".join(".".join(map(str, v)) for v, _ in available)
        raise ManifestError(f"no Kubernetes schemas for version {kube_version} (bundled: {have})")
    if wanted > available[-1][0]:
        raise ManifestError(f"Kubernetes {kube_version} is newer than the bundled schemas "
                            f"(newest: {'.'.join(map(str, available[-1][0]))})")
    return older[-1]


def _minor_tuple(version: str) -> tuple[int, int]:
    match = re.match(r"^v?(\d+)\.(\d+)", version)
    if not match:
        raise ManifestError(f"not a Kubernetes version: {version!r} (expected e.g. 1.33)")
    return int(match.group(1)), int(match.group(2))


def _builtin_file(api_version: str, kind: str) -> str:
    # apps/v1 -> apps-v1, rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return f"{kind.lower()}-{group_version}.json"


@cache
def _kube_registry(schema_dir: Path) -> Registry:
    definitions = json.loads((schema_dir / "_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


@cache
def _crd_index(directories: tuple[Path, ...]) -> dict[tuple[str, str], Path]:
    """(apiVersion, kind) -> schema file, read from each schema's pinned apiVersion and kind."""
    index: dict[tuple[str, str], Path] = {}
    for directory in directories:
        if not directory.is_dir():
            raise ManifestError(f"schema directory not found: {directory}")
        for path in sorted(directory.rglob("*.json")):
            try:
                props = json.loads(path.read_text())["properties"]
                key = (props["apiVersion"]["enum"][0], props["kind"]["enum"][0])
            except (ValueError, KeyError, IndexError, TypeError):
                raise ManifestError(f"{path}: not a resource schema (needs properties.apiVersion.enum "
                                    "and properties.kind.enum)") from None
            index[key] = path
    return index


@cache
def _validator(schema_file: Path, kube_dir: Path | None) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_file.read_text())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    if kube_dir is None:
        return cls(schema)
    return cls(schema, registry=Resource.from_contents(schema) @ _kube_registry(kube_dir))


class Validator:
    """Validates manifests; holds the schema choice (Kubernetes version, extra CRD schemas)."""

    def __init__(self, kube_version: str = DEFAULT_KUBE_VERSION, schema_dirs: Iterable[Path] = ()):
        self.kube_dir = kube_schema_dir(kube_version)
        self.kube_version = self.kube_dir.name[1:].removesuffix("-local-strict")
        self.crd_dirs = (BUNDLED_CRDS, *(Path(d).resolve() for d in schema_dirs))
        self.crds = _crd_index(self.crd_dirs)

    def schema_for(self, api_version: str, kind: str) -> tuple[Path, Path | None] | None:
        if (api_version, kind) in self.crds:
            return self.crds[(api_version, kind)], None
        builtin = self.kube_dir / _builtin_file(api_version, kind)
        if builtin.is_file():
            return builtin, self.kube_dir
        return None

    def validate_document(self, doc: Any, source: str, number: int) -> list[Problem]:
        if not isinstance(doc, dict):
            return [Problem(source, number, "?", "$", f"not a mapping but {type(doc).__name__}")]
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        name = (doc.get("metadata") or {}).get("name", "?") if isinstance(doc.get("metadata"), dict) else "?"
        resource = f"{kind}/{name}"
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return [Problem(source, number, resource, "$", "apiVersion and kind must be strings")]
        found = self.schema_for(api_version, kind)
        if found is None:
            return [Problem(source, number, resource, "$",
                            f"no schema for {api_version} {kind}: a custom resource needs its CRD "
                            "schema bundled (deploy/schemas/SOURCE.md) or given with --schemas")]
        validator = _validator(*found)
        problems = []
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
            best = jsonschema.exceptions.best_match([error])
            problems.append(Problem(source, number, resource, best.json_path, best.message))
        return problems

    def validate_text(self, text: str, source: str = "<input>") -> list[Problem]:
        """Every problem of every document in `text` (a multi-document YAML stream)."""
        return self.check_text(text, source)[1]

    def check_text(self, text: str, source: str = "<input>") -> tuple[int, list[Problem]]:
        """(number of documents, their problems)."""
        try:
            docs = load_documents(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark else "?"
            return 0, [Problem(source, 0, "?", where, f"not valid YAML: {getattr(err, 'problem', err)}")]
        if not docs:
            return 0, [Problem(source, 0, "?", "$", "no Kubernetes objects")]
        problems: list[Problem] = []
        for number, doc in enumerate(docs, start=1):
            problems += self.validate_document(doc, source, number)
        return len(docs), problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="validate-manifests",
        description="Validate Kubernetes manifests strictly and offline (unknown fields, wrong "
                    "types and kinds without a schema fail).")
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML manifests; - reads stdin")
    parser.add_argument("--kube-version", default=DEFAULT_KUBE_VERSION,
                        help=f"Kubernetes version whose schemas apply (default {DEFAULT_KUBE_VERSION})")
    parser.add_argument("--schemas", action="append", default=[], type=Path, metavar="DIR",
                        help="extra directory of custom resource schemas (repeatable)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print problems only")
    args = parser.parse_args(argv)
    try:
        validator = Validator(args.kube_version, args.schemas)
        problems: list[Problem] = []
        count = 0
        for name in args.files:
            try:
                text = sys.stdin.read() if name == "-" else Path(name).read_text()
            except OSError as err:
                raise ManifestError(f"cannot read {name}: {err.strerror}") from None
            objects, found = validator.check_text(text, "<stdin>" if name == "-" else name)
            count += objects
            problems += found
    except ManifestError as err:
        print(f"validate-manifests: {err}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    if not args.quiet and not problems:
        print(f"validate-manifests: {count} objects valid (Kubernetes {validator.kube_version})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
