"""Requests/s of the example chat service: OpenTelemetry's FastAPI instrumentation alone vs with
the id-monitor layer too, in one run.

    .venv/bin/python bench/fastapi_overhead.py [--requests 2000] [--repeats 7]

The app is driven in-process through its ASGI interface by a minimal driver (no HTTP client, no
sockets), so the figure is the app's own cost per request and the layer's share of it is not
diluted by client overhead. Each round is a realistic mix: list messages after a cursor
(path + query + X-Request-ID), post a message streamed to a connection (path + JSON body +
X-Request-ID), list threads (X-Session-ID), get a thread (path). Fresh apps per repeat, the
variants interleaved, best repeat of each. Spans are recorded by an SDK TracerProvider with no
exporter. Target: with-layer / OpenTelemetry-only >= 0.9.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

from examples.chat_service import create_app  # noqa: E402

USER = "alice_0001"


async def call(app: Any, method: str, path: str, *, query: bytes = b"",
               headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b"") -> int:
    """One request through the ASGI app; returns the response status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
        "root_path": "", "headers": [(b"host", b"bench"), (b"x-user-id", USER.encode()), *(headers or [])],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }
    if body:
        scope["headers"] += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    delivered = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def seed(app: Any) -> dict[str, str]:
    """Create the state the mix uses, through the app itself (capturing response bodies)."""
    out: dict[str, Any] = {}

    async def post(path: str, body: bytes = b"{}") -> dict[str, Any]:
        chunks: list[bytes] = []
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"bench"), (b"x-user-id", USER.encode()), (b"content-type", b"application/json")],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, send)
        return orjson.loads(b"".join(chunks))

    out["thread"] = (await post("/threads", b'{"title": "bench"}'))["thread_id"]
    out["connection"] = (await post("/connections"))["connection_id"]
    out["session"] = (await post("/sessions"))["session_id"]
    out["message"] = (await post(f"/threads/{out['thread']}/messages", b'{"text": "first"}'))["message_id"]
    out["request"] = app.state.issuer.request()
    return out


async def drive(app: Any, ids: dict[str, str], rounds: int) -> float:
    """CPU seconds of this process for `rounds` rounds of the 4-request mix (everything runs on
    this thread, so CPU time is the app's cost without the noise of a shared machine)."""
    thread, request = ids["thread"], ids["request"].encode()
    messages = f"/threads/{thread}/messages"
    after = b"limit=10&after=" + ids["message"].encode()
    post_body = orjson.dumps({"text": "hello", "connection_id": ids["connection"]})
    rid = [(b"x-request-id", request)]
    session = [(b"x-session-id", ids["session"].encode())]
    gc.disable()
    try:
        t0 = time.process_time()
        for _ in range(rounds):
            assert await call(app, "GET", messages, query=after, headers=rid) == 200
            assert await call(app, "POST", messages, headers=rid, body=post_body) == 201
            assert await call(app, "GET", "/threads", headers=session) == 200
            assert await call(app, "GET", f"/threads/{thread}") == 200
        return time.process_time() - t0
    finally:
        gc.enable()


VARIANTS = {
    "bare": {"otel": False, "id_monitor": False},
    "otel": {"otel": True, "id_monitor": False},
    "otel+id": {"otel": True, "id_monitor": True},
}


async def measure(rounds: int, repeats: int) -> dict[str, float]:
    best = {name: float("inf") for name in VARIANTS}
    for name, flags in VARIANTS.items():  # warm-up
        app = create_app(tracer_provider=TracerProvider(), **flags)
        await drive(app, await seed(app), 50)
    for _ in range(repeats):
        for name, flags in VARIANTS.items():
            app = create_app(tracer_provider=TracerProvider(), **flags)
            ids = await seed(app)
            best[name] = min(best[name], await drive(app, ids, rounds))
    return {name: 4 * rounds / seconds for name, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per variant per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rounds = max(1, args.requests // 4)
    rps = asyncio.run(measure(rounds, args.repeats))
    print(f"requests per run: {4 * rounds}, repeats: {args.repeats}, best run each "
          "(in-process ASGI, process CPU time)")
    for name, value in rps.items():
        print(f"{name:<9}{value:>10.0f} req/s   {1e6 / value:>8.1f} us/req")
    ratio = rps["otel+id"] / rps["otel"]
    verdict = "meets" if ratio >= 0.9 else "MISSES"
    print(f"with id-monitor / OpenTelemetry only = {ratio:.3f} (target >= 0.9): {verdict}")
    print(f"layer cost: {1e6 / rps['otel+id'] - 1e6 / rps['otel']:.1f} us/request")


if __name__ == "__main__":
    main()
