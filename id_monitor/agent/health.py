"""The agent's HTTP endpoint: Prometheus `/metrics`, `/healthz` (alive) and `/readyz` (ready).

One port (`metrics.listen`) serves all three, so a Kubernetes probe and a Prometheus scrape hit
the same place. `/metrics` negotiates the OpenMetrics format (which carries exemplars: the trace
IDs of sampled messages) from the Accept header, as prometheus-client's own server does.
`/readyz` answers 200 only while the `readiness()` callback says so (the Kafka agent: partitions
assigned and broker reachable), else 503 with the reason, so a rollout waits for a working agent
and a broker outage shows on the pod.

The port faces whatever can reach it, so its cost is bounded whatever clients do:
- One selector thread owns every socket: it accepts, collects request heads and writes
  responses without blocking, so idle or slow connections (slowloris) cost a buffer, not a
  thread. A head must arrive whole within `HEAD_TIMEOUT` and fit in `MAX_HEAD_BYTES` (else 408,
  414 or 431 and the connection is closed); a kept-alive connection may idle for
  `KEEPALIVE_TIMEOUT`; a response must be taken within `WRITE_TIMEOUT`.
- At most `MAX_CONNECTIONS` are open; a new connection past that closes the one that has waited
  longest for its request, so a normal scraper always gets in.
- A complete head goes to a fixed pool of `WORKERS` threads, parsed by the standard library's
  `BaseHTTPRequestHandler`, one request per hand-off (a kept-alive connection goes back to the
  selector between requests, never holding a worker while idle).
- Only GET and HEAD are served (other methods: 405). Nothing takes a request body: a request that
  announces one gets 413 and the connection is closed, the body never read, so a huge body costs
  what the kernel buffered, not memory of the agent.
- Before rendering /metrics the worker checks that the client is still connected: a request
  whose client has left (or half-closed its side) is not rendered. Renders are shared: requests
  that arrive while one runs wait for the next render and all get it, so a burst of scrapes
  costs two renders, not one each, and every answer reflects a moment after its request.
`stop()` wakes the selector at once and returns when it has closed every socket.
"""

from __future__ import annotations

import io
import selectors
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

Readiness = Callable[[], tuple[bool, str]]

WORKERS = 4
MAX_CONNECTIONS = 256
MAX_HEAD_BYTES = 16 * 1024
HEAD_TIMEOUT = 10.0  # seconds to send a whole request head
KEEPALIVE_TIMEOUT = 60.0  # seconds a connection may idle between requests (scrape intervals)
WRITE_TIMEOUT = 30.0  # seconds for a client to take its response
BACKLOG = 512
_TEXT = "text/plain; charset=utf-8"


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


class _SharedRender:
    """Runs `render` for callers; each caller gets a render that started after it asked, and
    callers that ask while one runs share the next one."""

    def __init__(self, render: Callable[[], bytes]) -> None:
        self._render = render
        self._changed = threading.Condition()
        self._next = 0  # number the next render to start will have
        self._done = -1  # number of the last finished render
        self._running = False
        self._result: bytes | BaseException = b""

    def get(self) -> bytes:
        with self._changed:
            ticket = self._next
            while self._done < ticket and self._running:
                self._changed.wait()
            if self._done < ticket:
                self._running = True
                number = self._next
                self._next += 1
            else:
                result = self._result
                if isinstance(result, BaseException):
                    raise RuntimeError("rendering the metrics failed") from result
                return result
        try:
            body: bytes | BaseException = self._render()
        except Exception as exc:  # noqa: BLE001 - handed to every waiter, raised below
            body = exc
        with self._changed:
            self._running = False
            self._done = number
            self._result = body
            self._changed.notify_all()
        if isinstance(body, BaseException):
            raise body
        return body


class _Connection:
    __slots__ = ("address", "buffer", "close_after", "deadline", "kept_alive", "out", "sock", "writing")

    def __init__(self, sock: socket.socket, address: Any, deadline: float) -> None:
        self.sock = sock
        self.address = address
        self.buffer = bytearray()
        self.deadline = deadline
        self.out: deque[memoryview] = deque()
        self.close_after = False
        self.kept_alive = False
        self.writing = False


def _head_end(buffer: bytearray) -> int:
    """Index just after the empty line that ends a request head, or -1."""
    ends = [i + n for i, n in ((buffer.find(b"\n\r\n"), 3), (buffer.find(b"\n\n"), 2)) if i >= 0]
    return min(ends) if ends else -1


def _canned(status: int, reason: str) -> bytes:
    body = f"{status} {reason}\n".encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {_TEXT}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode() + body


