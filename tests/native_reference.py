"""The Python engine as the reference for the native engine's differential tests.

Every way the tests obtain a reference result goes through this one module, so a move of the
Python engine's modules means editing the imports and the few lines below, nothing else.
A report is normalised to plain data both engines can be compared on.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from id_monitor.classify import Classifier
from id_monitor.config import Config, load_config
from id_monitor.extract import MalformedMessage, decode_message
from id_monitor.judge import Judge
from id_monitor.schema import Schema
from id_monitor.sinks.metrics import MetricsBatch
from id_monitor.sinks.redact import redact

SOURCE = "test"
NOW = 1_757_373_103_822


def _custom_config() -> Config:
    """Star paths, per-field legacy, required fields, references, a rule off, small limits."""
    return Config.model_validate({
        "fields": {
            "thread_id": {"paths": ["thread_id", "payload.thread_id", "data.thread_id"], "expect": ["thread"],
                          "required": True},
            "message_id": {"paths": ["message_id", "payload.messages.*.id", "payload.messages.*"],
                           "expect": ["msg"], "legacy": "violation"},
            "connection_id": {"paths": ["connection_id", "data.connection_id"], "expect": ["ws_*"],
                              "required": ["connection_*"]},
            "agent_id": {"paths": ["agent_id", "payload.agent_id"], "expect": ["agent"], "legacy": "allow"},
            "tool_id": {"paths": ["tool_id"], "expect": []},
        },
        "policy": {"legacy": "warn", "max_future_skew": "1s", "max_age": "30d",
                   "references": {"thread8": "thread_id", "agent8": "agent_id"},
                   "severity": {"not_a_string": "warning", "timestamp_skew": "violation"}},
        "limits": {"max_ids_per_message": 5, "max_depth": 8, "max_message_bytes": 2000, "max_id_length": 64},
    })


CONFIGS = {"default": load_config(None, env={}), "custom": _custom_config()}


def classifier(schema: Schema | str, max_length: int = 256) -> Classifier:
    return Classifier(schema, cache_size=0, max_length=max_length)


def judge(config: Config, schema: Schema | None = None) -> Judge:
    """The reference judge (findings carry raw values, like the native engine's)."""
    clf = Classifier(schema or config.schema, cache_size=0, max_length=config.limits.max_id_length)
    return Judge(config, clf)


def report(judge: Judge, raw: bytes | None, observed_ms: int) -> dict[str, Any]:
    """One raw message judged by the reference: result, ids, findings, isolation, owner."""
    if raw is None:
        return {"result": "skipped", "ids": [], "findings": [], "isolation": Counter(), "owner": None}
    limits = judge.config.limits
    try:
        message = decode_message(raw, limits.max_message_bytes, limits.max_depth)
    except MalformedMessage as exc:
        rep, result = judge.malformed(exc.reason), "malformed"
    else:
        rep, result = judge.check(message, observed_ms), "ok"
    return {
        "result": result,
        "ids": [(f, info) for f, info in rep.ids],
        "findings": [(f.rule, f.field, f.severity, shown(f.value), f.format, f.id_type, f.detail)
                     for f in rep.findings],
        "isolation": Counter(rep.isolation),
        "owner": rep.owner,
    }


def shown(value: object) -> str | None:
    """A finding's value as redaction `none` shows it (a non-string as its JSON type)."""
    return None if value is None else redact(value, "none")


def aggregate(judge: Judge, schema: Schema, raws: list[bytes | None], observed_ms: int) -> dict[str, Any]:
    """What the reference metrics count for a batch: ids, findings, messages, ages (per field)."""
    metrics = MetricsBatch()
    limits = judge.config.limits
    for raw in raws:
        if raw is None:
            metrics.message(SOURCE, "skipped")
            continue
        try:
            message = decode_message(raw, limits.max_message_bytes, limits.max_depth)
        except MalformedMessage as exc:
            metrics.message(SOURCE, "malformed")
            metrics.record(SOURCE, judge.malformed(exc.reason), observed_ms)
            continue
        metrics.record(SOURCE, judge.check(message, observed_ms), observed_ms)
        metrics.message(SOURCE, "ok")
    delta = metrics
    return {
        "ids": {(f, fmt): n for (_, f, fmt), n in delta.ids.items()},
        "findings": {(f, rule, sev): n for (_, f, rule, sev), n in delta.findings.items()},
        "messages": {result: n for (_, result), n in delta.messages.items()},
        "ages": {f: (list(counts), total) for (_, f), (counts, total, _) in delta.ages.items()},
    }
