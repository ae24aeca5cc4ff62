"""Realistic traffic for the default (netra) envelope: the demo, the benchmarks and the live tests.

Like the platform's own traffic, long-lived IDs repeat: each user has a current thread, run and
websocket connection that many messages share (`Mix.thread_messages` etc. are the mean number of
messages per ID), while request and event IDs are new in every message. Set those means to 1 for
traffic in which every ID is unique.

IDs are written here with plain f-strings that follow docs/schema.md, not with the schema's own
renderer, so traffic checks the classifier instead of agreeing with it by construction.

Each generated message comes with its ground truth (`Truth`): which kind of ID every field carries
and whether the message holds an isolation breach, so tests can assert exact counts.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Literal, TypeVar

import orjson

Kind = Literal["target", "legacy", "unknown"]
T = TypeVar("T")

ID_FIELDS = ("thread_id", "run_id", "request_id", "event_id", "connection_id")
# Fields whose ID lives across messages, and the Mix attribute giving its mean messages per ID.
LONG_LIVED = {"thread_id": "thread_messages", "run_id": "run_messages", "connection_id": "connection_messages"}

_OPS = ("websocket_factory", "session", "agent_execution", "supervisor", "chat")
_EVENTS = ("agent_started", "agent_completed", "tool_executing", "message_sent")
_UNKNOWN = ("undefined", "null", "None", "12345", "not-an-id", "temp", "ID_PLACEHOLDER")
_WORDS = (
    "the", "agent", "thread", "run", "optimize", "costs", "for", "our", "cluster", "please",
    "summarize", "report", "latency", "budget", "quarterly", "analysis", "with", "and", "data",
)


@dataclass(frozen=True)
class Mix:
    """Shares of each kind, per ID field (legacy, unknown) or per message (breach, nested)."""

    legacy: float = 0.10
    unknown: float = 0.02
    breach: float = 0.01
    nested: float = 0.3
    users: int = 50
    thread_messages: float = 20.0
    run_messages: float = 8.0
    connection_messages: float = 40.0


@dataclass(frozen=True)
class Truth:
    kinds: dict[str, Kind]
    breach: bool
    user_id: str
    nested: bool

    def count(self, kind: Kind) -> int:
        return sum(1 for k in self.kinds.values() if k == kind)


@dataclass
class _State:
    counter: int = 0
    users: list[str] = field(default_factory=list)
    # (user, field) -> (kind, id value) of the long-lived ID that user's messages carry now
    current: dict[tuple[str, str], tuple[Kind, str]] = field(default_factory=dict)


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_users(rng: random.Random, n: int) -> list[str]:
    """User ids in the shapes seen in the platform: uuids, `user_{ts}_{c}_{hex}`, test users.

    `user_…` ids deliberately share their first 8 characters: the owner-collision blind spot.
    """
    users: list[str] = []
    for i in range(n):
        shape = i % 5
        if shape in (0, 1, 2):
            users.append(_uuid4(rng))
        elif shape == 3:
            users.append(f"user_{1757300000000 + rng.randrange(10**8)}_{i}_{_hex(rng, 8)}")
        else:
            users.append(f"test_user_{i}")
    return users


class TrafficGenerator:
    """Deterministic for a given seed (and `now_ms`); pass `now_ms=None` for wall-clock timestamps."""

    def __init__(self, *, seed: int = 0, mix: Mix | None = None, now_ms: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.mix = mix or Mix()
        self.now_ms = now_ms
        self._state = _State(users=make_users(self.rng, max(2, self.mix.users)))

    def _ts(self) -> int:
        now = self.now_ms if self.now_ms is not None else int(time.time() * 1000)
        return now - self.rng.randrange(0, 50)

    def _count(self) -> int:
        self._state.counter += 1
        return self._state.counter

    def _target(self, field_name: str, owner8: str) -> str:
        rng, ts, c = self.rng, self._ts(), self._count()
        if field_name == "thread_id":
            return f"thread_{rng.choice(_OPS)}_{ts}_{c}_{_hex(rng, 8)}"
        if field_name == "run_id":
            return f"run_{rng.choice(_OPS)}_{ts}_{c}_{_hex(rng, 8)}"
        if field_name == "request_id":
            if rng.random() < 0.5:
                return f"req_{ts}_{c}_{_hex(rng, 8)}"
            return f"req_{rng.choice(_OPS)}_{ts}_{c}_{_hex(rng, 8)}"
        if field_name == "event_id":
            return f"evt_{rng.choice(_EVENTS)}_{ts}_{c}_{_hex(rng, 8)}"
        if field_name == "connection_id":
            return f"ws_conn_{owner8}_{ts}_{c}_{_hex(rng, 8)}"
        raise ValueError(f"no target shape for field {field_name!r}")

    def _legacy(self, field_name: str) -> str:
        rng = self.rng
        if field_name == "thread_id" and rng.random() < 0.5:
            return f"thread_{_hex(rng, 16)}"
        if field_name == "run_id" and rng.random() < 0.5:
            return f"run_{_hex(rng, 16)}"
        if field_name == "connection_id":
            return f"conn_{_hex(rng, 8)}"
        shape = rng.randrange(3)
        if shape == 0:
            return _uuid4(rng)
        if shape == 1:
            return _hex(rng, 32)
        # old prefixed random hex (a bare 8-hex is target: the generator's uuid4().hex[:8] stand-in)
        return f"{field_name.partition('_')[0]}_{_hex(rng, 16)}"

    def _other_owner8(self, own8: str) -> str:
        candidates = [u[:8] for u in self._state.users if u[:8] != own8]
        return self.rng.choice(candidates) if candidates else "zzzzzzzz"

    def _fresh(self, name: str, owner8: str) -> tuple[Kind, str]:
        roll = self.rng.random()
        if roll < self.mix.unknown:
            return "unknown", self.rng.choice(_UNKNOWN)
        if roll < self.mix.unknown + self.mix.legacy:
            return "legacy", self._legacy(name)
        return "target", self._target(name, owner8)

    def _current(self, user_id: str, name: str) -> tuple[Kind, str]:
        """The user's current long-lived ID for `name`, replaced with probability 1/mean."""
        key = (user_id, name)
        mean = getattr(self.mix, LONG_LIVED[name])
        entry = self._state.current.get(key)
        if entry is None or self.rng.random() * mean < 1.0:
            entry = self._state.current[key] = self._fresh(name, user_id[:8])
        return entry

    def next(self) -> tuple[dict, Truth]:
        rng, mix = self.rng, self.mix
        user_id = rng.choice(self._state.users)
        owner8 = user_id[:8]
        breach = rng.random() < mix.breach
        kinds: dict[str, Kind] = {}
        ids: dict[str, str] = {}
        for name in ID_FIELDS:
            if name == "connection_id" and breach:
                kinds[name], ids[name] = "target", self._target(name, self._other_owner8(owner8))
            elif name in LONG_LIVED:
                kinds[name], ids[name] = self._current(user_id, name)
            else:
                kinds[name], ids[name] = self._fresh(name, owner8)
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(45, 62)))
        event_type = rng.choice(("agent_started", "agent_thinking", "agent_completed", "user_message"))
        nested = rng.random() < mix.nested
        body = {
            "content": text,
            "metadata": {"model": "gpt-4o", "tokens": rng.randrange(10, 4000), "region": "us-central1"},
            "timestamp": self._ts() / 1000.0,
        }
        if nested:
            message = {
                "type": event_type,
                "payload": {"user_id": user_id, **ids, **body},
            }
        else:
            message = {"type": event_type, "user_id": user_id, **ids, "data": body}
        return message, Truth(kinds=kinds, breach=breach, user_id=user_id, nested=nested)


