"""Scrubbing the URL attributes OpenTelemetry's own HTTP instrumentation writes.

`opentelemetry-instrumentation-fastapi` (and -asgi) put the raw request target on the server span:
`http.target`, `http.url` (and `url.path`, `url.query`, `url.full` in the newer conventions). A
path or query that carries an ID (`/threads/thread_chat_1757…_a2f73ae7?run_id=…`) then leaves the
process in every trace, whatever id-monitor redacts. `server_request_hook(engine)` returns a hook
for `FastAPIInstrumentor.instrument_app(app, server_request_hook=...)` that rewrites those
attributes: every path segment and query value that classifies as an ID is shown through the
engine's redactor (mask by default), and any other value that looks like an identifier (8 or more
characters with a digit) by its character classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_plus

from id_monitor.sinks.redact import shape

if TYPE_CHECKING:
    from id_monitor.pipeline import Engine

URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.query", "url.full")
Hook = Callable[[Any, dict[str, Any]], None]


def _looks_like_an_id(text: str) -> bool:
    return len(text) >= 8 and any(ch.isdigit() for ch in text)


class UrlScrubber:
    """Rewrites URLs so no ID value in their path or query survives (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self._classify = engine.classifier.classify
        self._redactor = engine.redactor

    def value(self, raw: str) -> str:
        text = unquote_plus(raw)
        if not text:
            return raw
        info = self._classify(text)
        if info.status != "unknown":
            return quote(self._redactor.value(text, info) or "", safe="*-_.")
        if _looks_like_an_id(text):
            return quote(shape(text), safe="*-_.")
        return raw

    def path(self, path: str) -> str:
        return "/".join(self.value(segment) for segment in path.split("/"))

    def query(self, query: str) -> str:
        pairs = []
        for pair in query.split("&"):
            name, sep, value = pair.partition("=")
            pairs.append(f"{name}{sep}{self.value(value)}" if sep else pair)
        return "&".join(pairs)

    def url(self, url: str) -> str:
        """A full URL, a path with a query, or a path."""
        base, hash_sign, fragment = url.partition("#")
        scheme, sep, rest = base.partition("://")
        prefix = ""
        if sep:
            host, slash, rest = rest.partition("/")
            prefix, rest = f"{scheme}://{host}", slash + rest
        else:
            rest = base
        path, question, query = rest.partition("?")
        out = prefix + self.path(path) + (question + self.query(query) if question else "")
        return out + (hash_sign + self.value(fragment) if hash_sign else "")


def server_request_hook(engine: Engine | None = None, *, then: Hook | None = None) -> Hook:
    """A `server_request_hook` that scrubs the span's URL attributes; `then` chains a hook of yours.
    `engine` defaults to the one built from the default configuration."""
    if engine is None:
        from id_monitor.config import load_config
        from id_monitor.pipeline import build_engine

        engine = build_engine(load_config(), track_owners=False)
    scrubber = UrlScrubber(engine)

    def hook(span: Any, scope: dict[str, Any]) -> None:
        attributes = getattr(span, "attributes", None) or {}
        for key in URL_ATTRIBUTES:
            value = attributes.get(key)
            if isinstance(value, str) and value:
                if key == "url.query":
                    span.set_attribute(key, scrubber.query(value))
                elif key == "url.path":
                    span.set_attribute(key, scrubber.path(value))
                else:
                    span.set_attribute(key, scrubber.url(value))
        if then is not None:
            then(span, scope)

    return hook
