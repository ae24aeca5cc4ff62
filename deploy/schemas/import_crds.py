"""Turns CustomResourceDefinition files into the strict JSON schemas the manifest validator bundles.

    python deploy/schemas/import_crds.py CRD.yaml [CRD.yaml ...]

Writes one `crds/<group>/<kind>-<version>.json` per served version next to this file. A CRD's
`openAPIV3Schema` is what the API server checks a custom resource against, with two differences
that this conversion removes so that an offline check is as strict as the server (or stricter):

- The server prunes fields a structural schema does not declare; an offline check cannot prune,
  so every object that declares `properties` (and does not say
  `x-kubernetes-preserve-unknown-fields`) gets `additionalProperties: false`: an unknown or
  misspelled field fails instead of vanishing.
- OpenAPI's `nullable` and `x-kubernetes-int-or-string` become JSON Schema types, and the
  resource's `apiVersion`, `kind` and `metadata` are pinned (metadata: the ObjectMeta fields a
  manifest may set).

Descriptions are dropped (they are most of a CRD's size). CEL rules (`x-kubernetes-validations`)
are not evaluated offline. SOURCE.md records where each bundled CRD came from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
OUT = HERE / "crds"

OBJECT_META = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
    },
}

DROPPED_KEYS = {"description", "x-kubernetes-validations", "x-kubernetes-list-type",
                "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "example", "externalDocs"}


def strict(node: Any) -> Any:
    """A copy of an OpenAPI v3 (structural) schema node as strict JSON Schema."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROPPED_KEYS:
            continue
        if key == "properties":
            out[key] = {name: strict(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict) or key in ("allOf", "anyOf", "oneOf"):
            out[key] = strict(value)
        else:
            out[key] = value
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def resource_schema(group: str, version: str, kind: str, openapi: dict) -> dict:
    """The whole custom resource: the CRD's schema with apiVersion, kind and metadata pinned."""
    schema = strict(openapi)
    schema.setdefault("properties", {})
    schema["properties"]["apiVersion"] = {"type": "string", "enum": [f"{group}/{version}"]}
    schema["properties"]["kind"] = {"type": "string", "enum": [kind]}
    schema["properties"]["metadata"] = OBJECT_META
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
    schema["additionalProperties"] = False
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def convert(path: Path) -> list[Path]:
    written: list[Path] = []
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc["spec"]
        group, kind = spec["group"], spec["names"]["kind"]
        for version in spec["versions"]:
            if not version.get("served", True):
                continue
            schema = resource_schema(group, version["name"], kind, version["schema"]["openAPIV3Schema"])
            target = OUT / group / f"{kind.lower()}-{version['name']}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n")
            written.append(target)
    return written


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    for name in argv:
        for target in convert(Path(name)):
            print(target.relative_to(HERE))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
