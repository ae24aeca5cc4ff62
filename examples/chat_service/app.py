"""The example chat service: a small FastAPI app in the shape of the migrating platform.

Users (named by the `X-User-ID` header) create threads, post messages to them, open websocket
connection records and list their threads. Every ID the service issues is a target-format ID; it
accepts IDs in path parameters, headers (`X-Request-ID`, `X-Session-ID`), query parameters
(`?after=<message id>`) and JSON bodies (`connection_id`, `reply_to`).

`create_app()` builds it with or without OpenTelemetry's FastAPI instrumentation and the
id-monitor layer, with enforcement on or off, so tests and benchmarks compare like with like.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from pydantic import BaseModel, Field

from examples.chat_service.ids import IdIssuer
from examples.chat_service.limits import MAX_BODY_BYTES, BodyLimit
from examples.chat_service.store import Connection, Message, Store, Thread, public

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from id_monitor.config import Config

CONFIG_PATH = Path(__file__).with_name("id-monitor.yaml")

UserHeader = Annotated[str | None, Header(alias="X-User-ID")]


class NewThread(BaseModel):
    title: str = Field(default="untitled", max_length=200)


class NewMessage(BaseModel):
    text: str = Field(max_length=10_000)
    connection_id: str | None = None
    reply_to: str | None = None


def load_service_config(enforce: Sequence[str] | None = None) -> Config:
    """The service's id-monitor configuration, with `http.enforce` replaced when given."""
    from id_monitor.config import load_config

    config = load_config(CONFIG_PATH)
    if enforce is not None:
        http = config.http.model_copy(update={"enforce": list(enforce)})
        config = config.model_copy(update={"http": http})
    return config


def _user(user: str | None) -> str:
    if not user:
        raise HTTPException(status_code=401, detail="X-User-ID header required")
    return user


def create_app(
    *,
    id_monitor: bool = True,
    otel: bool = True,
    enforce: Sequence[str] | None = None,
    config: Config | None = None,
    tracer_provider: TracerProvider | None = None,
    registry: CollectorRegistry | None = None,
    issuer: IdIssuer | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """Build the service.

    `otel` adds OpenTelemetry's FastAPI instrumentation (server spans) on `tracer_provider`;
    `id_monitor` adds this project's layer with `config` (default: `id-monitor.yaml` beside this
    file) and `enforce` as its rule list when given. `/metrics` serves `registry` (a new one by
    default), which holds the id-monitor metrics. Request bodies past `max_body_bytes` get 413
    (examples/chat_service/limits.py).
    """
    app = FastAPI(title="chat-service", version="1.0")
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    store = Store()
    issue = issuer or IdIssuer()
    registry = registry if registry is not None else CollectorRegistry()
    app.state.store = store
    app.state.issuer = issue
    app.state.registry = registry
    app.state.id_layer = None

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), media_type=content_type)

    @app.post("/sessions", status_code=201)
    async def open_session(x_user_id: UserHeader = None) -> dict[str, str]:
        user = _user(x_user_id)
        session_id = issue.session(user)
        with store.lock:
            store.sessions[session_id] = user
        return {"session_id": session_id}

    @app.post("/threads", status_code=201)
    async def create_thread(body: NewThread, x_user_id: UserHeader = None) -> dict[str, Any]:
        user = _user(x_user_id)
        thread = Thread(issue.thread(), user, body.title, int(time.time() * 1000))
        with store.lock:
            store.threads[thread.thread_id] = thread
            store.messages[thread.thread_id] = []
        return public(thread)

    @app.get("/threads")
    async def list_threads(x_user_id: UserHeader = None) -> dict[str, Any]:
        user = _user(x_user_id)
        threads = [public(t) for t in store.threads.values() if t.owner == user]
        return {"threads": threads}

    @app.get("/threads/{thread_id}")
    async def get_thread(thread_id: str, x_user_id: UserHeader = None) -> dict[str, Any]:
        thread = store.thread_of(thread_id, _user(x_user_id))
        if thread is None:
            raise HTTPException(status_code=404, detail="no such thread")
        return public(thread)

    @app.post("/threads/{thread_id}/messages", status_code=201)
    async def post_message(thread_id: str, body: NewMessage, x_user_id: UserHeader = None) -> dict[str, Any]:
        user = _user(x_user_id)
        if store.thread_of(thread_id, user) is None:
            raise HTTPException(status_code=404, detail="no such thread")
        # Deliberately as lax as the platform was: any open connection may receive the reply,
        # whoever owns it. This is the cross-user leak that `isolation_breach` exists to catch.
        connection = store.connections.get(body.connection_id) if body.connection_id else None
        if body.connection_id is not None and (connection is None or not connection.open):
            raise HTTPException(status_code=404, detail="no such connection")
        message = Message(
            message_id=issue.message("user", user, thread_id),
            thread_id=thread_id,
            author=user,
            text=body.text,
            run_id=issue.run(),
            reply_to=body.reply_to,
            connection_id=body.connection_id,
        )
        with store.lock:
            store.messages[thread_id].append(message)
        return public(message)

    @app.get("/threads/{thread_id}/messages")
    async def list_messages(
        thread_id: str,
        after: str | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        x_user_id: UserHeader = None,
    ) -> dict[str, Any]:
        """A page of the thread's messages, oldest first, after the `after` cursor if given."""
        if store.thread_of(thread_id, _user(x_user_id)) is None:
            raise HTTPException(status_code=404, detail="no such thread")
        messages = store.messages[thread_id]
        if after is not None:
            ids = [m.message_id for m in messages]
            messages = messages[ids.index(after) + 1 :] if after in ids else []
        return {"messages": [public(m) for m in messages[:limit]]}

    @app.post("/connections", status_code=201)
    async def open_connection(x_user_id: UserHeader = None) -> dict[str, Any]:
        user = _user(x_user_id)
        connection = Connection(issue.connection(user), user, int(time.time() * 1000))
        with store.lock:
            store.connections[connection.connection_id] = connection
        return public(connection)

    @app.get("/connections")
    async def list_connections(x_user_id: UserHeader = None) -> dict[str, Any]:
        user = _user(x_user_id)
        return {"connections": [public(c) for c in store.connections.values() if c.owner == user and c.open]}

    @app.delete("/connections/{connection_id}", status_code=204)
    async def close_connection(connection_id: str, x_user_id: UserHeader = None) -> Response:
        connection = store.connection_of(connection_id, _user(x_user_id))
        if connection is None or not connection.open:
            return JSONResponse({"detail": "no such connection"}, status_code=404)
        connection.open = False
        return Response(status_code=204)

    if otel:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        from id_monitor.otel.scrub import server_request_hook
        from id_monitor.pipeline import build_engine

        # The instrumentation writes the raw request target (IDs in the path and query) on the
        # server span; the hook shows them redacted, as every other output does.
        scrub = server_request_hook(build_engine(config if config is not None else load_service_config(enforce)))
        FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider, excluded_urls="metrics,healthz",
                                           server_request_hook=scrub)
    if id_monitor:
        from id_monitor.otel import instrument_app

        if config is None:
            config = load_service_config(enforce)
        elif enforce is not None:
            config = config.model_copy(
                update={"http": config.http.model_copy(update={"enforce": list(enforce)})}
            )
        app.state.id_layer = instrument_app(app, config, registry=registry)
    return app
