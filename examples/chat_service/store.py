"""In-memory state of the example chat service: threads, messages, sessions and connections.

Ownership is enforced here by the application itself (a user sees only their own records); the
id-monitor layer in front of it sees ID isolation breaches before the application does.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Thread:
    thread_id: str
    owner: str
    title: str
    created_ms: int


@dataclass
class Message:
    message_id: str
    thread_id: str
    author: str
    text: str
    run_id: str
    reply_to: str | None = None
    connection_id: str | None = None


@dataclass
class Connection:
    connection_id: str
    owner: str
    opened_ms: int
    open: bool = True


@dataclass
class Store:
    threads: dict[str, Thread] = field(default_factory=dict)
    messages: dict[str, list[Message]] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def thread_of(self, thread_id: str, user: str) -> Thread | None:
        thread = self.threads.get(thread_id)
        return thread if thread is not None and thread.owner == user else None

    def connection_of(self, connection_id: str, user: str) -> Connection | None:
        connection = self.connections.get(connection_id)
        return connection if connection is not None and connection.owner == user else None

    def message_count(self) -> int:
        return sum(len(messages) for messages in self.messages.values())


def public(record: Any) -> dict[str, Any]:
    return asdict(record)
