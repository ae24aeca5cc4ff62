"""The health/metrics server under abuse, over loopback: idle connections, clients that leave,
oversized heads, slow heads, keep-alive, and a prompt stop. Deadlines are on positive events
(an answer arriving, a connection closing), never a sleep."""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily

from id_monitor.agent import health
from id_monitor.agent.health import HealthServer

DEADLINE = 10.0  # seconds for anything that must happen; the test fails only if it never does


class RenderCounter:
    """A collector that counts how often /metrics is rendered."""

    def __init__(self) -> None:
        self.renders = 0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        self.renders += 1
        yield GaugeMetricFamily("id_monitor_test_renders", "renders so far", value=self.renders)


@pytest.fixture
def served() -> Iterator[tuple[HealthServer, RenderCounter]]:
    registry = CollectorRegistry()
    counter = RenderCounter()
    registry.register(counter)
    series = Counter("id_monitor_test_series_total", "a body of some size", ["n"], registry=registry)
    for n in range(2000):
        series.labels(str(n)).inc()
    server = HealthServer("127.0.0.1:0", registry, lambda: (True, "ready")).start()
    try:
        yield server, counter
    finally:
        server.stop()


def request(port: int, raw: bytes, timeout: float = DEADLINE) -> bytes:
    """Send `raw`, return everything until the server closes (requests ask Connection: close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(1 << 16):
            chunks.append(chunk)
    return b"".join(chunks)


def get(port: int, path: str = "/metrics", timeout: float = DEADLINE, headers: str = "") -> tuple[int, bytes]:
    answer = request(port, f"GET {path} HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n".encode(),
                     timeout)
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_500_idle_connections_do_not_stop_a_normal_scrape(served):
    server, _ = served
    idle = []
    try:
        for _ in range(500):  # each must be accepted promptly (the old server needed 70 s for all)
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: slow\r\n")  # and never the rest
            idle.append(sock)
        status, body = get(server.port, timeout=1.0)  # the answer must come within 1 s
        assert status == 200 and b"id_monitor_test_series_total" in body
        assert get(server.port, "/healthz", timeout=1.0) == (200, b"ok\n")
        assert server.connections <= health.MAX_CONNECTIONS
    finally:
        for sock in idle:
            sock.close()


def test_500_aborted_requests_are_not_rendered_and_memory_stays_bounded(served):
    server, counter = served
    body_size = len(get(server.port)[1])
    renders_before = counter.renders
    tracemalloc.start()
    try:
        for _ in range(500):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: gone\r\n\r\n")
            sock.close()
        status, _ = get(server.port, timeout=DEADLINE)
        wait_for(lambda: server.connections == 0, "the server to close every connection")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 200
    # one for the normal scrape; a handful at most for clients whose close was not yet seen
    assert counter.renders - renders_before <= 25, counter.renders - renders_before
    assert peak < 20 * body_size + (8 << 20), (peak, body_size)


def read_status(sock: socket.socket) -> int:
    answer = b""
    while b"\r\n" not in answer:
        chunk = sock.recv(4096)
        assert chunk, "closed without an answer"
        answer += chunk
    return int(answer.split(b" ", 2)[1])


def test_oversized_request_line_gets_414(served):
    server, _ = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as sock:
        sock.sendall(b"GET /" + b"a" * (health.MAX_HEAD_BYTES + 10))
        assert read_status(sock) == 414


def test_oversized_headers_get_431(served):
    server, _ = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\n" + b"X-Filler: " + b"b" * 100 + b"\r\n" * 1)
        sock.sendall((b"X-Filler: " + b"b" * 100 + b"\r\n") * (health.MAX_HEAD_BYTES // 100))
        assert read_status(sock) == 431


def test_too_many_headers_within_the_size_get_431(served):
    server, _ = served
    head = b"GET /metrics HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n"
    assert request(server.port, head).startswith(b"HTTP/1.1 431")  # the standard library's limit: 100


def test_a_head_that_never_finishes_gets_408(served, monkeypatch):
    server, _ = served
    monkeypatch.setattr(health, "HEAD_TIMEOUT", 0.3)
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        assert read_status(sock) == 408
        while sock.recv(4096):
            pass  # then closed


def test_keep_alive_and_pipelined_requests(served):
    server, _ = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /readyz HTTP/1.1\r\nHost: t\r\n\r\n")
        answers = b""
        while answers.count(b"HTTP/1.1 200") < 2 or not answers.endswith(b"ready\n"):
            chunk = sock.recv(4096)
            assert chunk
            answers += chunk
        sock.sendall(b"GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        rest = b""
        while chunk := sock.recv(4096):
            rest += chunk
    assert answers.startswith(b"HTTP/1.1 200") and b"\r\n\r\nok\n" in answers
    assert rest.startswith(b"HTTP/1.1 404")


def test_openmetrics_is_negotiated(served):
    server, _ = served
    answer = request(server.port, b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept: application/openmetrics-text; "
                                  b"version=1.0.0\r\nConnection: close\r\n\r\n")
    assert b"Content-Type: application/openmetrics-text" in answer and answer.endswith(b"# EOF\n")
    plain = request(server.port, b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert b"Content-Type: text/plain; version=0.0.4" in plain


def test_concurrent_scrapes_share_renders(served):
    server, counter = served
    before = counter.renders
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(get(server.port)[0])) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert results == [200] * 20
    assert 1 <= counter.renders - before <= 20


def test_stop_returns_promptly_and_closes_open_connections():
    server = HealthServer("127.0.0.1:0", CollectorRegistry(), lambda: (True, "ok")).start()
    kept = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    assert read_status(kept) == 200  # the connection stays open (keep-alive)
    stopped = threading.Event()
    threading.Thread(target=lambda: (server.stop(), stopped.set()), daemon=True).start()
    assert stopped.wait(0.25), "stop() took longer than 0.25 s"
    kept.settimeout(DEADLINE)  # a connection left open would time out here
    try:
        while kept.recv(4096):
            pass  # the rest of the answer, then the close
    except ConnectionResetError:
        pass
    kept.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
