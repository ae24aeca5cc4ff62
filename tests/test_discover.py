"""`id-monitor discover` and its parts: planted shapes among noise are found exactly, the --yaml
proposal round-trips through `classify --schema`, literals below the support threshold never
appear, the tokeniser and the top-K are bounded (property tests), and the miner's state does not
grow with its input."""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from id_monitor.discover import ShapeMiner, ShapeTracker
from id_monitor.discover.plan import MAX_PLANS, SIGNATURE, Plan
from id_monitor.discover.shapes import LITERALS_PER_POSITION, MAX_LITERAL_POSITIONS, _bucket, skeleton
from id_monitor.discover.support import DistinctUpTo
from id_monitor.discover.tokenise import MAX_ATOMS, MAX_INPUT, Run, tokenise
from id_monitor.discover.topk import SpaceSaving

CLI = [sys.executable, "-m", "id_monitor"]


def planted(n_each: int = 400, noise: int = 600, seed: int = 7) -> tuple[dict[str, list[str]], list[str]]:
    """Three shapes the netra schema does not know, plus random noise."""
    rng = random.Random(seed)
    shapes = {
        "inv": [f"inv_{1757373103822 + 997 * i}_{rng.getrandbits(32):08x}" for i in range(n_each)],
        "ord": [f"ORD-{rng.randrange(1, 99999)}-{rng.getrandbits(16):04X}" for _ in range(n_each)],
        "cust": [f"cust.{rng.getrandbits(40):010x}" for _ in range(n_each)],
    }
    alphabet = string.ascii_letters + string.digits + "_-.:@!#"
    junk = ["".join(rng.choice(alphabet) for _ in range(rng.randint(4, 40))) for _ in range(noise)]
    return shapes, junk


def write_ids(path, shapes, junk, seed: int = 1) -> list[str]:
    lines = [v for vs in shapes.values() for v in vs] + junk
    random.Random(seed).shuffle(lines)
    path.write_text("\n".join(lines) + "\n")
    return lines


def run(*args, stdin: bytes | None = None):
    return subprocess.run([*CLI, *map(str, args)], input=stdin, capture_output=True, timeout=120, check=False)


def test_three_planted_shapes_among_noise_are_proposed_exactly(tmp_path):
    shapes, junk = planted()
    ids = write_ids(tmp_path / "ids.txt", shapes, junk)
    out = run("discover", "--json", tmp_path / "ids.txt")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert sorted(r["id_type"] for r in rows) == ["cust", "inv", "ord"]
    by_type = {r["id_type"]: r for r in rows}
    assert by_type["inv"]["shape"] == "inv_{ts_ms}_{hex:8}"
    assert by_type["inv"]["template"] == "inv_{ts}_{hex}"
    assert by_type["ord"]["shape"].startswith("ORD-{num:") and by_type["ord"]["shape"].endswith("-{HEX:4}")
    assert by_type["cust"]["template"] == "cust.{hex:hex(10)}"
    for row in rows:  # nearly all of each shape is counted (a few inv IDs are netra `base`)
        assert 0.9 * 400 <= row["count"] <= 400
        assert 0 < row["share"] < 1
        assert row["field"] is None
    assert f"{len(ids)} IDs read" in out.stderr.decode()


def test_yaml_proposal_round_trips_through_classify(tmp_path):
    shapes, junk = planted()
    write_ids(tmp_path / "ids.txt", shapes, junk)
    out = run("discover", "--yaml", "--status", "target", tmp_path / "ids.txt")
    assert out.returncode == 0, out.stderr
    schema_file = tmp_path / "proposed.yaml"
    schema_file.write_bytes(out.stdout)
    doc = yaml.safe_load(out.stdout)
    assert doc["include"] == ["netra"]
    assert {f["id_type"]: f["status"] for f in doc["formats"]} == {"inv": "target", "ord": "target", "cust": "target"}
    name_of = {f["id_type"]: f["name"] for f in doc["formats"]}
    planted_ids = [v for vs in shapes.values() for v in vs]
    got = run("classify", "--schema", schema_file, "--json", stdin="\n".join(planted_ids).encode() + b"\n")
    assert got.returncode == 0, got.stderr
    results = [json.loads(line) for line in got.stdout.decode().splitlines()]
    assert len(results) == len(planted_ids)
    netra_known = {r["id"] for r in results if r["format"] == "base"}  # all-digit hex: netra's base
    assert len(netra_known) < 40
    formats = {r["id"]: r["format"] for r in results}
    for kind, values in shapes.items():
        for value in values:
            if value in netra_known:
                continue
            assert formats[value] == name_of[kind], (value, formats[value])


