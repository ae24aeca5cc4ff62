"""`build_engine(config)`: the one place where a Config becomes a classifier, a judge and a redactor.

The agent, its worker processes, `id-monitor check`, the OpenTelemetry layer and the benchmarks
all build their engine here, so they judge IDs with exactly the same schema, cache sizes, policy
and redaction.

It is also where the configured `engine: auto | native | python` is resolved
(`id_monitor.native.resolve_engine`): on the native engine `Checker.check_batch` hands whole
batches to the compiled core; the Python `Classifier` and `Judge` stay for what is judged one
message or request at a time (`id-monitor check`'s per-line reports, the OpenTelemetry layer) and
for unreadable records, because the core's single-value path is measured slower than the Python
one today (docs/performance.md).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from id_monitor import native
from id_monitor.classify import Classifier
from id_monitor.judge import Judge
from id_monitor.logs import get_logger, log_event
from id_monitor.sinks.redact import Redactor

if TYPE_CHECKING:
    from id_monitor.config import Config
    from id_monitor.schema import Schema


@dataclass(frozen=True)
class Engine:
    """A Config with its classifier, judge and the redactor its sinks show findings through."""

    config: Config
    classifier: Classifier
    judge: Judge
    redactor: Redactor
    name: str = "python"  # which engine checks batches: `native` | `python` (the reference)

    @property
    def schema(self) -> Schema:
        return self.classifier.schema


log = get_logger("pipeline")
_NOTICES_SHOWN: set[str] = set()


def select_engine(config: Config, schema: Schema) -> tuple[str, str | None]:
    """(`native` | `python`, notice) for `config.engine` and this schema. `auto` falls back to
    the Python engine with a one-line notice (`show_notice`); `native` raises a ConfigError
    (`native.EngineUnavailable`) when the core cannot run this configuration."""
    return native.resolve_engine(config.engine, schema, config)


def show_notice(name: str, notice: str | None) -> None:
    """The fallback notice, once per process: a JSON log event where logging is set up (the
    agent), else one plain stderr line."""
    if notice is not None and notice not in _NOTICES_SHOWN:
        _NOTICES_SHOWN.add(notice)
        if log.hasHandlers():  # the agent's JSON log
            log_event(log, logging.WARNING, "engine_fallback", engine=name, reason=notice)
        else:  # a command without logging set up: the notice as one plain line
            print(f"id-monitor: {notice}", file=sys.stderr)


def known_types(config: Config, schema: Schema) -> frozenset[str]:
    """id_types that may be shown as they are: the schema's fixed ones, every field's `expect`
    entries (`evt_*` names a family) and the shape-only types."""
    expected = {entry for spec in config.fields.values() for entry in spec.expect}
    return schema.id_types() | expected | frozenset(config.policy.shape_only_types)


def build_engine(config: Config, *, redact: str | None = None, track_owners: bool = True,
                 classifier: Classifier | None = None) -> Engine:
    """The engine for `config`. `redact` overrides the configured mode (violations.redact, else
    mask); `track_owners=False` makes judging stateless (no owner-collision tracking);
    `classifier` shares one already built (its cache) instead of building one."""
    from id_monitor.schema import load_schema

    notice = None
    if classifier is None:
        schema = load_schema(config.schema)
        name, notice = select_engine(config, schema)
        # Single values (id-monitor check's per-line reports, spans, HTTP requests) are classified
        # by the Python Classifier on either engine: the core's single-call path is measured
        # slower today (docs/performance.md); the native engine is the batch path.
        classifier = Classifier(schema, cache_size=config.limits.cache_size, max_length=config.limits.max_id_length)
    else:
        name = getattr(classifier, "engine", "python")
    assert classifier is not None
    judge = Judge(config, classifier, track_owners=track_owners)
    show_notice(name, notice)  # after everything that may fail: a config error stays the only line
    mode = redact or (config.violations.redact if config.violations is not None else "mask")
    return Engine(config, classifier, judge, Redactor(mode, known_types(config, classifier.schema)), name)
