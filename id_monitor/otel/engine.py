"""The classify + judge pair both OpenTelemetry integrations share, built from one Config.

Kept apart so the span processor and the FastAPI layer judge IDs with exactly the same
classifier (and its cache), policy and settings as the Kafka agent would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from id_monitor.otel.settings import HttpSpec

if TYPE_CHECKING:
    from id_monitor.classify import Classifier
    from id_monitor.config import Config
    from id_monitor.policy import Judge


class Engine:
    """A Config with its Judge and Classifier; `settings` is the config's `http` section."""

    def __init__(
        self, config: Config | None = None, *, judge: Judge | None = None, track_owners: bool = True
    ) -> None:
        from id_monitor.classify import Classifier
        from id_monitor.config import load_config
        from id_monitor.policy import Judge

        if config is None:
            config = judge.config if judge is not None else load_config()
        self.config = config
        if judge is None:
            limits = self.config.limits
            classifier = Classifier(
                self.config.schema, cache_size=limits.cache_size, max_length=limits.max_id_length
            )
            judge = Judge(self.config, classifier, track_owners=track_owners)
        self.judge: Judge = judge
        self.classifier: Classifier = judge.classifier
        self.settings: HttpSpec = http_settings(self.config)
        self.max_id_length: int = self.config.limits.max_id_length


def http_settings(config: Config) -> HttpSpec:
    """The config's `http` section, or the defaults when the config has none."""
    settings = getattr(config, "http", None)
    return settings if isinstance(settings, HttpSpec) else HttpSpec()
