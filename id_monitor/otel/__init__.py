"""OpenTelemetry integration: ID metadata on spans, FastAPI request checks and enforcement.

- `IdSpanProcessor`: a span processor that tags spans carrying IDs (needs opentelemetry-sdk).
- `instrument_app(app, config=None, ...)` / `uninstrument_app(app)`: the FastAPI integration,
  made to run alongside `opentelemetry-instrumentation-fastapi`.

Names are resolved lazily so that importing this package pulls in neither the SDK nor FastAPI,
and has no side effects: nothing is registered until you call something.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from id_monitor.otel.fastapi import IdHttpLayer, RequestCheck, instrument_app, uninstrument_app
    from id_monitor.otel.processor import IdSpanProcessor
    from id_monitor.config.http import HttpSpec

__all__ = [
    "HttpSpec",
    "IdHttpLayer",
    "IdSpanProcessor",
    "RequestCheck",
    "instrument_app",
    "uninstrument_app",
]

_WHERE = {
    "IdSpanProcessor": "id_monitor.otel.processor",
    "instrument_app": "id_monitor.otel.fastapi",
    "uninstrument_app": "id_monitor.otel.fastapi",
    "IdHttpLayer": "id_monitor.otel.fastapi",
    "RequestCheck": "id_monitor.otel.fastapi",
    "HttpSpec": "id_monitor.config.http",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