def _client_left(sock: socket.socket) -> bool:
    """True when the peer has closed or reset the connection (checked without blocking)."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


class _Exchange(BaseHTTPRequestHandler):
    """One request, parsed by the standard library from a head already read in full; the
    response is collected (headers in `wfile`, the body by reference) for the selector to send."""

    protocol_version = "HTTP/1.1"

    def __init__(self, head: bytes, connection: _Connection, server: HealthServer) -> None:
        self.rfile = io.BytesIO(head)
        self.wfile = io.BytesIO()
        self.client_address = connection.address
        self.connection_state = connection
        self.health = server
        self.body = b""
        self.close_connection = True

    def respond(self) -> tuple[list[bytes], bool]:
        self.handle_one_request()
        parts = [self.wfile.getvalue()]
        if self.body:
            parts.append(self.body)
        return parts, not self.close_connection

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()
        self.body = b""  # the headers GET would send, Content-Length included, and no body

    def _not_allowed(self) -> None:
        self._refuse_body()
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Type", _TEXT)
        body = b"method not allowed: this endpoint serves GET and HEAD\n"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.body = body

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _not_allowed

    def _has_body(self) -> bool:
        return self.headers.get("Content-Length", "0").strip() not in ("", "0") or "Transfer-Encoding" in self.headers

    def _refuse_body(self) -> None:
        if self._has_body():
            self.close_connection = True  # the body is never read: do not parse it as the next request

    def _answer(self) -> None:
        if self._has_body():
            # Nothing here takes a body: refuse it at once instead of answering over a body that
            # keeps arriving (it is never read; closing drops what the kernel buffered).
            self.close_connection = True
            self._send(413, b"request body not accepted: this endpoint takes none\n", _TEXT)
            return
        path = self.path.split("?", 1)[0]
        server = self.health
        if path == "/metrics":
            if _client_left(self.connection_state.sock):
                self.close_connection = True
                return
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, server.render(encoder, content_type), content_type)
        elif path == "/healthz":
            ok, reason = (server.liveness or (lambda: (True, "ok")))()
            self._send(200 if ok else 503, (reason + "\n").encode(), _TEXT)
        elif path == "/readyz":
            ok, reason = server.readiness()
            self._send(200 if ok else 503, (reason + "\n").encode(), _TEXT)
        elif path in server.documents:
            body, content_type = server.documents[path](self.path.partition("?")[2])
            self._send(200, body, content_type)
        else:
            self._send(404, b"not found: try /metrics, /healthz, /readyz\n", _TEXT)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.body = body

    def log_message(self, format: str, *args: object) -> None:
        return  # probes every few seconds would drown the agent's own log


class HealthServer:
    """Serves /metrics, /healthz and /readyz on `listen` (`host:port`; port 0 picks a free one)."""

    def __init__(self, listen: str, registry: CollectorRegistry, readiness: Readiness,
                 liveness: Readiness | None = None,
                 documents: dict[str, Callable[[str], tuple[bytes, str]]] | None = None) -> None:
        host, port = parse_listen(listen)
        # More GET paths: path -> callable(query string) -> (body, content type), e.g. /debug/shapes
        self.documents = dict(documents or {})
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.registry = registry
        self.readiness = readiness
        self.liveness = liveness
        self._listener = socket.create_server((host, port), family=family, backlog=BACKLOG)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._renders: dict[str, _SharedRender] = {}
        self._renders_lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)
        self._handoffs: deque[tuple[_Connection, list[bytes], bool]] = deque()
        self._connections: OrderedDict[int, _Connection] = OrderedDict()  # in the selector, oldest first
        self._serving: dict[int, _Connection] = {}  # handed to a worker
        self._closed = False
        self._next_deadline = float("inf")
        self._stopping = False
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="health-http-worker")
        self._thread = threading.Thread(target=self._loop, name="health-http", daemon=True)

    def start(self) -> HealthServer:
        self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        self._selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        else:
            self._close_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def connections(self) -> int:
        """Connections open now (waiting for a request, being answered, or being written to)."""
        return len(self._connections) + len(self._serving)

    def render(self, encoder: Callable[[CollectorRegistry], bytes], content_type: str) -> bytes:
        with self._renders_lock:
            shared = self._renders.get(content_type)
            if shared is None:
                shared = self._renders[content_type] = _SharedRender(lambda: encoder(self.registry))
        return shared.get()

    # -- the selector thread ------------------------------------------------------------------

    def _loop(self) -> None:
        try:
            while not self._stopping:
                now = time.monotonic()
                timeout = None if self._next_deadline == float("inf") else max(0.0, self._next_deadline - now)
                for key, mask in self._selector.select(timeout):
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "wake":
                        self._take_handoffs()
                    else:
                        self._on_event(key.data, mask)
                self._expire(time.monotonic())
        finally:
            self._close_all()

    def _on_event(self, connection: _Connection, mask: int) -> None:
        try:
            if mask & selectors.EVENT_WRITE:
                self._write(connection)
            else:
                self._read(connection)
        except Exception:  # noqa: BLE001 - one connection's failure must not stop the server
            self._close(connection)

    def _wake(self) -> None:
        try:
            self._wake_write.send(b"\0")
        except OSError:
            pass  # already awake (buffer full) or closed by stop()

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors: make room for the next accept
                if not self._evict_oldest_waiting():
                    return
                continue
            if len(self._connections) + len(self._serving) >= MAX_CONNECTIONS and not self._evict_oldest_waiting():
                sock.close()
                continue
            sock.setblocking(False)
            connection = _Connection(sock, address, time.monotonic() + HEAD_TIMEOUT)
            self._watch(connection, selectors.EVENT_READ)

    def _evict_oldest_waiting(self) -> bool:
        for connection in self._connections.values():
            if not connection.writing:
                self._close(connection)
                return True
        return False

    def _watch(self, connection: _Connection, events: int) -> None:
        self._selector.register(connection.sock, events, connection)
        self._connections[id(connection)] = connection
        self._next_deadline = min(self._next_deadline, connection.deadline)

    def _unwatch(self, connection: _Connection) -> None:
        self._connections.pop(id(connection), None)
        try:
            self._selector.unregister(connection.sock)
        except (KeyError, ValueError):
            pass

    def _close(self, connection: _Connection) -> None:
        self._unwatch(connection)
        connection.sock.close()

    def _read(self, connection: _Connection) -> None:
        try:
            data = connection.sock.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(connection)
            return
        if not connection.buffer and connection.kept_alive:  # a new request begins: its head is timed
            connection.deadline = min(connection.deadline, time.monotonic() + HEAD_TIMEOUT)
            self._next_deadline = min(self._next_deadline, connection.deadline)
        connection.buffer += data
        self._dispatch(connection)

    def _dispatch(self, connection: _Connection) -> None:
        end = _head_end(connection.buffer)
        if end < 0 or end > MAX_HEAD_BYTES:
            if end > MAX_HEAD_BYTES or len(connection.buffer) > MAX_HEAD_BYTES:
                first_line_done = b"\n" in connection.buffer[:MAX_HEAD_BYTES]
                self._reply_and_close(connection, _canned(431, "Request Header Fields Too Large")
                                      if first_line_done else _canned(414, "URI Too Long"))
            return
        head = bytes(connection.buffer[:end])
        del connection.buffer[:end]
        self._unwatch(connection)
        self._serving[id(connection)] = connection
        self._pool.submit(self._serve, connection, head)

    def _serve(self, connection: _Connection, head: bytes) -> None:
        """In a worker: answer one request; the selector thread sends the answer."""
        try:
            parts, keep_alive = _Exchange(head, connection, self).respond()
        except Exception:  # noqa: BLE001 - one bad request must not end the server
            parts, keep_alive = [_canned(500, "Internal Server Error")], False
        self._handoffs.append((connection, parts, keep_alive))
        self._wake()

    def _take_handoffs(self) -> None:
        try:
            while self._wake_read.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while self._handoffs:
            connection, parts, keep_alive = self._handoffs.popleft()
            self._serving.pop(id(connection), None)
            parts = [part for part in parts if part]
            if not parts:  # the client left before we answered
                connection.sock.close()
                continue
            connection.out.extend(memoryview(part) for part in parts)
            connection.close_after = not keep_alive
            connection.writing = True
            connection.deadline = time.monotonic() + WRITE_TIMEOUT
            self._watch(connection, selectors.EVENT_WRITE)
            self._write(connection)

    def _reply_and_close(self, connection: _Connection, response: bytes) -> None:
        self._unwatch(connection)
        connection.buffer.clear()
        connection.out.append(memoryview(response))
        connection.close_after = True
        connection.writing = True
        connection.deadline = time.monotonic() + min(WRITE_TIMEOUT, 5.0)
        self._watch(connection, selectors.EVENT_WRITE)
        self._write(connection)

    def _write(self, connection: _Connection) -> None:
        out = connection.out
        try:
            while out:
                sent = connection.sock.send(out[0])
                if sent < len(out[0]):
                    out[0] = out[0][sent:]
                    return
                out.popleft()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(connection)
            return
        if connection.close_after:
            self._close(connection)
            return
        # kept alive: back to waiting for the next request (maybe already buffered)
        self._unwatch(connection)
        connection.writing = False
        connection.kept_alive = True
        connection.deadline = time.monotonic() + KEEPALIVE_TIMEOUT
        self._watch(connection, selectors.EVENT_READ)
        if connection.buffer:
            self._dispatch(connection)

    def _expire(self, now: float) -> None:
        if now < self._next_deadline:
            return
        upcoming = float("inf")
        for connection in list(self._connections.values()):
            if connection.deadline <= now:
                if connection.buffer and not connection.writing:  # a head that never finished
                    try:
                        connection.sock.send(_canned(408, "Request Timeout"))
                    except OSError:
                        pass
                self._close(connection)
            else:
                upcoming = min(upcoming, connection.deadline)
        self._next_deadline = upcoming

    def _close_all(self) -> None:
        if self._closed:
            return
        self._closed = True
        for connection in [*self._connections.values(), *self._serving.values()]:
            self._close(connection)
        for sock in (self._listener, self._wake_read, self._wake_write):
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()
        self._selector.close()
