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

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import orjson
from opentelemetry import trace
from starlette.middleware import Middleware
from starlette.requests import Request

try:  # FastAPI >= 0.137.2 nests included routers; this flattens them into matchable routes.
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI keeps routes flat
    iter_route_contexts = None

from id_monitor.otel.attributes import (
    FINDINGS_KEY,
    REJECTED_KEY,
    exemplar_of,
    finding_event_attributes,
    id_attributes,
    rule_names,
    worst_by_field,
)
from id_monitor.otel.engine import Engine
from id_monitor.otel.routes import RouteTable

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.trace import Span
    from prometheus_client import CollectorRegistry
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from id_monitor.config import Config
    from id_monitor.metrics import IdMetrics
    from id_monitor.model import Finding, IdInfo
    from id_monitor.policy import Judge

logger = logging.getLogger(__name__)

SOURCE = "http"
PATH, HEADER, QUERY, BODY = "path", "header", "query", "body"
_LOCATION_TEXT = {PATH: "path parameter", HEADER: "header", QUERY: "query parameter", BODY: "body field"}
_LAYER_ATTR = "_id_monitor_layer"
PROBLEM_TYPE = "urn:id-monitor:problem:"

UserSource = Callable[[Request], "str | None | Awaitable[str | None]"]
RequestHook = Callable[["Span", "Scope", "RequestCheck"], None]


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


class _Replay:
    """A `receive` that hands back buffered request messages first, then the real ones."""

    __slots__ = ("_buffer", "_receive")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._buffer: list[Message] = []

    async def read_body(self, limit: int) -> bytes | None:
        """The whole body, or None when it exceeds `limit` (what was read is still replayed)."""
        size = 0
        while True:
            message = await self._receive()
            self._buffer.append(message)
            if message["type"] != "http.request":
                return None
            size += len(message.get("body", b""))
            if size > limit:
                return None
            if not message.get("more_body", False):
                return b"".join(m.get("body", b"") for m in self._buffer)

    async def receive(self) -> Message:
        if self._buffer:
            return self._buffer.pop(0)
        return await self._receive()

    @property
    def pending(self) -> bool:
        return bool(self._buffer)


