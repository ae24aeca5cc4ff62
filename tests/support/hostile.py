"""All-hostile-unique traffic: messages in which nothing repeats and nothing is as configured.

Random field names next to the configured ones, random owners, ID values of random shapes (and
valid-looking target IDs with random owners and prefixes), random JSON types where IDs belong,
random topic-like strings. Used by the cardinality audit, the privacy audit and
bench/hostile_stdin.py (the RSS plateau run).
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

import orjson

FIELDS = ["thread_id", "run_id", "request_id", "event_id", "connection_id", "message_id"]
ALPHABET = string.ascii_letters + string.digits


def _word(rng: random.Random, low: int = 3, high: int = 12) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(low, high)))


def hostile_value(rng: random.Random) -> object:
    roll = rng.random()
    if roll < 0.55:  # an ID-like string of a random shape
        parts = [rng.choice([_word(rng, 1, 8).lower(), str(rng.getrandbits(44)), f"{rng.getrandbits(32):08x}",
                             _word(rng)]) for _ in range(rng.randint(1, 6))]
        return rng.choice("_-:.").join(parts)
    if roll < 0.7:  # a valid-looking target ID with a random owner and prefix
        return f"{_word(rng, 2, 9).lower()}_{_word(rng, 8, 8).lower()}_{1_757_000_000_000 + rng.getrandbits(30)}_" \
               f"{rng.randint(1, 10**6)}_{rng.getrandbits(32):08x}"
    if roll < 0.8:
        return rng.getrandbits(rng.randint(1, 63)) * rng.choice([1, -1]) if rng.random() < 0.8 else rng.random() * 1e300
    if roll < 0.9:
        return [_word(rng) for _ in range(rng.randint(0, 3))]
    return {_word(rng): _word(rng)}


def hostile_message(rng: random.Random) -> dict[str, object]:
    message: dict[str, object] = {"user_id": _word(rng, 4, 24), "type": _word(rng),
                                  "topic": f"{_word(rng)}.{_word(rng)}.{_word(rng)}"}
    for name in rng.sample(FIELDS, rng.randint(1, len(FIELDS))):
        message[name] = hostile_value(rng)
    for _ in range(rng.randint(1, 4)):
        message[_word(rng)] = hostile_value(rng)
    if rng.random() < 0.3:
        message["data"] = {_word(rng): hostile_value(rng), "user_id": _word(rng, 4, 24)}
    return message


def hostile_lines(seed: int, count: int | None = None) -> Iterator[bytes]:
    rng = random.Random(seed)
    produced = 0
    while count is None or produced < count:
        yield orjson.dumps(hostile_message(rng)) + b"\n"
        produced += 1