def test_literals_below_support_never_appear(tmp_path):
    """IDs that embed e-mail-like user values: the users' names appear in fewer than K distinct
    IDs each (one of them repeated many times); only the shared domain may become a literal."""
    rng = random.Random(3)
    users = [f"{first}.{last}" for first in ("alice", "bob", "carol", "dmitri", "erin")
             for last in ("smith", "jones", "ng", "okafor")]
    ids = [f"acct:{u}@example.com:{rng.getrandbits(24):06x}" for u in users for _ in range(5)]
    ids += ["acct:zed.quux@example.com:abc123"] * 300  # one ID, many times: support 1
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(ids) + "\n")
    outputs = []
    for mode in ([], ["--json"], ["--yaml"]):
        out = run("discover", "--min-support", "20", *mode, path)
        assert out.returncode == 0, out.stderr
        outputs.append(out.stdout.decode() + out.stderr.decode())
    text = "\n".join(outputs)
    assert "example" in text  # shared by 101 distinct IDs: a literal
    for secret in ("alice", "smith", "okafor", "dmitri", "zed", "quux", "abc123"):
        assert secret not in text, secret
    table = ShapeMiner(min_support=20)
    for value in ids:
        table.observe(value)
    rows = table.rows(10)
    assert rows and all("{lower:" in r.shape for r in rows)


def test_undecodable_lines_are_counted_and_skipped(tmp_path):
    shapes, _ = planted(n_each=50, noise=0)
    path = tmp_path / "ids.bin"
    good = [v for vs in shapes.values() for v in vs]
    path.write_bytes(b"\n".join(v.encode() for v in good) + b"\n\xff\xfe bad\n\xc3\x28\n")
    out = run("discover", "--json", path)
    assert out.returncode == 0, out.stderr
    assert "2 undecodable line(s) skipped" in out.stderr.decode()
    assert f"{len(good)} IDs read" in out.stderr.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--json", "--yaml", "-"], "at most one of --json and --yaml"),
        (["--schema", "nope", "-"], "no builtin schema 'nope'"),
        (["--schema", "netra", "--config", "x.yaml", "-"], "at most one of --schema and --config"),
        (["--status", "current", "-"], "--status must be legacy or target"),
        (["/does/not/exist"], "No such file"),
        (["--config", "/does/not/exist.yaml", "-"], "error:"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args, message):
    out = run("discover", *args, stdin=b"")
    assert out.returncode == 2
    err = out.stderr.decode().strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_messages_mode_mines_per_configured_field(tmp_path):
    rng = random.Random(5)
    lines = []
    for i in range(60):
        lines.append(json.dumps({"type": "agent_started", "user_id": "u1",
                                 "thread_id": f"thread_chat_1757373103822_{i}_{rng.getrandbits(32):08x}",
                                 "run_id": f"RUN/{rng.getrandbits(32):08X}"}))
    lines.append("{not json")
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = run("discover", "--messages", "--json", path)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert [(r["field"], r["shape"], r["count"]) for r in rows] == [("run_id", "RUN/{HEX:8}", 60)]
    assert "1 undecodable line(s) skipped" in out.stderr.decode()
    table = run("discover", "--messages", path)
    assert "run_id" in table.stdout.decode() and "RUN/{HEX:8}" in table.stdout.decode()


def test_all_mines_known_ids_too(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(f"ws_conn_user_175_1757373103822_{i}_{i:08x}" for i in range(1, 40)) + "\n")
    assert run("discover", "--json", path).stdout == b""
    rows = [json.loads(x) for x in run("discover", "--all", "--json", path).stdout.decode().splitlines()]
    assert len(rows) == 1 and rows[0]["example"].startswith("ws_conn_********_")  # redacted with its info


# ---- properties --------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_tokeniser_never_raises_and_is_bounded(value):
    atoms = tokenise(value)
    assert len(atoms) <= MAX_ATOMS
    assert sum(len(a) if isinstance(a, str) else len(a.text) for a in atoms) <= MAX_INPUT
    if len(value) <= MAX_INPUT and len(atoms) < MAX_ATOMS:
        assert "".join(a if isinstance(a, str) else a.text for a in atoms) == value


ID_LIKE = st.lists(st.one_of(
    st.sampled_from(["_", "-", ".", ":", "@", "/"]),
    st.from_regex(r"[0-9]{1,14}", fullmatch=True),
    st.from_regex(r"[0-9a-f]{4,32}", fullmatch=True),
    st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,12}", fullmatch=True),
    st.uuids().map(str),
    st.from_regex(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", fullmatch=True),
), max_size=12).map("".join)


ALNUM = string.ascii_letters + string.digits