def generate(
    n: int, *, seed: int = 0, now_ms: int | None = None, mix: Mix | None = None
) -> Iterator[tuple[dict, Truth]]:
    """`n` messages with their ground truth."""
    gen = TrafficGenerator(seed=seed, mix=mix, now_ms=now_ms)
    for _ in range(n):
        yield gen.next()


def paced(items: Iterable[T], rate: float) -> Iterator[T]:
    """Yield `items` at about `rate` per second (0 = as fast as the consumer takes them).

    Sleeps to a schedule rather than a fixed gap, so a slow consumer catches up instead of
    drifting.
    """
    if rate <= 0:
        yield from items
        return
    interval = 1.0 / rate
    next_at = time.monotonic()
    for item in items:
        yield item
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def generate_lines(
    n: int, *, seed: int = 0, now_ms: int | None = None, mix: Mix | None = None
) -> Iterator[bytes]:
    """`n` messages as JSON Lines bytes (each ends with a newline)."""
    for message, _ in generate(n, seed=seed, now_ms=now_ms, mix=mix):
        yield orjson.dumps(message) + b"\n"


def shifted(n: int, canary_share: float) -> Iterator[bool]:
    """Which of `n` messages go to the canary when `canary_share` of the traffic is shifted to it
    (a blue/green step such as 0.1): exactly `round(n * canary_share)` of them, spread evenly, so
    each step of a rollout test sends a known number of messages to each revision."""
    if not 0.0 <= canary_share <= 1.0:
        raise ValueError(f"canary_share must be within [0, 1], got {canary_share}")
    sent = 0
    for i in range(n):
        due = round((i + 1) * canary_share)
        yield due > sent
        sent = max(sent, due)
