"""The HTTP surfaces as real processes over loopback, under abuse: the agent's /metrics server
(`id-monitor run`) and the example FastAPI service with the id-monitor layer under uvicorn.

Slowloris clients that keep trickling header bytes, oversized heads, and bodies announced or
streamed far past any limit: each gets a 4xx at once (the status line arrives while the client is
still sending), the process's peak resident memory (VmHWM) grows by a bounded amount, and a normal
client is still answered. Latencies are printed, not asserted; the only deadlines are generous
bounds on an answer arriving at all (bench/health_abuse.py measures them).
"""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.kafka_broker import AgentProcess
from tests.support.net import free_port, http_get
from tests.support.processes import stop_process
from tests.support.slowloris import Slowloris
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 10.0  # seconds for an answer that must come; a test fails only if it never does
SCRAPE_BOUND = 5.0  # generous: /metrics answers in milliseconds with nothing else going on
BODY_SENT_MB = 64  # what an abusive client pushes at most before it must have had its answer
MEMORY_SLACK_KB = 16 * 1024  # peak RSS may grow this much, far below what the client sent


def peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for {pid}")


def filler(mb: int = BODY_SENT_MB) -> Iterator[bytes]:
    chunk = b'{"text":"' + b"x" * ((1 << 20) - 9)
    for _ in range(mb):
        yield chunk


