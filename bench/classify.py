"""Classifier benchmark: ns per ID and ratios against a floor and peers, all in one run.

    .venv/bin/python bench/classify.py           # >= 100k IDs, 5 rounds
    .venv/bin/python bench/classify.py --quick   # a short run while developing

Figures (each the best of several interleaved rounds, so a noisy neighbour on a shared machine
skews both sides of a ratio alike):
  unique   a fresh Classifier over >= 100k distinct IDs (every netra format, legacy, garbage;
           also shown with the cache disabled, to separate what filling the cache costs), vs the floor: one precompiled combined `re.fullmatch` of every netra template over the
           same IDs with no post-processing. Target <= 2.0x.
  repeats  the same kinds of IDs each seen ~20 times, shuffled. Target <= 0.5x the floor.
  peers    TypeID / ULID / UUID strings: a fresh Classifier("standard") (full IdInfo) and the
           builtin parse_typeid / parse_ulid / parse_uuid functions, vs typeid-python,
           python-ulid and uuid.UUID parsing the same strings. Target: >= 2x faster.
  adversarial  10,000-char strings shaped to provoke backtracking, through the default
           Classifier and through one with no practical length limit (max_length=20000), plus
           strings at each bucket's maximum length; worst single call. Target < 1 ms.
"""

from __future__ import annotations

import argparse
import random
import re
import string
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from id_monitor.classify import Classifier
from id_monitor.schema import Schema, load_schema
from id_monitor.classify.matcher import Matcher, plain_pattern

WORDS = ["session", "chat", "user", "auth", "code", "review", "web", "search", "supervisor",
         "planner", "created", "deleted", "tool", "call", "stream", "reset", "token", "nonce"]
NOW_MS = 1_757_373_103_822


def word(rng: random.Random, max_tokens: int = 3) -> str:
    return "_".join(rng.choice(WORDS) for _ in range(rng.randint(1, max_tokens)))


