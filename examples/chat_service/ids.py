"""The platform's ID generator: every ID it issues is in a target format of the `netra` schema.

`{prefix}_{op}_{ts}_{counter}_{hex8}`, owner-bearing IDs embed `user_id[:8]`, and a message ID
embeds the last segment of its thread's ID. The example service issues IDs with it, the way the
real platform's unified generator does, independently of id-monitor (which only reads them).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable

OWNER_WIDTH = 8


def owner_prefix(user_id: str) -> str:
    return user_id[:OWNER_WIDTH]


def last_segment(id_value: str) -> str:
    return id_value.rsplit("_", 1)[-1]


class IdIssuer:
    """Issues unique target-format IDs; `clock_ms` and `hex8` are injectable for tests."""

    def __init__(
        self,
        clock_ms: Callable[[], int] | None = None,
        hex8: Callable[[], str] | None = None,
    ) -> None:
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._hex8 = hex8 or (lambda: secrets.token_hex(4))
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def _tail(self) -> str:
        with self._lock:
            counter = next(self._counter)
        return f"{self._clock_ms()}_{counter}_{self._hex8()}"

    def thread(self, op: str = "chat") -> str:
        return f"thread_{op}_{self._tail()}"

    def run(self, op: str = "chat") -> str:
        return f"run_{op}_{self._tail()}"

    def request(self) -> str:
        return f"req_{self._tail()}"

    def message(self, kind: str, user_id: str, thread_id: str) -> str:
        return f"msg_{kind}_{owner_prefix(user_id)}_{last_segment(thread_id)}_{self._tail()}"

    def connection(self, user_id: str) -> str:
        return f"ws_conn_{owner_prefix(user_id)}_{self._tail()}"

    def session(self, user_id: str, kind: str = "web") -> str:
        return f"session_{kind}_{owner_prefix(user_id)}_{self._tail()}"
