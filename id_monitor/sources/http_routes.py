"""Path parameters of a request before the router runs: the app's routes, compiled for matching.

The FastAPI layer must judge path parameters before the handler runs, which is before FastAPI
exposes them, so it matches the request against the app's routes itself, with Starlette's rules:
routes in order, the first whose path and method match wins. For plain routes (FastAPI's and
Starlette's Route / WebSocketRoute, included routers flattened) all patterns are joined into one
regular expression per (scope type, method), so matching is a single C-level `re.match`; apps
with mounts or custom routes use each route's own `matches`, in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.convertors import StringConvertor
from starlette.routing import Match, Route, WebSocketRoute

if TYPE_CHECKING:
    from starlette.types import Scope

try:
    from starlette._utils import get_route_path
except ImportError:  # pragma: no cover - older Starlette

    def get_route_path(scope: Scope) -> str:
        return scope["path"]


_GROUP = re.compile(r"\(\?P<(\w+)>")


class _Pattern:
    """One route: its compiled path regex, convertors, methods and scope type (None: other)."""

    __slots__ = ("convertors", "kind", "methods", "regex", "route")

    def __init__(self, route: Any) -> None:
        self.route = route
        original = getattr(route, "original_route", route)
        self.regex: re.Pattern[str] | None = getattr(route, "path_regex", None)
        self.convertors: Mapping[str, Any] = getattr(route, "param_convertors", None) or {}
        self.methods: set[str] | None = getattr(route, "methods", None)
        if self.regex is None:
            self.kind: str | None = None
        elif isinstance(original, WebSocketRoute):
            self.kind = "websocket"
        elif isinstance(original, Route):
            self.kind = "http"
        else:
            self.kind = None

    def convert(self, params: Mapping[str, str]) -> dict[str, Any]:
        convertors = self.convertors
        return {name: convertors[name].convert(value) if name in convertors else value
                for name, value in params.items()}


class _Joined:
    """Every route of one scope type and method as one alternation; group `_r{i}` is route i."""

    __slots__ = ("regex", "routes")

    def __init__(self, patterns: list[tuple[int, _Pattern]]) -> None:
        parts = []
        # per route: (regex group, parameter name, convertor or None when it keeps the string)
        self.routes: dict[str, list[tuple[str, str, Any]]] = {}
        for index, pattern in patterns:
            assert pattern.regex is not None
            body = pattern.regex.pattern
            body = body.removeprefix("^")
            body = body.removesuffix("$")
            body = _GROUP.sub(lambda m, i=index: f"(?P<_r{i}_{m.group(1)}>", body)
            parts.append(f"(?P<_r{index}>{body})")
            self.routes[f"_r{index}"] = [
                (f"_r{index}_{name}", name, _converter(pattern.convertors.get(name)))
                for name in pattern.regex.groupindex
            ]
        self.regex = re.compile("^(?:" + "|".join(parts) + ")$") if parts else None

    def params(self, path: str) -> dict[str, Any]:
        if self.regex is None:
            return {}
        found = self.regex.match(path)
        if found is None:
            return {}
        params = {}
        for group, name, convert in self.routes[found.lastgroup]:  # type: ignore[index]
            value = found.group(group)
            params[name] = value if convert is None else convert(value)
        return params


def _converter(convertor: Any) -> Any:
    """The convertor's `convert`, or None for plain strings (no call needed)."""
    if convertor is None or type(convertor) is StringConvertor:
        return None
    return convertor.convert


class RouteTable:
    """Matches requests against a snapshot of an app's routes; `wanted` is False when no route
    has a parameter in `fields` (then no request needs matching)."""

    def __init__(self, routes: Iterable[Any], fields: Mapping[str, str]) -> None:
        self.patterns = [_Pattern(route) for route in routes]
        names: set[str] = set()
        for pattern in self.patterns:
            names.update(pattern.regex.groupindex if pattern.regex is not None else ())
        self.wanted = any(p.kind is None for p in self.patterns) or bool(names & set(fields))
        self._joinable = all(p.kind is not None for p in self.patterns)
        self._joined: dict[tuple[str, str | None], _Joined] = {}

    def path_params(self, scope: Scope) -> dict[str, Any]:
        kind = scope["type"]
        method = scope.get("method") if kind == "http" else None
        path = get_route_path(scope) if scope.get("root_path") else scope["path"]
        if self._joinable:
            joined = self._joined.get((kind, method))
            if joined is None:
                joined = self._join(kind, method)
            return joined.params(path)
        return self._scan(scope)

    def _join(self, kind: str, method: str | None) -> _Joined:
        chosen = [
            (index, p) for index, p in enumerate(self.patterns)
            if p.kind == kind and (method is None or not p.methods or method in p.methods)
        ]
        if len(self._joined) > 64:  # methods come from clients: keep the table bounded
            self._joined.clear()
        joined = self._joined[(kind, method)] = _Joined(chosen)
        return joined

    def _scan(self, scope: Scope) -> dict[str, Any]:
        """Route by route, each with its own `matches` (mounts, hosts, custom routes)."""
        probe = dict(scope)
        partial: dict[str, Any] | None = None
        for pattern in self.patterns:
            match, child_scope = pattern.route.matches(probe)
            if match is Match.FULL:
                return child_scope.get("path_params", {})
            if match is Match.PARTIAL and partial is None:
                partial = child_scope.get("path_params", {})
        return partial or {}
