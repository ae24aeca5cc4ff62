"""FastAPI integration: judge the IDs every request carries, tag the server span, count, enforce.

`instrument_app(app, config)` adds one pure ASGI middleware, placed innermost (after every other
middleware, so authentication has set `request.state` by then) and working on the app's routes:

- it matches the request against the app's routes the way the router will, which gives the path
  parameters (known only after routing);
- it collects the configured path parameters, headers, query parameters and, when configured,
  top-level JSON body fields (the body is buffered up to `http.max_body_bytes` and replayed to the
  app untouched), and the request's user from a header, a `request.state` attribute or a callable;
- it judges them with the same Judge as the Kafka agent, writes `id_monitor.<field>.*` attributes
  and one span event per finding (named after the rule) on the current span, which under
  `opentelemetry-instrumentation-fastapi` is the server span, and counts IDs and findings with
  `source="http"` (exemplars carry the trace id of sampled spans);
- with `http.enforce: [rule, ...]` a request with such a finding is answered 403 with an
  RFC 9457 problem body naming the rule and field (never the ID), and the handler never runs.

Failures inside the layer never fail the request: they are counted in `internal_errors`, logged
once, and the request goes on unchecked (fail open), as a monitor should.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from opentelemetry import trace
from starlette.middleware import Middleware

from id_monitor.config import HttpSpec
from id_monitor.pipeline import Engine, build_engine
from id_monitor.sinks.spans import (
    FINDINGS_KEY,
    REJECTED_KEY,
    exemplar_of,
    finding_event_attributes,
    id_attributes,
    rule_names,
    worst_by_field,
)
from id_monitor.sources.http import BODY, HEADER, PATH, QUERY, Replay, RequestCollector, UserSource, by_field

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.trace import Span
    from prometheus_client import CollectorRegistry
    from starlette.types import ASGIApp, Receive, Scope, Send

    from id_monitor.config import Config
    from id_monitor.model import Finding, IdInfo
    from id_monitor.sinks.metrics import IdMetrics

logger = logging.getLogger(__name__)

SOURCE = "http"
_LOCATION_TEXT = {PATH: "path parameter", HEADER: "header", QUERY: "query parameter", BODY: "body field"}
_LAYER_ATTR = "_id_monitor_layer"
PROBLEM_TYPE = "urn:id-monitor:problem:"

class RequestCheck:
    """What the layer found in one request; handed to `request_hook`.

    `ids` and `findings` carry the location (`path`, `header`, `query`, `body`) each ID came
    from. `body_result` is ok | malformed | skipped. `rejected_by` is the (location, finding)
    that made enforcement answer 403, if any.
    """

    __slots__ = ("body_result", "findings", "ids", "rejected_by", "user")

    def __init__(self, user: str | None, body_result: str = "ok") -> None:
        self.user = user
        self.ids: list[tuple[str, str, IdInfo]] = []
        self.findings: list[tuple[str | None, Finding]] = []
        self.body_result = body_result
        self.rejected_by: tuple[str | None, Finding] | None = None

    def __repr__(self) -> str:
        return (f"RequestCheck(user={'set' if self.user else None}, ids={len(self.ids)}, "
                f"findings={[f.rule for _, f in self.findings]}, rejected={self.rejected_by is not None})")


class IdHttpLayer:
    """The per-app state of the integration: engine, collector, metrics, hooks and error count."""

    def __init__(
        self,
        app: FastAPI,
        engine: Engine,
        metrics: IdMetrics,
        *,
        user_source: UserSource | None = None,
        request_hook: Any = None,
    ) -> None:
        self.app = app
        self.engine = engine
        self.settings: HttpSpec = engine.config.http
        self.metrics = metrics
        self.request_hook = request_hook
        self.internal_errors = 0
        self.enforce = frozenset(self.settings.enforce)
        self.collector = RequestCollector(app, self.settings, list(engine.config.fields), user_source=user_source)

    def count_error(self, error: BaseException) -> None:
        self.internal_errors += 1
        if self.internal_errors == 1:
            logger.warning("id-monitor HTTP layer failed; request passed unchecked", exc_info=error)
        else:
            logger.debug("id-monitor HTTP layer failed", exc_info=error)

    async def check(self, scope: Scope, replay: Replay) -> RequestCheck | None:
        found, body_result, header_user = await self.collector.collect(scope, replay)
        if not found and body_result == "ok":
            return None
        check = RequestCheck(await self.collector.user(scope, header_user), body_result)
        observed_ms = time.time_ns() // 1_000_000
        span = trace.get_current_span()
        if found:
            values, where = by_field(found)
            report = self.engine.judge.check_fields(values, check.user, observed_ms)
            self.metrics.record(SOURCE, report, observed_ms, exemplar_of(span))
            worst = worst_by_field(report.ids)
            classify = self.engine.classifier.classify
            shown: set[str] = set()
            for location, name, value in found:
                if name in shown:
                    continue  # a field seen in several places shows its worst ID once
                shown.add(name)
                # Non-strings are findings, not IDs, for the judge; the span still says why.
                check.ids.append((location, name, worst.get(name) or classify(value)))
            for finding in report.findings:
                location = _location_of(finding, where)
                check.findings.append((location, finding._replace(location=location)))
        self.metrics.message(SOURCE, body_result)
        if self.enforce:
            check.rejected_by = next((lf for lf in check.findings if lf[1].rule in self.enforce), None)
        if span.is_recording():
            _tag_span(span, check, self.engine)
        if self.request_hook is not None:
            try:
                self.request_hook(span, scope, check)
            except Exception as error:  # noqa: BLE001 - a user hook must not fail the request
                self.count_error(error)
        return check


def _location_of(finding: Finding, where: dict[tuple[str, Any], str]) -> str | None:
    try:
        location = where.get((finding.field, finding.value))
    except TypeError:
        location = None
    if location is None:  # a finding about the field as a whole, or an unhashable value
        location = next((loc for (name, _), loc in where.items() if name == finding.field), None)
    return location


def _tag_span(span: Span, check: RequestCheck, engine: Engine) -> None:
    redactor = engine.redactor
    attributes: dict[str, Any] = {}
    for _, name, info in check.ids:
        attributes.update(id_attributes(name, info, redactor))
    rules = rule_names(finding for _, finding in check.findings)
    if rules:
        attributes[FINDINGS_KEY] = rules
    if check.rejected_by is not None:
        attributes[REJECTED_KEY] = True
    span.set_attributes(attributes)
    for _, finding in check.findings:
        span.add_event(finding.rule, finding_event_attributes(finding, redactor))


def problem(location: str | None, finding: Finding) -> dict[str, Any]:
    """The RFC 9457 problem body of a rejected request: rule and field, never the ID."""
    where = _LOCATION_TEXT.get(location or "", "request")
    return {
        "type": PROBLEM_TYPE + finding.rule,
        "title": "Request rejected by ID policy",
        "status": 403,
        "detail": f"{finding.rule}: the ID in {where} '{finding.field}' is not allowed for this request",
        "rule": finding.rule,
        "field": finding.field,
        "location": location,
    }


async def _reject(scope: Scope, send: Send, location: str | None, finding: Finding) -> None:
    if scope["type"] == "websocket":
        # Closing before accepting makes the server answer the handshake with 403.
        await send({"type": "websocket.close", "code": 1008, "reason": finding.rule})
        return
    body = orjson.dumps(problem(location, finding))
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class IdMonitorMiddleware:
    """The ASGI middleware `instrument_app` installs; see the module docstring."""

    def __init__(self, app: ASGIApp, layer: IdHttpLayer) -> None:
        self.app = app
        self.layer = layer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        replay = Replay(receive)
        check = None
        try:
            check = await self.layer.check(scope, replay)
        except Exception as error:  # noqa: BLE001 - never fail a request because of the monitor
            self.layer.count_error(error)
        if check is not None and check.rejected_by is not None:
            await _reject(scope, send, *check.rejected_by)
            return
        await self.app(scope, replay.receive if replay.pending else receive, send)


def instrument_app(
    app: FastAPI,
    config: Config | None = None,
    *,
    user_source: UserSource | None = None,
    request_hook: Any = None,
    engine: Engine | None = None,
    metrics: IdMetrics | None = None,
    registry: CollectorRegistry | None = None,
) -> IdHttpLayer:
    """Check the IDs of every request `app` serves; see the module docstring.

    `config` defaults to the built-in configuration (its `http` section is the settings);
    `engine` (from `id_monitor.pipeline.build_engine`) shares one already built.
    `user_source(request)` (sync or async) overrides the configured user header/state.
    `request_hook(span, scope, check)` runs after each checked request, before enforcement.
    `metrics` lets several integrations share one `IdMetrics`; otherwise one is made on
    `registry` (a new registry when None: expose `layer.metrics.registry`). Call before the app
    serves its first request; calling it twice returns the existing layer.
    """
    existing = getattr(app, _LAYER_ATTR, None)
    if existing is not None:
        logger.warning("id-monitor: app is already instrumented")
        return existing
    if engine is None:
        if config is None:
            from id_monitor.config import load_config

            config = load_config()
        engine = build_engine(config)
    if metrics is None:
        from id_monitor.sinks.metrics import IdMetrics

        metrics = IdMetrics(engine.config, engine.schema, [SOURCE], registry, engine=engine.name)
    layer = IdHttpLayer(app, engine, metrics, user_source=user_source, request_hook=request_hook)
    # Innermost: runs after every user middleware (authentication, sessions) and right before
    # routing, which is as late as code outside the route handlers can see a request.
    app.user_middleware.append(Middleware(IdMonitorMiddleware, layer=layer))
    app.middleware_stack = None
    setattr(app, _LAYER_ATTR, layer)
    return layer


def uninstrument_app(app: FastAPI) -> None:
    """Undo `instrument_app`: the app serves requests exactly as before."""
    layer = getattr(app, _LAYER_ATTR, None)
    if layer is None:
        return
    app.user_middleware[:] = [
        m for m in app.user_middleware if not (m.cls is IdMonitorMiddleware and m.kwargs.get("layer") is layer)
    ]
    app.middleware_stack = None
    delattr(app, _LAYER_ATTR)
