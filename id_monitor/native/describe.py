"""Schema + config -> the plain, JSON-able description the native core compiles once.

Everything the core needs is spelled out here so the core holds no policy of its own: formats,
variants in precedence order with each segment's regex and role, the routing tables (first
token / length, as the Python matcher builds them), the builtin codecs by name and options, the
fields with their paths and expectations, severities, references, skew bounds, required fields
and limits. A schema the core cannot match exactly raises NotSupported, so engine selection can
fall back to the Python engine instead of judging differently.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from id_monitor.judge import rules
from id_monitor.sinks.metrics import AGE_BUCKETS
from id_monitor.schema import Schema, load_schema
from id_monitor.schema.segments import WORD_MAX_TOKENS, WORD_TOKEN, Literal, Standard, Timestamp, Word

DESCRIPTION_VERSION = 1
# The Python matcher's limit for no-underscore length buckets (schema/compiler.py).
MAX_LENGTH_BUCKET = 512
_EXPECTED_WORD_TOKEN = "(?=[0-9]{0,31}[a-z])[a-z0-9]{1,32}"
_WORD_TOKEN_CHARS = 32


class NotSupported(ValueError):
    """The native core cannot reproduce this schema's matching exactly (one-line reason)."""


def _word_is_pinned(segments: tuple[Any, ...], at: int) -> bool:
    """The word's look-ahead (a token has a letter) only sees the token itself when what follows
    the word cannot continue it: the end of the ID, or a literal starting with a character that is
    not a lower-case letter or digit."""
    if at + 1 == len(segments):
        return True
    nxt = segments[at + 1]
    return isinstance(nxt, Literal) and bool(nxt.text) and not (nxt.text[0].isascii() and nxt.text[0].isalnum()
                                                                 and not nxt.text[0].isupper())


def _segment(segments: tuple[Any, ...], at: int, fmt_name: str) -> dict[str, Any]:
    seg = segments[at]
    out: dict[str, Any] = {"name": seg.name, "kind": type(seg).__name__.lower(), "role": seg.role}
    if isinstance(seg, Literal):
        out["literal"] = seg.text
        return out
    if isinstance(seg, Word):
        if WORD_TOKEN != _EXPECTED_WORD_TOKEN:
            raise NotSupported(f"format {fmt_name!r}: word token pattern changed ({WORD_TOKEN})")
        if not _word_is_pinned(segments, at):
            raise NotSupported(f"format {fmt_name!r}: word segment {seg.name!r} is directly followed by a "
                               "segment that may continue it")
        out.update(word_tokens=WORD_MAX_TOKENS, word_token_chars=_WORD_TOKEN_CHARS)
        return out
    regex = seg.regex()
    if "(?=" in regex or "(?!" in regex or "(?<" in regex:
        raise NotSupported(f"format {fmt_name!r}: segment {seg.name!r} uses look-around")
    out["regex"] = regex
    if isinstance(seg, Timestamp):
        out["unit"] = seg.unit
    if isinstance(seg, Standard):
        codec = seg.codec
        assert codec is not None
        options = {f.name: getattr(codec, f.name) for f in dataclasses.fields(codec)}
        options["kind"] = codec.kind
        if "versions" in options:
            options["versions"] = list(options["versions"])
        out["codec"] = options
    return out