def chunked(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield b"%x\r\n%s\r\n" % (len(chunk), chunk)


def exchange(port: int, head: bytes, body: Iterable[bytes] = ()) -> tuple[int | None, int, float]:
    """Send `head`, then `body` chunks while no answer has come; (status or None if the server
    closed without one, body bytes it took, seconds until the status line)."""
    started = time.monotonic()
    answer, sent = b"", 0
    chunks = iter(body)
    pending = memoryview(b"")
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        sending = True
        while time.monotonic() - started < DEADLINE:
            readable, writable, _ = select.select([sock], [sock] if sending else [], [], 0.05)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                answer += data
                if b"\r\n" in answer:
                    break
                continue
            if writable:
                if not pending:
                    pending = memoryview(next(chunks, b""))
                    if not pending:
                        sending = False
                        continue
                try:
                    n = sock.send(pending)
                except BlockingIOError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    sending = False
                    continue
                pending = pending[n:]
                sent += n
    took = time.monotonic() - started
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") and b"\r\n" in answer else None
    return status, sent, took


def get_status(port: int, path: str, timeout: float) -> tuple[int, bytes, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(1 << 16):
            chunks.append(chunk)
    answer = b"".join(chunks)
    return int(answer.split(b" ", 2)[1]), answer.split(b"\r\n\r\n", 1)[1], time.monotonic() - started


# -- the agent's server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """`id-monitor run` reading an idle stdin: its /metrics, /healthz and /readyz server."""
    process = AgentProcess(tmp_path_factory.mktemp("agent"), {}, stdin=True)
    try:
        wait_until(lambda: process.get("/healthz")[0] == 200, timeout=60, message="the agent's server")
        yield process
    finally:
        process.close()


def test_metrics_answers_a_normal_client_while_500_slowloris_connections_trickle(agent: AgentProcess) -> None:
    attack = Slowloris(agent.port).start()
    try:
        wait_until(lambda: attack.closed_by_server > 0, timeout=60,
                   message="the server to shed slowloris connections (at most 256 open)")
        latencies = []
        for _ in range(5):
            status, body, took = get_status(agent.port, "/metrics", timeout=SCRAPE_BOUND)
            assert status == 200 and b"id_monitor_messages_total" in body
            latencies.append(took)
        status, body, _ = get_status(agent.port, "/healthz", timeout=SCRAPE_BOUND)
        assert (status, body) == (200, b"alive\n")
        agent.assert_alive()
    finally:
        attack.stop()
    print(f"\n/metrics under 500 trickling slowloris: {max(latencies) * 1000:.1f} ms at worst "
          f"({attack.opened} connections opened, {attack.closed_by_server} shed by the server)")


@pytest.mark.parametrize("method, expected", [("GET", 413), ("POST", 405), ("PUT", 405)])
def test_a_huge_body_gets_4xx_at_once_and_is_never_read(agent: AgentProcess, method: str, expected: int) -> None:
    before = peak_rss_kb(agent.proc.pid)
    head = f"{method} /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: {1 << 30}\r\n\r\n".encode()
    status, sent, took = exchange(agent.port, head, filler())
    assert status == expected, (status, sent)
    assert sent < BODY_SENT_MB << 20  # answered while the client was still sending
    assert peak_rss_kb(agent.proc.pid) - before < MEMORY_SLACK_KB
    assert http_get(f"{agent.url}/healthz")[0] == 200
    print(f"\n{method} with a 1 GiB body: {status} after {took * 1000:.1f} ms, {sent >> 20} MB taken")


def test_a_chunked_body_gets_413(agent: AgentProcess) -> None:
    head = b"GET /metrics HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, sent, _ = exchange(agent.port, head, chunked(filler()))
    assert status == 413 and sent < BODY_SENT_MB << 20


def test_head_is_answered_like_get_without_the_body(agent: AgentProcess) -> None:
    with socket.create_connection(("127.0.0.1", agent.port), timeout=DEADLINE) as sock:
        sock.sendall(b"HEAD /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and rest == b""
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    assert length > 1000  # what GET would send


@pytest.mark.parametrize("head, expected", [
    (b"GET /" + b"a" * (64 << 10) + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET /metrics HTTP/1.1\r\n" + b"X-Filler: " + b"b" * (64 << 10) + b"\r\n\r\n", 431),
])
def test_oversized_heads_on_the_real_agent(agent: AgentProcess, head: bytes, expected: int) -> None:
    before = peak_rss_kb(agent.proc.pid)
    assert exchange(agent.port, head)[0] == expected
    assert peak_rss_kb(agent.proc.pid) - before < MEMORY_SLACK_KB


# -- the example FastAPI service with the layer, under uvicorn ------------------------------------


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[int, subprocess.Popen]]:
    """`python -m examples.chat_service` (uvicorn, OpenTelemetry and the id-monitor layer)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "examples.chat_service", "--port", str(port)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200, timeout=60,
                   message="the example service")
        yield port, process
    finally:
        stop_process(process)


def _post(path: str, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: t\r\nX-User-ID: alice_0001\r\n"
            f"Content-Type: application/json\r\n{extra}\r\n").encode()


@pytest.mark.parametrize("name, head", [
    ("a 256 KB header", b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Filler: " + b"a" * (256 << 10) + b"\r\n\r\n"),
    ("20,000 headers", b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(20_000))
     + b"\r\n"),
])
def test_the_service_refuses_oversized_heads(service, name: str, head: bytes) -> None:
    port, process = service
    before = peak_rss_kb(process.pid)
    status, _, took = exchange(port, head)
    assert status is not None and 400 <= status < 500, (name, status)
    assert peak_rss_kb(process.pid) - before < MEMORY_SLACK_KB
    print(f"\nservice, {name}: {status} after {took * 1000:.1f} ms")


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_the_service_refuses_a_huge_body_at_once_with_bounded_memory(service, framing: str) -> None:
    port, process = service
    before = peak_rss_kb(process.pid)
    if framing == "content-length":
        status, sent, took = exchange(port, _post("/threads", f"Content-Length: {1 << 30}\r\n"), filler())
    else:
        status, sent, took = exchange(port, _post("/threads", "Transfer-Encoding: chunked\r\n"), chunked(filler()))
    grew = peak_rss_kb(process.pid) - before
    assert status == 413, (status, sent >> 20)
    assert sent < BODY_SENT_MB << 20
    assert grew < MEMORY_SLACK_KB, grew
    print(f"\nservice, 1 GiB body ({framing}): 413 after {took * 1000:.1f} ms, {sent >> 20} MB taken, "
          f"peak RSS +{grew / 1024:.1f} MB")


def test_the_service_still_takes_and_checks_normal_bodies(service) -> None:
    import httpx

    from tests.support.metrics import parse_metrics, total

    port, _ = service

    def unknown_message_ids(client: httpx.Client) -> float:
        return total(parse_metrics(client.get("/metrics").text), "id_monitor_ids_total", source="http",
                     field="message_id", status="unknown")

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as client:
        before = unknown_message_ids(client)
        thread = client.post("/threads", json={"title": "t" * 200}, headers={"X-User-ID": "alice_0001"})
        assert thread.status_code == 201
        thread_id = thread.json()["thread_id"]
        # ~900 KB, under the 1 MiB limit: taken, and its body field still judged by the layer
        posted = client.post(f"/threads/{thread_id}/messages", headers={"X-User-ID": "alice_0001"},
                             json={"text": "x" * 9_000, "reply_to": "undefined", "pad": "p" * 900_000})
        assert posted.status_code == 201, posted.text
        assert unknown_message_ids(client) == before + 1
