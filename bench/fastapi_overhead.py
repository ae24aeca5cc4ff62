"""Requests/s of the example chat service: OpenTelemetry's FastAPI instrumentation alone vs with
the id-monitor layer too, in one run.

    .venv/bin/python bench/fastapi_overhead.py [--requests 2000] [--repeats 5] [--loopback]

The app is driven in-process through its ASGI interface by a minimal driver (no HTTP client, no
sockets), so the figure is the app's own cost per request and the layer's share of it is not
diluted by client overhead. Each round is a realistic mix: list messages after a cursor
(path + query + X-Request-ID), post a message streamed to a connection (path + JSON body +
X-Request-ID), list threads (X-Session-ID), get a thread (path). Fresh apps per repeat; the
variants take turns in small blocks so machine noise hits them alike; the ratio is the median over
repeats. Spans are recorded by an SDK TracerProvider with no
exporter. Target: with-layer / OpenTelemetry-only >= 0.9.

`--loopback` also serves each variant from its own uvicorn process on a free 127.0.0.1 port and
drives it over HTTP with keep-alive (a bounded number of requests, variants taking turns); the
figure is the server process's CPU time per request (from /proc/<pid>/task/*/schedstat), which is
what bounds its requests/s, plus the wall-clock rate the client saw.
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

import orjson
from opentelemetry.sdk.trace import TracerProvider

from examples.chat_service import create_app

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


class Mix:
    """The 4-request round for one app, with its seeded IDs."""

    def __init__(self, app: Any, ids: dict[str, str]) -> None:
        self.app = app
        thread = ids["thread"]
        self.thread_path = f"/threads/{thread}"
        self.messages = f"/threads/{thread}/messages"
        self.after = b"limit=10&after=" + ids["message"].encode()
        self.post_body = orjson.dumps({"text": "hello", "connection_id": ids["connection"]})
        self.rid = [(b"x-request-id", ids["request"].encode())]
        self.session = [(b"x-session-id", ids["session"].encode())]

    async def round(self) -> None:
        app = self.app
        assert await call(app, "GET", self.messages, query=self.after, headers=self.rid) == 200
        assert await call(app, "POST", self.messages, headers=self.rid, body=self.post_body) == 201
        assert await call(app, "GET", "/threads", headers=self.session) == 200
        assert await call(app, "GET", self.thread_path) == 200


VARIANTS = {
    "bare": {"otel": False, "id_monitor": False},
    "otel": {"otel": True, "id_monitor": False},
    "otel+id": {"otel": True, "id_monitor": True},
}


async def measure(rounds: int, repeats: int, block: int) -> list[dict[str, float]]:
    """Per repeat, CPU microseconds per request of each variant.

    The variants take turns in blocks of `block` rounds on fresh apps, so a noisy neighbour or a
    frequency change hits them all alike; what a block costs is summed per variant.
    """
    results = []
    for _ in range(repeats):
        mixes = {}
        for name, flags in VARIANTS.items():
            app = create_app(tracer_provider=TracerProvider(), **flags)
            mixes[name] = Mix(app, await seed(app))
            for _ in range(20):  # warm-up: middleware stack, caches
                await mixes[name].round()
        spent = dict.fromkeys(VARIANTS, 0)
        gc.disable()
        try:
            for _ in range(max(1, rounds // block)):
                for name, mix in mixes.items():
                    t0 = time.process_time_ns()
                    for _ in range(block):
                        await mix.round()
                    spent[name] += time.process_time_ns() - t0
        finally:
            gc.enable()
        done = 4 * block * max(1, rounds // block)
        results.append({name: ns / done / 1000 for name, ns in spent.items()})
    return results


def serve(variant: str) -> None:
    """Child process of --loopback: serve one variant on a free loopback port, print the port."""
    import socket

    import uvicorn

    app = create_app(tracer_provider=TracerProvider(), **VARIANTS[variant])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Accepted connections inherit it: responses are not held back waiting for delayed ACKs.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")).run(sockets=[sock])


def _server_cpu_ns(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


class RawClient:
    """A minimal HTTP/1.1 keep-alive client over one TCP_NODELAY socket: the least client-side
    cost and no client-side buffering delays, so the server is what gets measured."""

    def __init__(self, port: int) -> None:
        import socket

        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, method: str, target: str, headers: dict[str, str] | None = None,
                body: bytes = b"") -> tuple[int, bytes]:
        lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"X-User-ID: {USER}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buffer) < length:
            self._fill()
        payload, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, payload

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def loopback(requests: int, block: int) -> None:
    import subprocess

    procs: dict[str, subprocess.Popen[str]] = {}
    clients: dict[str, RawClient] = {}
    try:
        for name in ("otel", "otel+id"):
            proc = subprocess.Popen([sys.executable, __file__, "--serve", name], stdout=subprocess.PIPE, text=True)
            procs[name] = proc
            port = int(proc.stdout.readline())  # type: ignore[union-attr]
            deadline = time.monotonic() + 30
            while True:
                try:
                    client = RawClient(port)
                    client.request("GET", "/healthz")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            clients[name] = client
        rounds: dict[str, Any] = {}
        for name, client in clients.items():
            def post(path: str, body: bytes = b"{}", c: RawClient = client) -> dict[str, Any]:
                return orjson.loads(c.request("POST", path, body=body)[1])

            thread = post("/threads", b'{"title": "bench"}')["thread_id"]
            connection = post("/connections")["connection_id"]
            session = post("/sessions")["session_id"]
            message = post(f"/threads/{thread}/messages", b'{"text": "first"}')["message_id"]
            rid = {"X-Request-ID": f"req_{int(time.time() * 1000)}_1_0badc0de"}
            body = orjson.dumps({"text": "hello", "connection_id": connection})

            def one_round(c: RawClient = client, t: str = thread, m: str = message, s: str = session,
                          r: dict = rid, b: bytes = body) -> None:
                assert c.request("GET", f"/threads/{t}/messages?limit=10&after={m}", r)[0] == 200
                assert c.request("POST", f"/threads/{t}/messages", r, b)[0] == 201
                assert c.request("GET", "/threads", {"X-Session-ID": s})[0] == 200
                assert c.request("GET", f"/threads/{t}")[0] == 200

            rounds[name] = one_round
            for _ in range(25):
                one_round()
        cpu = dict.fromkeys(clients, 0)
        wall = dict.fromkeys(clients, 0.0)
        turns = max(1, requests // 4 // block)
        for _ in range(turns):
            for name in clients:
                pid = procs[name].pid
                c0, t0 = _server_cpu_ns(pid), time.perf_counter()
                for _ in range(block):
                    rounds[name]()
                wall[name] += time.perf_counter() - t0
                cpu[name] += _server_cpu_ns(pid) - c0
        done = turns * block * 4
        print(f"loopback (uvicorn, keep-alive, {done} requests per variant, variants interleaved):")
        for name in clients:
            print(f"{name:<9}{cpu[name] / done / 1000:>8.1f} us server CPU/request   "
                  f"{done / wall[name]:>7.0f} req/s wall-clock")
        ratio = cpu["otel"] / cpu["otel+id"]
        verdict = "meets" if ratio >= 0.9 else "MISSES"
        print(f"with id-monitor / OpenTelemetry only (server-CPU-bound req/s) = {ratio:.3f} "
              f"(target >= 0.9): {verdict}")
        print(f"wall-clock req/s ratio = {wall['otel'] / wall['otel+id']:.3f}")
    finally:
        for client in clients.values():
            client.close()
        for proc in procs.values():
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per variant per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--block", type=int, default=5, help="rounds per turn")
    parser.add_argument("--loopback", action="store_true", help="also measure over HTTP with uvicorn")
    parser.add_argument("--serve", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    rounds = max(1, args.requests // 4)
    results = asyncio.run(measure(rounds, args.repeats, args.block))
    print(f"requests per variant per repeat: {4 * rounds}, repeats: {args.repeats}, variants interleaved "
          f"in blocks of {4 * args.block} requests (in-process ASGI, process CPU time)")
    ratios = sorted(r["otel"] / r["otel+id"] for r in results)
    median = ratios[len(ratios) // 2]
    best = {name: min(r[name] for r in results) for name in VARIANTS}
    for name in VARIANTS:
        print(f"{name:<9}{1e6 / best[name]:>10.0f} req/s   {best[name]:>8.1f} us/req (best repeat)")
    print("ratio per repeat: " + ", ".join(f"{r:.3f}" for r in ratios))
    verdict = "meets" if median >= 0.9 else "MISSES"
    print(f"with id-monitor / OpenTelemetry only (req/s, median of repeats) = {median:.3f} "
          f"(target >= 0.9): {verdict}")
    layer = sorted(r["otel+id"] - r["otel"] for r in results)[len(results) // 2]
    print(f"layer cost: {layer:.1f} us/request (median)")
    if args.loopback:
        loopback(args.requests, args.block)


if __name__ == "__main__":
    main()
