"""`build_engine(config)`: the one place where a Config becomes a classifier, a judge and a redactor.

The agent, its worker processes, `id-monitor check`, the OpenTelemetry layer and the benchmarks
all build their engine here, so they judge IDs with exactly the same schema, cache sizes, policy
and redaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from id_monitor.classify import Classifier
from id_monitor.judge import Judge
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

    @property
    def schema(self) -> Schema:
        return self.classifier.schema

    @property
    def name(self) -> str:
        """Which engine classifies: `python` (the reference)."""
        return getattr(self.classifier, "engine", "python")


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

    if classifier is None:
        classifier = Classifier(load_schema(config.schema), cache_size=config.limits.cache_size,
                                max_length=config.limits.max_id_length)
    judge = Judge(config, classifier, track_owners=track_owners)
    mode = redact or (config.violations.redact if config.violations is not None else "mask")
    return Engine(config, classifier, judge, Redactor(mode, known_types(config, classifier.schema)))