def describe_schema(schema: Schema) -> dict[str, Any]:
    """Formats, variants (each with its segments), buckets in precedence order, routing."""
    formats = schema.formats
    format_index = {f.name: i for i, f in enumerate(formats)}
    variants = schema.variants
    variant_index = {id(v): i for i, v in enumerate(variants)}
    buckets: list[dict[str, Any]] = []
    shared: dict[tuple[int, ...], int] = {}

    def bucket(vs: list[Any]) -> int:
        key = tuple(sorted(variant_index[id(v)] for v in vs))
        if key not in shared:
            ordered = sorted(vs, key=lambda v: v.precedence)
            shared[key] = len(buckets)
            buckets.append({
                "variants": [variant_index[id(v)] for v in ordered],
                "max_length": max((v.length[1] for v in ordered), default=-1),
            })
        return shared[key]

    underscore = [v for v in variants if v.may_underscore]
    generic_us = [v for v in underscore if v.lead_tokens() is None]
    tokens: dict[str, list[Any]] = {}
    for v in underscore:
        for token in sorted(v.lead_tokens() or ()):
            tokens.setdefault(token, []).append(v)
    token_routes = [(t, bucket(vs + generic_us)) for t, vs in tokens.items()]
    underscore_default = bucket(generic_us)
    plain = [v for v in variants if not v.always_underscore]
    plain_generic = [v for v in plain if v.length[1] > MAX_LENGTH_BUCKET]
    lengths: dict[int, list[Any]] = {}
    for v in plain:
        lo, hi = v.length
        if hi <= MAX_LENGTH_BUCKET:
            for n in range(lo, hi + 1):
                lengths.setdefault(n, []).append(v)
    length_routes = [(n, bucket(vs + plain_generic)) for n, vs in sorted(lengths.items())]
    plain_default = bucket(plain_generic)
    return {
        "formats": [
            {"name": f.name, "status": f.status, "id_type": f.id_type, "id_type_segment": f.id_type_segment}
            for f in formats
        ],
        "variants": [
            {"format": format_index[v.format.name],
             "segments": [_segment(v.segments, i, v.format.name) for i in range(len(v.segments))]}
            for v in variants
        ],
        "buckets": buckets,
        "token_routes": token_routes,
        "underscore_default": underscore_default,
        "length_routes": length_routes,
        "plain_default": plain_default,
    }


def _types(matcher: rules.TypeMatcher | None) -> dict[str, Any] | None:
    if matcher is None:
        return None
    return {"exact": sorted(matcher.exact), "prefixes": list(matcher.prefixes), "text": matcher.text}


def describe_judge(config: Any, schema: Schema) -> dict[str, Any]:
    """The judge's policy: fields, paths, expectations, severities, references, bounds."""
    policy = config.policy
    severity: dict[str, str | None] = dict(rules.DEFAULT_SEVERITY)
    for rule, level in policy.severity.items():
        severity[rule] = None if level == "off" else level
    fields = []
    for name, spec in config.fields.items():
        legacy_policy = spec.legacy or policy.legacy
        fields.append({
            "name": name,
            "paths": list(spec.paths),
            "accepts": _types(rules.type_matcher(spec.expect)),
            "legacy": rules.LEGACY_SEVERITY[legacy_policy],
            "required": spec.required is True,
            "required_types": _types(rules.TypeMatcher(spec.required)) if isinstance(spec.required, list) else None,
        })
    parts = frozenset(policy.references)
    reference_formats = [
        f.name for f in schema.formats
        if not parts.isdisjoint(f.segment_names)
        or any(s.role == "standard" for v in f.variants for s in v.segments)
    ]
    return {
        "fields": fields,
        "owner_paths": list(config.owner.paths),
        "type_paths": list(config.message.type_paths),
        "owner_width": config.owner.width,
        "severity": sorted(severity.items()),
        "max_future_ms": int(policy.max_future_skew.total_seconds() * 1000),
        "max_age_ms": int(policy.max_age.total_seconds() * 1000),
        "references": list(policy.references.items()),
        "reference_formats": reference_formats,
        "shape_only": list(policy.shape_only_types),
    }


def describe(schema: Schema | str, config: Any = None, *, max_id_length: int | None = None) -> dict[str, Any]:
    """The whole description: the schema, the limits, and (with a config) the judge."""
    if isinstance(schema, str):
        schema = load_schema(schema)
    limits = config.limits if config is not None else None
    return {
        "version": DESCRIPTION_VERSION,
        "schema": describe_schema(schema),
        "limits": {
            "max_id_length": max_id_length if max_id_length is not None else (limits.max_id_length if limits else 256),
            "max_message_bytes": limits.max_message_bytes if limits else 1 << 20,
            "max_depth": limits.max_depth if limits else 64,
            "max_ids_per_message": limits.max_ids_per_message if limits else 256,
        },
        "judge": describe_judge(config, schema) if config is not None else None,
        "age_buckets": [b for b in AGE_BUCKETS if b != float("inf")],
    }


def to_json(description: dict[str, Any]) -> str:
    return json.dumps(description, separators=(",", ":"))