@settings(max_examples=300, deadline=None)
@given(first=ID_LIKE, data=st.data())
def test_signature_plans_agree_with_the_tokeniser(first, data):
    """The fast path (one plan per signature) keys every ID as tokenising it would: an ID with
    the same signature (any letters and digits swapped for others) is read by the first ID's
    plan, or refused (then the miner tokenises it on its own)."""
    swaps = data.draw(st.lists(st.sampled_from(ALNUM), min_size=len(first), max_size=len(first)))
    keep = data.draw(st.lists(st.booleans(), min_size=len(first), max_size=len(first)))
    second = "".join(c if (k or not c.isalnum()) else r for c, r, k in zip(first, swaps, keep))
    assert second.encode().translate(SIGNATURE) == first.encode().translate(SIGNATURE)
    plan = Plan(first, _bucket)
    assert plan.read(first) == skeleton(tokenise(first))
    got = plan.read(second)
    if got is not None:
        assert got == skeleton(tokenise(second)), (first, second)
        assert plan.texts == [a.text for a in tokenise(second) if isinstance(a, Run) and a.cls not in ("uuid", "rest")]
    else:
        assert Plan(second, _bucket).read(second) == skeleton(tokenise(second))


@settings(max_examples=200, deadline=None)
@given(stream=st.lists(st.integers(0, 60), max_size=600), capacity=st.integers(1, 12))
def test_space_saving_is_bounded_and_brackets_true_counts(stream, capacity):
    table: SpaceSaving[int, None] = SpaceSaving(capacity, lambda key: None)
    for item in stream:
        table.add(item)
        assert len(table) <= capacity
    true = {x: stream.count(x) for x in set(stream)}
    kept = dict(table.items())
    for key, item in kept.items():
        assert item.count - item.error <= true[key] <= item.count
    for key, count in true.items():  # every heavy hitter is kept
        if count > len(stream) / capacity:
            assert key in kept


def test_distinct_support_counts_ids_not_sightings():
    support = DistinctUpTo(3)
    for _ in range(10):
        support.add(hash("same"))
    assert not support.reached and support.count == 1
    for value in ("a", "b"):
        support.add(hash(value))
    assert support.reached and support.count == 3


def test_state_is_bounded_whatever_the_input_size():
    """Structural: the miner's holdings stop growing however many distinct IDs and shapes it sees."""
    rng = random.Random(11)
    alphabet = string.ascii_letters + string.digits + "_-.:@"

    def feed(miner, n):
        for _ in range(n):
            miner.observe("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))))
            miner.observe(f"user-{rng.getrandbits(40):x}@corp{rng.randrange(10**6)}.example")

    miner = ShapeMiner(min_support=20, capacity=64)
    feed(miner, 2_000)
    small = miner.state_size()
    feed(miner, 18_000)
    large = miner.state_size()
    bound = {"shapes": 64, "heap": 64, "plans": MAX_PLANS, "sighted": MAX_PLANS,
             "literal_tables": 64 * MAX_LITERAL_POSITIONS,
             "literals": 64 * MAX_LITERAL_POSITIONS * LITERALS_PER_POSITION,
             "support_hashes": 64 * MAX_LITERAL_POSITIONS * LITERALS_PER_POSITION * 20,
             "length_spans": 64 * MAX_ATOMS}
    for key, limit in bound.items():
        assert small[key] <= limit and large[key] <= limit, (key, small[key], large[key], limit)
    assert large["shapes"] == small["shapes"] == 64  # full from early on, never more
    assert miner.total == 40_000


def test_tracker_snapshot_matches_discover_json(tmp_path):
    shapes, junk = planted(n_each=100, noise=50)
    ids = write_ids(tmp_path / "ids.txt", shapes, junk)
    tracker = ShapeTracker(["id"], min_support=20, capacity=1024)
    from id_monitor.classify import Classifier

    clf = Classifier("netra")
    for value in ids:
        if clf.classify(value).status == "unknown":
            tracker.observe("id", value)
    cli = [json.loads(x) for x in run("discover", "--json", tmp_path / "ids.txt").stdout.decode().splitlines()]
    assert [{**row, "field": None} for row in tracker.snapshot(20)] == cli


def test_tracker_bounds_fields_and_ignores_non_strings():
    tracker = ShapeTracker(["thread_id"], min_support=1)
    tracker.observe("thread_id", "X-1")
    tracker.observe("surprise", "X-1")
    tracker.observe("thread_id", 42)  # type: ignore[arg-type]
    assert tracker.totals() == {"thread_id": 1, "other": 1}
    assert {r["field"] for r in tracker.snapshot()} == {"thread_id", "other"}


def test_every_run_class_is_reachable():
    classes = {a.cls for v in ("inv_1757373103822_1_ab12", "t_1757373103_x", "ABCD12EF", "Ab1", "ULID_01ARZ3NDEKTSV4RRFFQ69G5FAV",
                               "f47ac10b-58cc-4372-a567-0e02b2c3d479", "é_x", "UP") for a in tokenise(v) if isinstance(a, Run)}
    assert classes >= {"ts_ms", "ts_s", "num", "hex", "HEX", "ulid", "uuid", "lower", "upper", "mixed", "text"}
