"""Structured logs: one JSON object per line on stderr, and throttling for repeated events.

A sidecar's logs are read by machines (Loki, Cloud Logging) before people, so every line is a
self-contained JSON object: `ts`, `level`, `logger`, `event` (a stable snake_case name) and the
event's own fields. IDs never appear verbatim: callers pass them through `id_monitor.sinks.redact`.

A fault that repeats per message (broker down, a stream of malformed input) must not flood the
log: `Throttle` lets one line per key through per interval and reports how many it held back.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

ROOT_LOGGER = "id_monitor"
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line; `extra={"fields": {...}}` values become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                if key not in entry:
                    entry[key] = value
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key != "fields" and key not in entry:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return orjson.dumps(entry, default=str).decode()


def configure(level: str | int = "INFO", stream: TextIO | None = None) -> logging.Logger:
    """Send id-monitor's logs (and kafka-python's warnings) as JSON lines to `stream` (stderr).

    kafka-python logs every failed connection attempt; at WARNING it repeats per retry, so it is
    raised to ERROR here and the agent reports connectivity itself, throttled.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger(ROOT_LOGGER)
    root.handlers[:] = [handler]
    root.setLevel(level if isinstance(level, int) else level.upper())
    root.propagate = False
    kafka_logger = logging.getLogger("kafka")
    kafka_logger.handlers[:] = [handler]
    kafka_logger.setLevel(logging.CRITICAL)
    kafka_logger.propagate = False
    return root


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name if name.startswith(ROOT_LOGGER) else f"{ROOT_LOGGER}.{name}")


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log `event` with `fields` as top-level JSON keys."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"fields": fields})


class Throttle:
    """At most one log line per key per `interval` seconds; the next line says how many were held.

    Thread-safe: the health server and the consume loop may report the same fault.
    """

    def __init__(self, logger: logging.Logger, interval: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def log(self, level: int, event: str, key: str | None = None, **fields: Any) -> bool:
        """Log unless this key was logged less than `interval` ago. Returns whether it was logged."""
        key = key or event
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._held[key] = self._held.get(key, 0) + 1
                return False
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            fields["suppressed"] = held
        log_event(self.logger, level, event, **fields)
        return True

    def reset(self, key: str) -> None:
        """Forget a key (the fault cleared), so its next occurrence is logged at once."""
        with self._lock:
            self._last.pop(key, None)
            self._held.pop(key, None)