def hexs(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def owner(rng: random.Random) -> str:
    alphabet = string.ascii_lowercase + string.digits + "_-"
    return "".join(rng.choice(alphabet) for _ in range(8))


def netra_id(schema: Schema, rng: random.Random) -> str:
    """One random ID of a random netra format (or garbage)."""
    ts = NOW_MS + rng.randint(-10**10, 10**9)
    c = rng.randint(0, 5000)
    kind = rng.randrange(22)
    if kind < 2:
        return schema.render("thread", op=word(rng), ts=ts if kind else None, counter=c, hex=hexs(rng, 8))
    if kind < 4:
        return schema.render("run", op=word(rng), ts=ts if kind % 2 else None, counter=c, hex=hexs(rng, 8))
    if kind == 4:
        return schema.render("req", op=word(rng), ts=ts, counter=c, hex=hexs(rng, 8))
    if kind == 5:
        return schema.render("req", ts=ts, counter=c, hex=hexs(rng, 8))
    if kind == 6:
        return schema.render("ws_conn", owner=owner(rng), ts=ts, counter=c, hex=hexs(rng, 8))
    if kind == 7:
        return schema.render("ws_client", owner=owner(rng), ts=ts, counter=c, hex=hexs(rng, 8))
    if kind == 8:
        return schema.render("agent", agent_type=word(rng), owner=owner(rng), ts=ts, counter=c, hex=hexs(rng, 8))
    if kind == 9:
        return schema.render("tool", name=word(rng), agent8=hexs(rng, 8), ts=ts, counter=c, hex=hexs(rng, 8))
    if kind == 10:
        return schema.render("msg", type=word(rng, 1), owner=owner(rng), thread8=hexs(rng, 8), ts=ts,
                             counter=c, hex=hexs(rng, 8))
    if kind == 11:
        return schema.render("session", type=word(rng, 1), owner=owner(rng), ts=ts, counter=c, hex=hexs(rng, 8))
    if kind == 12:
        return schema.render("error", type=word(rng, 1), owner=owner(rng), ts=ts, counter=c, hex=hexs(rng, 8))
    if kind == 13:
        return schema.render("manager", idtype=rng.choice(["user", "session", "agent", "thread"]),
                             counter=c, hex=hexs(rng, 8))
    if kind in (14, 15):
        return schema.render("base", prefix=rng.choice(["user", "auth_user", "jti", "nonce", "evt_user_created"]),
                             ts=ts, counter=c, hex=hexs(rng, rng.choice([4, 8, 12, 16])))
    if kind == 16:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if kind == 17:
        return uuid.UUID(int=rng.getrandbits(128), version=4).hex
    if kind == 18:
        return hexs(rng, 8)
    if kind == 19:
        return f"{rng.choice(['thread', 'run'])}_{hexs(rng, 16)}"
    if kind == 20:
        return f"{rng.choice(['conn', 'sess'])}_{hexs(rng, 12)}"
    # garbage: near misses and noise
    noise = "".join(rng.choice(string.ascii_letters + string.digits + "_-") for _ in range(rng.randint(5, 40)))
    return rng.choice([noise, f"thread_{word(rng)}_{ts}_{c}_{hexs(rng, 7)}", f"user_{c}_{hexs(rng, 8).upper()}"])


def uuid7(ms: int, rng: random.Random) -> uuid.UUID:
    """RFC 9562 version 7 (the stdlib of Python 3.11 has no uuid7)."""
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | rng.getrandbits(62)
    return uuid.UUID(int=value)


def unique_corpus(schema: Schema, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    seen: dict[str, None] = {}
    while len(seen) < n:
        seen[netra_id(schema, rng)] = None
    return list(seen)


def per_call_ns(fn: Callable[[Any], Any], items: list[Any]) -> float:
    start = time.perf_counter_ns()
    for item in items:
        fn(item)
    return (time.perf_counter_ns() - start) / len(items)


def best_of(rounds: int, contenders: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Interleave the contenders round by round; keep each one's best (lowest) figure."""
    best = {name: float("inf") for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            best[name] = min(best[name], run())
    return best


def floor_regex(schema: Schema) -> re.Pattern[str]:
    variants = sorted(schema.variants, key=lambda v: v.precedence)
    return re.compile("|".join(f"(?:{plain_pattern(v)})" for v in variants))


def adversarial(n: int) -> list[str]:
    def rep(unit: str, prefix: str = "") -> str:
        body = (unit * (n // len(unit) + 1))[: n - len(prefix)]
        return prefix + body

    shapes = [rep("a_", "thread_"), rep("a_", "agent_"), rep("ab_cd-ef_", "agent_"), rep("a_b", "msg_"),
              rep("a_abcd1234_", "tool_"), rep("a_1757373103822_1_"), rep("1757373103822_", "a_"),
              rep("1"), rep("a"), rep("_"), rep("0_"), rep("abcdef0123"), rep("abcdef01-"),
              rep("12345678_", "agent_a_"), rep("user_"), rep("a_1757367656601_1_", "ws_conn_"),
              rep("a-", "conn_"), rep("a_0123456789abcdef"), rep("0"), rep("7zzzzzzzzz")]
    tails = ["", "_1757373103822_1_abcd1234", "!", "_1_abcd1234"]
    return [s[: n - len(t)] + t for s in shapes for t in tails]


def worst_call_ns(fn: Callable[[str], Any], items: Iterable[str], repeat: int = 3) -> float:
    worst = 0.0
    for item in items:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter_ns()
            fn(item)
            best = min(best, time.perf_counter_ns() - start)
        worst = max(worst, best)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small corpus, 2 rounds")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n_unique = 20_000 if args.quick else 100_000
    rounds = 2 if args.quick else 5

    netra = load_schema("netra")
    floor = floor_regex(netra).fullmatch
    corpus = unique_corpus(netra, n_unique, args.seed)
    rng = random.Random(args.seed + 1)
    repeated = [i for i in unique_corpus(netra, n_unique // 20, args.seed + 2) for _ in range(20)]
    rng.shuffle(repeated)
    kinds = Classifier(netra, cache_size=0)
    share = sum(kinds.classify(x).status != "unknown" for x in corpus) / len(corpus)
    print(f"corpus: {len(corpus)} unique IDs ({share:.0%} known), {len(repeated)} repeated "
          f"({len(set(repeated))} distinct x20); {len(netra.variants)} netra templates; rounds={rounds}")

    figures = best_of(rounds, {
        "floor (unique)": lambda: per_call_ns(floor, corpus),
        "classify (unique, cold)": lambda: per_call_ns(Classifier(netra).classify, corpus),
        "classify (unique, no cache)": lambda: per_call_ns(Classifier(netra, cache_size=0).classify, corpus),
        "dispatch + regex only": lambda: per_call_ns(Matcher(netra).find, corpus),
        "floor (repeats)": lambda: per_call_ns(floor, repeated),
        "classify (repeats)": lambda: per_call_ns(Classifier(netra).classify, repeated),
    })
    for name, ns in figures.items():
        print(f"  {name:28s} {ns:8.0f} ns/ID")
    unique_ratio = figures["classify (unique, cold)"] / figures["floor (unique)"]
    repeat_ratio = figures["classify (repeats)"] / figures["floor (repeats)"]
    nocache_ratio = figures["classify (unique, no cache)"] / figures["floor (unique)"]
    print(f"  unique  / floor  = {unique_ratio:.2f}x  (target <= 2.0x)  {'OK' if unique_ratio <= 2.0 else 'MISS'}")
    print(f"  unique, cache_size=0 / floor = {nocache_ratio:.2f}x  (what filling the cache costs on top)")
    find_ratio = figures["dispatch + regex only"] / figures["floor (unique)"]
    print(f"  dispatch + regex only / floor = {find_ratio:.2f}x  (the rest of the cold path builds the IdInfo)")
    print(f"  repeats / floor  = {repeat_ratio:.2f}x  (target <= 0.5x)  {'OK' if repeat_ratio <= 0.5 else 'MISS'}")

    import typeid
    import ulid

    from id_monitor.schema.builtin import _int_to_base32

    n_peer = n_unique // 5
    prng = random.Random(args.seed + 3)
    uuids = [str(uuid7(NOW_MS + i, prng)) for i in range(n_peer)]
    ulids = [str(ulid.ULID.from_int(prng.getrandbits(128) >> 1)) for _ in range(n_peer)]
    typeids = [f"{prng.choice(['user', 'order', 'api_key'])}_{_int_to_base32(uuid.UUID(u).int, 26)}"
               for u in uuids]
    std = load_schema("standard")
    from id_monitor.schema.builtin import parse_typeid, parse_ulid, parse_uuid

    peer_sets = [
        ("TypeID", typeids, parse_typeid, typeid.TypeID.from_string, "typeid-python TypeID.from_string"),
        ("ULID", ulids, parse_ulid, ulid.ULID.from_str, "python-ulid ULID.from_str"),
        ("UUID", uuids, parse_uuid, uuid.UUID, "uuid.UUID"),
    ]
    print("peers (unique strings; classify = fresh Classifier('standard') each round, full IdInfo;")
    print("       parse = the builtin parse_* function: validate + decode, no IdInfo):")
    for label, items, parse, peer, peer_name in peer_sets:
        assert all(Classifier(std).classify(x).format == label.lower() for x in items[:100])
        assert all(parse(x) is not None for x in items[:100])
        got = best_of(rounds, {
            "classify": lambda items=items: per_call_ns(Classifier(std).classify, items),
            "parse": lambda items=items, parse=parse: per_call_ns(parse, items),
            "peer": lambda items=items, peer=peer: per_call_ns(peer, items),
        })
        for mode in ("classify", "parse"):
            speedup = got["peer"] / got[mode]
            print(f"  {label:6s} {mode:8s} {got[mode]:6.0f} ns  vs {peer_name:34s} {got['peer']:6.0f} ns  "
                  f"speed-up {speedup:.2f}x (target >= 2x) {'OK' if speedup >= 2 else 'MISS'}")

    print("adversarial (worst single call):")
    long_inputs = adversarial(10_000)
    default = Classifier(netra)
    uncapped = {name: Classifier(name, max_length=20_000, cache_size=0) for name in ("netra", "standard")}
    rows = [("10k chars, default classifier (too_long)", default.classify, long_inputs)]
    for name, clf in uncapped.items():
        rows.append((f"10k chars, {name}, max_length=20000", clf.classify, long_inputs))
        longest = max(b.max_length for b in clf.matcher.buckets())
        rows.append((f"{longest} chars (longest template), {name}", clf.classify, adversarial(longest)))
    for label, fn, items in rows:
        worst = worst_call_ns(fn, items) / 1000
        print(f"  {label:48s} {worst:8.1f} us  (target < 1000 us) {'OK' if worst < 1000 else 'MISS'}")


if __name__ == "__main__":
    main()
