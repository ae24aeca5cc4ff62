"""The HTTP source: the ID values one ASGI request carries, and who its user is.

`RequestCollector` reads, per the configuration's `http` section, the configured path parameters
(matched against the app's routes the way the router will, which gives the path parameters known
only after routing), headers, query parameters and top-level JSON body fields (the body is
buffered up to `http.max_body_bytes` and replayed to the app untouched by `Replay`), and the
request's user from a header, a `request.state` attribute or a callable.

It only collects: judging, counting, span tagging and enforcement belong to the FastAPI layer
(`id_monitor.otel.fastapi`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import orjson

from id_monitor.sources.http_routes import RouteTable

try:  # FastAPI >= 0.137.2 nests included routers; this flattens them into matchable routes.
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI keeps routes flat
    iter_route_contexts = None

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import Message, Receive, Scope

    from id_monitor.config import HttpSpec

PATH, HEADER, QUERY, BODY = "path", "header", "query", "body"

UserSource = Callable[["Request"], "str | None | Awaitable[str | None]"]
Collected = list[tuple[str, str, Any]]  # (location, field, value)


class Replay:
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


def is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class RequestCollector:
    """Collects the configured ID values of requests to one app (`app.router`)."""

    def __init__(self, app: Any, settings: HttpSpec, fields: list[str], *,
                 user_source: UserSource | None = None) -> None:
        self.app = app
        self.settings = settings
        self.user_source = user_source
        configured = {name: name for name in fields}
        self._path_fields = settings.path_params if settings.path_params is not None else configured
        query_fields = settings.query_params if settings.query_params is not None else configured
        self._query_names = {name.encode(): f for name, f in query_fields.items()}
        self._header_fields = {name.encode("latin-1"): f for name, f in settings.headers.items()}
        self._user_header = settings.user.header.encode("latin-1") if settings.user.header else None
        self._user_state = settings.user.state
        self._routes_key: tuple[Any, ...] | None = None
        self._routes_version: Any = None
        self._routes: RouteTable | None = None
        self._requests_seen = 0

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
        """Path parameters as the router will see them (see `sources.http_routes`)."""
        if not self._path_fields:
            return {}
        table = self._route_table()
        return table.path_params(scope) if table.wanted else {}

    async def user(self, scope: Scope, header_user: str | None) -> str | None:
        """The request's user id (from `user_source`, `request.state`, or the user header)."""
        if self.user_source is not None or self._user_state:
            from starlette.requests import Request

            if self.user_source is not None:
                user: Any = self.user_source(Request(scope))
                if inspect.isawaitable(user):
                    user = await user
            else:
                user = getattr(Request(scope).state, self._user_state, None)  # type: ignore[arg-type]
        else:
            user = header_user
        return None if user is None else str(user)

    async def collect(self, scope: Scope, replay: Replay) -> tuple[Collected, str, str | None]:
        """Every (location, field, value) the request carries, the body outcome (ok | malformed |
        skipped), and the value of the user header (read in the same pass over the headers)."""
        found: Collected = []
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
        if self.settings.body_fields and scope["type"] == "http" and content_type and is_json(content_type):
            body_result = await self._collect_body(replay, content_length, found)
        return found, body_result, header_user

    def _collect_query(self, query_string: bytes, found: Collected) -> None:
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

    async def _collect_body(self, replay: Replay, content_length: int, found: Collected) -> str:
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


def by_field(found: Collected) -> tuple[dict[str, Any], dict[tuple[str, Any], str]]:
    """Values grouped per field for one judgement (a field found in several places becomes a
    list, the same value found twice counts once) and the location each (field, value) was first
    found in."""
    values: dict[str, list[Any]] = {}
    where: dict[tuple[str, Any], str] = {}
    for location, target, value in found:
        try:
            key = (target, value)
            if key in where:
                continue
            where[key] = location
        except TypeError:  # an unhashable body value (a list, an object): judged, never a duplicate
            pass
        values.setdefault(target, []).append(value)
    return {name: items[0] if len(items) == 1 else items for name, items in values.items()}, where
