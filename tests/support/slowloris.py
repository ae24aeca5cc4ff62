"""Slowloris clients: connections that keep a request head open by trickling header lines.

Used by tests/test_http_surfaces.py and bench/health_abuse.py against the agent's server.
"""

from __future__ import annotations

import socket
import threading

from tests.support.wait import wait_until

CONNECT_TIMEOUT = 10.0


class Slowloris:
    """`count` connections that each send a partial request head, then one more header line
    every `every` seconds, forever; a connection the server closes is opened again at once."""

    def __init__(self, port: int, count: int = 500, every: float = 0.5) -> None:
        self.port, self.count, self.every = port, count, every
        self.opened = 0
        self.closed_by_server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=CONNECT_TIMEOUT)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: slow\r\n")
        sock.setblocking(False)
        self.opened += 1
        return sock

    def _run(self) -> None:
        socks = [self._connect() for _ in range(self.count)]
        line = 0
        while not self._stop.wait(self.every):
            line += 1
            for i, sock in enumerate(socks):
                try:
                    if sock.recv(4096, socket.MSG_PEEK) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    pass
                except OSError:
                    sock.close()
                    self.closed_by_server += 1
                    socks[i] = sock = self._connect()
                try:
                    sock.send(b"X-Trickle-%d: a\r\n" % line)
                except OSError:
                    pass
        for sock in socks:
            sock.close()

    def start(self) -> Slowloris:
        self._thread.start()
        wait_until(lambda: self.opened >= self.count, timeout=60, message=f"{self.count} slowloris connections open")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(CONNECT_TIMEOUT)