class IdHttpLayer:
    """The per-app state of the integration: engine, metrics, hooks and error count."""

    def __init__(
        self,
        app: FastAPI,
        engine: Engine,
        metrics: IdMetrics,
        *,
        user_source: UserSource | None = None,
        request_hook: RequestHook | None = None,
    ) -> None:
        self.app = app
        self.engine = engine
        self.settings = engine.settings
        self.metrics = metrics
        self.user_source = user_source
        self.request_hook = request_hook
        self.internal_errors = 0
        self.enforce = frozenset(self.settings.enforce)
        configured = {name: name for name in engine.config.fields}
        self._path_fields = self.settings.path_params if self.settings.path_params is not None else configured
        self._query_fields = (
            self.settings.query_params if self.settings.query_params is not None else configured
        )
        self._header_fields = {name.encode("latin-1"): f for name, f in self.settings.headers.items()}
        user = self.settings.user
        self._user_header = user.header.encode("latin-1") if user.header else None
        self._user_state = user.state
        self._routes_key: tuple[Any, ...] | None = None
        self._routes_version: Any = None
        self._routes: RouteTable | None = None
        self._requests_seen = 0
        self._query_names = {name.encode(): f for name, f in self._query_fields.items()}

    def count_error(self, error: BaseException) -> None:
        self.internal_errors += 1
        if self.internal_errors == 1:
            logger.warning("id-monitor HTTP layer failed; request passed unchecked", exc_info=error)
        else:
            logger.debug("id-monitor HTTP layer failed", exc_info=error)

    # -- collecting ---------------------------------------------------------------------------

    def _route_table(self) -> RouteTable:
        """The app's routes compiled for matching, rebuilt when the route table changes.

        The top-level list is checked on every request; routes added to an already included
        router (FastAPI's route version) are looked for every 256 requests, as that walk costs.
        """
        router = self.app.router
        key = (id(router.routes), len(router.routes))
        self._requests_seen += 1
        if key == self._routes_key and self._routes is not None and self._requests_seen & 255:
            return self._routes
        version_of = getattr(router, "_get_routes_version", None)
        version = version_of() if callable(version_of) else None
        if key != self._routes_key or version != self._routes_version or self._routes is None:
            routes = router.routes
            self._routes = RouteTable(iter_route_contexts(routes) if iter_route_contexts else routes,
                                      self._path_fields)
            self._routes_key, self._routes_version = key, version
        return self._routes

    def _path_params(self, scope: Scope) -> dict[str, Any]:
        """Path parameters as the router will see them (see `id_monitor.otel.routes`)."""
        if not self._path_fields:
            return {}
        table = self._route_table()
        return table.path_params(scope) if table.wanted else {}

    def _user(self, scope: Scope, header_user: str | None) -> Any:
        """The request's user id: a str, None, or an awaitable of one (async `user_source`)."""
        if self.user_source is not None:
            user: Any = self.user_source(Request(scope))
            if inspect.isawaitable(user):
                return user
        elif self._user_state:
            user = getattr(Request(scope).state, self._user_state, None)
        else:
            user = header_user
        return None if user is None else str(user)

    async def collect(
        self, scope: Scope, replay: _Replay
    ) -> tuple[list[tuple[str, str, Any]], str, str | None]:
        """Every (location, field, value) the request carries, the body outcome, and the value
        of the user header (read in the same pass over the headers)."""
        found: list[tuple[str, str, Any]] = []
        for name, value in self._path_params(scope).items():
            target = self._path_fields.get(name)
            if target:
                found.append((PATH, target, value))
        content_type = b""
        content_length = -1
        header_user = None
        header_fields = self._header_fields
        user_header = self._user_header
        for raw_name, raw_value in scope.get("headers") or ():
            name = raw_name.lower()
            target = header_fields.get(name)
            if target:
                found.append((HEADER, target, raw_value.decode("latin-1")))
            if name == user_header:
                header_user = raw_value.decode("latin-1")
            elif name == b"content-type":
                content_type = raw_value
            elif name == b"content-length" and raw_value.isdigit():
                content_length = int(raw_value)
        query_string = scope.get("query_string")
        if query_string and self._query_names:
            self._collect_query(query_string, found)
        body_result = "ok"
        if self.settings.body_fields and scope["type"] == "http" and content_type and _is_json(content_type):
            body_result = await self._collect_body(replay, content_length, found)
        return found, body_result, header_user

    def _collect_query(self, query_string: bytes, found: list[tuple[str, str, Any]]) -> None:
        """Configured query parameters, decoded like `parse_qsl`, only the ones we read."""
        names = self._query_names
        for pair in query_string.split(b"&"):
            name, _, value = pair.partition(b"=")
            if b"%" in name or b"+" in name:
                name = unquote_plus(name.decode("latin-1")).encode()
            target = names.get(name)
            if target:
                text = value.decode("latin-1")
                found.append((QUERY, target, unquote_plus(text) if "%" in text or "+" in text else text))

    async def _collect_body(self, replay: _Replay, content_length: int, found: list) -> str:
        limit = self.settings.max_body_bytes
        if content_length > limit:
            return "skipped"
        raw = await replay.read_body(limit)
        if raw is None:
            return "skipped"
        if not raw:
            return "ok"
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return "malformed"
        if isinstance(body, dict):
            for name, target in self.settings.body_fields.items():
                if name in body:
                    found.append((BODY, target, body[name]))
        return "ok"

    # -- judging ------------------------------------------------------------------------------

    async def check(self, scope: Scope, replay: _Replay) -> RequestCheck | None:
        found, body_result, header_user = await self.collect(scope, replay)
        if not found and body_result == "ok":
            return None
        user = self._user(scope, header_user)
        if inspect.isawaitable(user):
            user = await user
            user = None if user is None else str(user)
        check = RequestCheck(user, body_result)
        observed_ms = time.time_ns() // 1_000_000
        span = trace.get_current_span()
        exemplar = exemplar_of(span)
        for batch in _batches(found):
            report = self.engine.judge.check_fields(
                {name: value for name, (_, value) in batch.items()}, check.user, observed_ms
            )
            self.metrics.record(SOURCE, report, observed_ms, exemplar)
            worst = worst_by_field(report.ids)
            for name, (location, value) in batch.items():
                # Non-strings are findings, not IDs, for the judge; the span still says why.
                info = worst.get(name) or self.engine.classifier.classify(value)
                check.ids.append((location, name, info))
            for finding in report.findings:
                location = batch[finding.field][0] if finding.field in batch else None
                check.findings.append((location, finding))
        self.metrics.message(SOURCE, body_result)
        if self.enforce:
            check.rejected_by = next((lf for lf in check.findings if lf[1].rule in self.enforce), None)
        if span.is_recording():
            _tag_span(span, check)
        if self.request_hook is not None:
            try:
                self.request_hook(span, scope, check)
            except Exception as error:  # noqa: BLE001 - a user hook must not fail the request
                self.count_error(error)
        return check


def _batches(found: list[tuple[str, str, Any]]) -> list[dict[str, tuple[str, Any]]]:
    """Group values by field for judging. A field found in two places is judged twice: once with
    the other fields (so references between fields are checked), once more in a later batch;
    nothing goes unchecked."""
    batches: list[dict[str, tuple[str, Any]]] = [{}]
    for location, target, value in found:
        for batch in batches:
            if target not in batch:
                batch[target] = (location, value)
                break
        else:
            batches.append({target: (location, value)})
    return batches if batches[0] else []


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def _tag_span(span: Span, check: RequestCheck) -> None:
    attributes: dict[str, Any] = {}
    for _, name, info in check.ids:
        for key, value in id_attributes(name, info).items():
            attributes.setdefault(key, value)  # a field seen in two places: the first one shows
    rules = rule_names(finding for _, finding in check.findings)
    if rules:
        attributes[FINDINGS_KEY] = rules
    if check.rejected_by is not None:
        attributes[REJECTED_KEY] = True
    span.set_attributes(attributes)
    for location, finding in check.findings:
        span.add_event(finding.rule, finding_event_attributes(finding, location))


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
        replay = _Replay(receive)
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
    request_hook: RequestHook | None = None,
    judge: Judge | None = None,
    metrics: IdMetrics | None = None,
    registry: CollectorRegistry | None = None,
) -> IdHttpLayer:
    """Check the IDs of every request `app` serves; see the module docstring.

    `config` defaults to the built-in configuration (its `http` section is the settings).
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
    engine = Engine(config, judge=judge)
    if metrics is None:
        from id_monitor.metrics import IdMetrics

        metrics = IdMetrics(engine.config, engine.classifier.schema, [SOURCE], registry)
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
