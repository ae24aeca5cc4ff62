"""Native classify: ns per ID against the combined-regex floor and the Python engine, and
TypeID / ULID / UUID parsing against typeid-python, python-ulid and uuid.UUID, in one run.

    python bench/native_classify.py [--quick]

Corpora as in bench/classify.py (unique netra IDs; the same kinds each seen ~20 times). The
native figures are `NativeClassifier.classify` per call (one call into the core, the IdInfo
built in Python) and `classify_many` (one call per list). Parsing: each library's own parse of
the same valid values (typeid-python `TypeID.from_string`, python-ulid `ULID.from_str`,
`uuid.UUID(text)`) against the native classifier on the `standard` schema, which validates and
also decodes timestamp and parts. Targets (issue 12): unique <= 1.0x the floor (moonshot 0.5x);
parse >= 2x each library.
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from classify import best_of, floor_regex, per_call_ns, unique_corpus, uuid7

from id_monitor import native
from id_monitor.classify import Classifier
from id_monitor.schema import load_schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not native.available():
        sys.exit(f"native_classify: {native.unavailable_reason()}")
    from id_monitor.native.engine import NativeClassifier

    n = 20_000 if args.quick else 100_000
    rounds = 2 if args.quick else 5
    netra = load_schema("netra")
    corpus = unique_corpus(netra, n, args.seed)
    repeated = [i for i in unique_corpus(netra, n // 20, args.seed + 2) for _ in range(20)]
    random.Random(args.seed).shuffle(repeated)
    floor = floor_regex(netra).fullmatch
    figures = best_of(rounds, {
        "floor (unique)": lambda: per_call_ns(floor, corpus),
        "python classify (unique)": lambda: per_call_ns(Classifier(netra).classify, corpus),
        "native classify (unique)": lambda: per_call_ns(NativeClassifier(netra).classify, corpus),
        "native classify_many (unique)": lambda: _many_ns(NativeClassifier(netra, cache_size=0), corpus),
        "floor (repeats)": lambda: per_call_ns(floor, repeated),
        "python classify (repeats)": lambda: per_call_ns(Classifier(netra).classify, repeated),
        "native classify (repeats)": lambda: per_call_ns(NativeClassifier(netra).classify, repeated),
    })
    print(f"netra: {len(corpus)} unique IDs, {len(repeated)} repeated; rounds={rounds}")
    for name, ns in figures.items():
        print(f"  {name:32s} {ns:8.0f} ns/ID")
    for kind in ("unique", "repeats"):
        ratio = figures[f"native classify ({kind})"] / figures[f"floor ({kind})"]
        print(f"  native {kind} / floor = {ratio:.2f}x (target <= 1.0x, moonshot 0.5x)"
              f"  {'OK' if ratio <= 1.0 else 'MISS'}")
    many = figures["native classify_many (unique)"] / figures["floor (unique)"]
    print(f"  native classify_many unique / floor = {many:.2f}x")
    parse(args, rounds)


def _many_ns(clf, corpus: list[str]) -> float:  # type: ignore[no-untyped-def]
    import time

    start = time.perf_counter_ns()
    clf.classify_many(corpus)
    return (time.perf_counter_ns() - start) / len(corpus)


def parse(args: argparse.Namespace, rounds: int) -> None:
    from typeid import TypeID
    from ulid import ULID

    from id_monitor.native.engine import NativeClassifier

    rng = random.Random(args.seed)
    m = 20_000 if args.quick else 100_000
    uuids = [str(uuid7(1_757_000_000_000 + i, rng)) for i in range(m)]
    typeids = [str(TypeID.from_uuid(prefix="user", suffix=uuid.UUID(u))) for u in uuids]
    ulids = [str(ULID.from_uuid(uuid.UUID(u))) for u in uuids]
    standard = load_schema("standard")
    clf = NativeClassifier(standard, cache_size=0)
    assert all(clf.classify(t).format == "typeid" for t in typeids[:100])
    assert all(clf.classify(t).format == "ulid" for t in ulids[:100])
    assert all(clf.classify(t).format == "uuid" for t in uuids[:100])
    figures = best_of(rounds, {
        "typeid-python TypeID.from_string": lambda: per_call_ns(TypeID.from_string, typeids),
        "native typeid": lambda: per_call_ns(clf.classify, typeids),
        "python-ulid ULID.from_str": lambda: per_call_ns(ULID.from_str, ulids),
        "native ulid": lambda: per_call_ns(clf.classify, ulids),
        "uuid.UUID(text)": lambda: per_call_ns(uuid.UUID, uuids),
        "native uuid": lambda: per_call_ns(clf.classify, uuids),
    })
    print(f"parse: {m} valid values each (v7), standard schema, no cache; rounds={rounds}")
    for name, ns in figures.items():
        print(f"  {name:34s} {ns:8.0f} ns/value")
    for peer, mine in (("typeid-python TypeID.from_string", "native typeid"),
                       ("python-ulid ULID.from_str", "native ulid"), ("uuid.UUID(text)", "native uuid")):
        speedup = figures[peer] / figures[mine]
        print(f"  {mine} vs {peer}: {speedup:.2f}x faster (target >= 2x)  {'OK' if speedup >= 2 else 'MISS'}")


if __name__ == "__main__":
    main()
