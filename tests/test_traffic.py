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
    # Long-lived IDs are shared by many messages, so their kinds vary more than per-ID draws.
    assert abs(counts["legacy"] / total - 0.2) < 0.03
    assert abs(counts["unknown"] / total - 0.05) < 0.015
    assert abs(breaches / n - 0.02) < 0.005


def test_every_new_id_takes_the_next_counter_like_the_platform_generator() -> None:
    first_seen: dict[str, int] = {}
    for message, _ in generate(2000, seed=2, mix=Mix(legacy=0, unknown=0)):
        _, ids = _fields(message)
        for value in ids.values():
            first_seen.setdefault(value, int(TAIL.search(value).group(2)))
    counters = list(first_seen.values())
    assert counters == sorted(counters)
    assert len(set(counters)) == len(counters)


def test_long_lived_ids_repeat_and_per_message_ids_do_not() -> None:
    n = 5000
    seen: dict[str, set[str]] = {name: set() for name in ID_FIELDS}
    for message, _ in generate(n, seed=9, mix=Mix(legacy=0, unknown=0, breach=0)):
        _, ids = _fields(message)
        for name, value in ids.items():
            seen[name].add(value)
    assert len(seen["request_id"]) == len(seen["event_id"]) == n
    # About n / mean distinct values (plus one current ID per user to start with).
    assert len(seen["thread_id"]) < n / 10
    assert len(seen["connection_id"]) < len(seen["thread_id"]) < len(seen["run_id"])


def test_means_of_one_make_every_id_unique() -> None:
    mix = Mix(legacy=0, unknown=0, breach=0, thread_messages=1, run_messages=1, connection_messages=1)
    values = [v for m, _ in generate(1000, seed=4, mix=mix) for v in _fields(m)[1].values()]
    assert len(set(values)) == len(values)


def test_generate_command_prints_json_lines() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "id_monitor", "generate", "-n", "25", "--seed", "4"],
        capture_output=True, check=True, timeout=60,
    ).stdout.splitlines()
    assert len(out) == 25
    assert all(isinstance(orjson.loads(line), dict) for line in out)


def test_paced_yields_everything_and_never_runs_ahead_of_the_rate() -> None:
    import time

    from id_monitor.traffic import paced

    assert list(paced(range(100), 0)) == list(range(100))
    started = time.monotonic()
    assert list(paced(range(6), 100.0)) == list(range(6))
    assert time.monotonic() - started >= 0.05  # 6 items at 100/s: at least five gaps of 10 ms
