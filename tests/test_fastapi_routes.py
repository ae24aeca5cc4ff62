"""RouteTable: path parameters found before routing agree with what the router then passes on."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from id_monitor.sources.http_routes import RouteTable


def scope(path: str, method: str = "GET", kind: str = "http", root_path: str = "") -> dict[str, Any]:
    return {"type": kind, "path": root_path + path, "root_path": root_path, "method": method, "headers": []}


def app_with_routes() -> FastAPI:
    app = FastAPI()

    @app.get("/threads/export")
    def export() -> str:
        return "static wins"

    @app.get("/threads/{thread_id}")
    def thread(thread_id: str) -> str:
        return thread_id

    @app.delete("/threads/{thread_id}/runs/{run_no:int}")
    def run(thread_id: str, run_no: int) -> int:
        return run_no

    @app.put("/items/{item_id}")
    def put_item(item_id: str) -> str:
        return item_id

    @app.get("/items/{other_id}")
    def get_item(other_id: str) -> str:
        return other_id

    @app.websocket("/ws/{connection_id}")
    async def ws(websocket: Any, connection_id: str) -> None:
        return None

    router = APIRouter(prefix="/v1")

    @router.get("/connections/{connection_id}")
    def conn(connection_id: str) -> str:
        return connection_id

    app.include_router(router)
    return app


FIELDS = {"thread_id": "thread_id", "run_no": "run_no", "item_id": "item_id", "other_id": "other_id",
          "connection_id": "connection_id"}


@pytest.mark.parametrize(("request_scope", "expected"), [
    (scope("/threads/export"), {}),
    (scope("/threads/abc"), {"thread_id": "abc"}),
    (scope("/threads/abc/runs/42", "DELETE"), {"thread_id": "abc", "run_no": 42}),
    (scope("/threads/abc/runs/x", "DELETE"), {}),
    (scope("/items/i1", "PUT"), {"item_id": "i1"}),
    (scope("/items/i1", "GET"), {"other_id": "i1"}),  # same path, the route of the method wins
    (scope("/items/i1", "POST"), {}),  # 405: no handler runs
    (scope("/v1/connections/c1"), {"connection_id": "c1"}),
    (scope("/ws/c2", kind="websocket"), {"connection_id": "c2"}),
    (scope("/ws/c2"), {}),
    (scope("/threads/abc", root_path="/api"), {"thread_id": "abc"}),
    (scope("/nowhere"), {}),
])
def test_joined_matching(request_scope: dict[str, Any], expected: dict[str, Any]) -> None:
    app = app_with_routes()
    table = RouteTable(iter_route_contexts(app.router.routes), FIELDS)
    assert table.wanted
    assert table.path_params(request_scope) == expected


def test_static_route_order_is_respected_by_the_router_too() -> None:
    assert TestClient(app_with_routes()).get("/threads/export").json() == "static wins"


def test_mounts_fall_back_to_route_matching() -> None:
    inner = Starlette(routes=[Route("/t/{thread_id}", lambda r: PlainTextResponse("x"))])
    outer = Starlette(routes=[Mount("/api", app=inner), Route("/x/{thread_id}", lambda r: PlainTextResponse("y"))])
    table = RouteTable(outer.router.routes, FIELDS)
    assert table.wanted
    assert table.path_params(scope("/x/abc")) == {"thread_id": "abc"}
    # A mounted app routes on its own: its parameters are not the outer app's to see
    # (instrument the mounted app itself).
    assert table.path_params(scope("/api/t/abc")) == {}


def test_routes_without_wanted_parameters_need_no_matching() -> None:
    table = RouteTable(iter_route_contexts(app_with_routes().router.routes), {"nothing": "thread_id"})
    assert not table.wanted


def test_many_methods_keep_the_table_bounded() -> None:
    table = RouteTable(iter_route_contexts(app_with_routes().router.routes), FIELDS)
    for i in range(500):
        table.path_params(scope("/threads/abc", method=f"M{i}"))
    assert len(table._joined) <= 65
