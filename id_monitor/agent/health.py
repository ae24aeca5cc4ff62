"""The agent's HTTP endpoint: Prometheus `/metrics`, `/healthz` (alive) and `/readyz` (ready).

One small `http.server` in a daemon thread serves all three, so a Kubernetes probe and a
Prometheus scrape hit the same port (`metrics.listen`). `/metrics` negotiates the OpenMetrics
format (which carries exemplars: the trace IDs of sampled messages) from the Accept header, as
prometheus-client's own server does.

`/readyz` answers 200 only while the `readiness()` callback says so (the Kafka agent: partitions
assigned and broker reachable), else 503 with the reason, so a rollout waits for a working agent
and a broker outage shows on the pod.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

Readiness = Callable[[], tuple[bool, str]]


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


class HealthServer:
    """Serves /metrics, /healthz and /readyz on `listen` (`host:port`; port 0 picks a free one)."""

    def __init__(self, listen: str, registry: CollectorRegistry, readiness: Readiness,
                 liveness: Readiness | None = None) -> None:
        host, port = parse_listen(listen)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                    self._send(200, encoder(registry), content_type)
                elif path == "/healthz":
                    ok, reason = (liveness or (lambda: (True, "ok")))()
                    self._send(200 if ok else 503, (reason + "\n").encode(), "text/plain; charset=utf-8")
                elif path == "/readyz":
                    ok, reason = server.readiness()
                    self._send(200 if ok else 503, (reason + "\n").encode(), "text/plain; charset=utf-8")
                else:
                    self._send(404, b"not found: try /metrics, /healthz, /readyz\n", "text/plain; charset=utf-8")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the scraper timed out and left: nothing to report

            def log_message(self, format: str, *args: object) -> None:
                return  # probes every few seconds would drown the agent's own log

        self.readiness = readiness
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="health-http", daemon=True)

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
