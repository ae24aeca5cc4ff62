"""The traffic generator is test infrastructure: its ground truth must be true."""

from __future__ import annotations

import re
import subprocess
import sys

import orjson

from id_monitor.traffic import ID_FIELDS, Mix, generate, generate_lines

TAIL = re.compile(r"_(\d{13})_(\d+)_([0-9a-f]{8})$")


def _fields(message: dict) -> tuple[str, dict]:
    body = message.get("payload", message)
    return body["user_id"], {name: body[name] for name in ID_FIELDS}


def test_same_seed_same_messages_different_seed_different() -> None:
    a = list(generate_lines(50, seed=7, now_ms=1_757_372_478_799))
    b = list(generate_lines(50, seed=7, now_ms=1_757_372_478_799))
    c = list(generate_lines(50, seed=8, now_ms=1_757_372_478_799))
    assert a == b
    assert a != c


def test_messages_are_about_800_bytes_with_five_id_fields() -> None:
    lines = list(generate_lines(2000, seed=1))
    mean = sum(map(len, lines)) / len(lines)
    assert 700 <= mean <= 900
    for line in lines[:100]:
        _, ids = _fields(orjson.loads(line))
        assert len(ids) == 5


def test_truth_matches_the_ids() -> None:
    now = 1_757_372_478_799
    for message, truth in generate(3000, seed=3, now_ms=now, mix=Mix(breach=0.05)):
        user_id, ids = _fields(message)
        assert user_id == truth.user_id
        assert truth.nested == ("payload" in message)
        for name, value in ids.items():
            tail = TAIL.search(value)
            if truth.kinds[name] == "target":
                assert tail, value
                assert now - 50 < int(tail.group(1)) <= now
            else:
                assert not tail, value
        conn = ids["connection_id"]
        if truth.kinds["connection_id"] == "target":
            owner = conn[len("ws_conn_"):len("ws_conn_") + 8]
            assert (owner != user_id[:8]) == truth.breach
        else:
            assert not truth.breach


def test_mix_shares_are_honoured() -> None:
    n = 20000
    mix = Mix(legacy=0.2, unknown=0.05, breach=0.02)
    counts = {"target": 0, "legacy": 0, "unknown": 0}
    breaches = 0
    for _, truth in generate(n, seed=5, mix=mix):
        for kind in truth.kinds.values():
            counts[kind] += 1
        breaches += truth.breach
    total = n * len(ID_FIELDS)
    # The breach field is always a target ID, so legacy/unknown shares are slightly under the mix.
    assert abs(counts["legacy"] / total - 0.2) < 0.01
    assert abs(counts["unknown"] / total - 0.05) < 0.005
    assert abs(breaches / n - 0.02) < 0.005


def test_counters_strictly_increase_like_the_platform_generator() -> None:
    counters = []
    for message, truth in generate(500, seed=2, mix=Mix(legacy=0, unknown=0)):
        _, ids = _fields(message)
        counters.extend(int(TAIL.search(v).group(2)) for v in ids.values())
    assert counters == sorted(counters)
    assert len(set(counters)) == len(counters)


def test_generate_command_prints_json_lines() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "id_monitor", "generate", "-n", "25", "--seed", "4"],
        capture_output=True, check=True, timeout=60,
    ).stdout.splitlines()
    assert len(out) == 25
    assert all(isinstance(orjson.loads(line), dict) for line in out)
