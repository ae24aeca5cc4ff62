"""Builtin standard formats: TypeID conformance vectors, RFC 9562 examples, ULID, KSUID, Snowflake."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest
import ulid
import yaml
from hypothesis import given
from hypothesis import strategies as st

from id_monitor.classify import Classifier
from id_monitor.schema import load_schema
from id_monitor.schema.builtin import parse_typeid

DATA = Path(__file__).parent / "data"
VALID_TYPEIDS = yaml.safe_load((DATA / "typeid" / "valid.yml").read_text())
INVALID_TYPEIDS = yaml.safe_load((DATA / "typeid" / "invalid.yml").read_text())
TS_2022_02_22_19_22_22 = 1645557742000


def single_format_schema(tmp_path: Path, template: str, name: str = "only", **segments) -> Classifier:
    doc = {"name": "t", "formats": [{"name": name, "status": "target", "id_type": name, "template": template}]}
    if segments:
        doc["formats"][0]["segments"] = segments
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return Classifier(load_schema(str(path)))


@pytest.fixture(scope="module")
def standard() -> Classifier:
    return Classifier("standard")


@pytest.fixture
def typeid_only(tmp_path) -> Classifier:
    return single_format_schema(tmp_path, "{typeid}", name="typeid")


# ---- TypeID spec 0.3 ----------------------------------------------------------------------

def test_vector_files_are_complete():
    assert len(VALID_TYPEIDS) == 9 and len(INVALID_TYPEIDS) == 21


@pytest.mark.parametrize("case", VALID_TYPEIDS, ids=[c["name"] for c in VALID_TYPEIDS])
def test_typeid_valid_vectors_decode(case, standard, typeid_only):
    for clf in (standard, typeid_only):
        info = clf.classify(case["typeid"])
        assert info.format == "typeid", info
        assert info.parts["typeid_prefix"] == case["prefix"]
        assert info.parts["uuid"] == case["uuid"]
    assert parse_typeid(case["typeid"]) == (case["prefix"], case["uuid"])
    # and encode back to the same string
    assert standard.schema.render("typeid", typeid=(case["prefix"], case["uuid"])) == case["typeid"]


@pytest.mark.parametrize("case", INVALID_TYPEIDS, ids=[c["name"] for c in INVALID_TYPEIDS])
def test_typeid_invalid_vectors_rejected(case, typeid_only):
    info = typeid_only.classify(case["typeid"])
    assert info.status == "unknown", info
    assert parse_typeid(case["typeid"]) is None
    assert standard_typeid_format(case["typeid"]) != "typeid"


def standard_typeid_format(value: str) -> str | None:
    return Classifier("standard").classify(value).format


def test_typeid_v7_has_timestamp(standard):
    text = standard.schema.render("typeid", typeid=("user", "017f22e2-79b0-7cc3-98c4-dc0c0c07398f"))
    info = standard.classify(text)
    assert info.timestamp_ms == TS_2022_02_22_19_22_22
    assert info.parts["version"] == 7


def test_typeid_pinned_prefix(tmp_path):
    clf = single_format_schema(tmp_path, "{t:typeid(prefix=user)}")
    assert clf.classify("user_01h2xcejqtf2nbrexx3vqjhp41").format == "only"
    assert clf.classify("order_01h2xcejqtf2nbrexx3vqjhp41").status == "unknown"


# ---- UUID (RFC 9562) ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "version", "ts"),
    [
        ("C232AB00-9414-11EC-B3C8-9F6BDECED846", 1, TS_2022_02_22_19_22_22),  # RFC 9562 A.1
        ("5df41881-3aed-3515-88a7-2f4a814cf09e", 3, None),  # A.2
        ("919108f7-52d1-4320-9bac-f847db4148a8", 4, None),  # A.3
        ("2ed6657d-e927-568b-95e1-2665a8aea6a2", 5, None),  # A.4
        ("1EC9414C-232A-6B00-B3C8-9F6BDECED846", 6, TS_2022_02_22_19_22_22),  # A.5
        ("017f22e2-79b0-7cc3-98c4-dc0c0c07398f", 7, TS_2022_02_22_19_22_22),  # A.6 (issue example)
        ("2489E9AD-2EE2-8E00-8EC9-32D5F69181C0", 8, None),  # B.1
        ("5c146b14-3c52-8afd-938a-375d0df1fbf6", 8, None),  # B.2
        ("00000000-0000-0000-0000-000000000000", 0, None),  # nil
        ("ffffffff-ffff-ffff-ffff-ffffffffffff", 15, None),  # max
        ("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", 15, None),
    ],
)
def test_rfc9562_examples(standard, text, version, ts):
    info = standard.classify(text)
    assert (info.status, info.format, info.id_type) == ("target", "uuid", "uuid")
    assert info.parts["version"] == version
    assert info.parts["uuid"] == text.lower()
    assert info.timestamp_ms == ts


@pytest.mark.parametrize(
    "text",
    [
        "017f22e2-79b0-0cc3-98c4-dc0c0c07398f",  # version 0 (not nil)
        "017f22e2-79b0-9cc3-98c4-dc0c0c07398f",  # version 9
        "017f22e2-79b0-7cc3-18c4-dc0c0c07398f",  # variant 0xxx (NCS)
        "017f22e2-79b0-7cc3-c8c4-dc0c0c07398f",  # variant 110x (Microsoft)
        "017f22e279b07cc398c4dc0c0c07398f",  # not canonical
        "{017f22e2-79b0-7cc3-98c4-dc0c0c07398f}",
        "017f22e2-79b0-7cc3-98c4-dc0c0c07398",  # one short
        "017f22e2-79b0-7cc3-98c4-dc0c0c07398g",
    ],
)
def test_uuid_rejects(standard, text):
    assert standard.classify(text).format != "uuid"


def test_uuid_matches_stdlib_on_random_values(standard):
    rng = random.Random(5)
    for _ in range(300):
        u = uuid.UUID(int=rng.getrandbits(128), version=rng.choice([1, 3, 4, 5]))
        info = standard.classify(str(u))
        assert info.parts["uuid"] == str(u) and info.parts["version"] == u.version
        if u.version == 1:
            assert info.timestamp_ms == (u.time - 0x01B21DD213814000) // 10_000


def test_uuid_version_pinned_and_lowercase(tmp_path):
    clf = single_format_schema(tmp_path, "{u:uuid(version=4,case=lower)}")
    assert clf.classify("919108f7-52d1-4320-9bac-f847db4148a8").format == "only"
    assert clf.classify("919108F7-52D1-4320-9BAC-F847DB4148A8").status == "unknown"
    assert clf.classify("017f22e2-79b0-7cc3-98c4-dc0c0c07398f").status == "unknown"


# ---- ULID -----------------------------------------------------------------------------------

def test_ulid_spec_example(standard):
    info = standard.classify("01ARZ3NDEKTSV4RRFFQ8KHJZ4X")
    assert (info.format, info.timestamp_ms) == ("ulid", 1469922850259)


@pytest.fixture(scope="module")
def ulid_only(tmp_path_factory) -> Classifier:
    return single_format_schema(tmp_path_factory.mktemp("ulid"), "{ulid}", name="ulid")


@given(value=st.integers(min_value=0, max_value=(1 << 128) - 1))
def test_ulid_timestamp_agrees_with_python_ulid(ulid_only, value):
    text = str(ulid.ULID.from_int(value))
    info = ulid_only.classify(text)
    assert info.format == "ulid"
    assert info.timestamp_ms == ulid.ULID.from_str(text).milliseconds


@pytest.mark.parametrize(
    "text",
    ["8ZZZZZZZZZZZZZZZZZZZZZZZZZ",  # > 2**128: first char above 7
     "01ARZ3NDEKTSV4RRFFQ8KHJZ4",  # 25 chars
     "01ARZ3NDEKTSV4RRFFQ8KHJZ4U",  # U is not Crockford
     "01ARZ3NDEKTSV4RRFFQ8KHJZIL"],  # I, L excluded
)
def test_ulid_rejects(standard, text):
    assert standard.classify(text).format != "ulid"


def test_lowercase_26_chars_is_typeid_in_standard_but_ulid_alone(standard, tmp_path):
    # Declaration order settles the tie (docs/schema.md): a lower-case 26-char value is a
    # prefix-less TypeID in the standard schema; a ULID-only schema still reads it as a ULID.
    text = "01arz3ndektsv4rrffq8khjz4x"
    assert standard.classify(text).format == "typeid"
    assert single_format_schema(tmp_path, "{ulid}").classify(text).timestamp_ms == 1469922850259


# ---- KSUID ----------------------------------------------------------------------------------

def test_ksuid_readme_example(standard):
    # segmentio/ksuid README: 0ujtsYcgvSTl8PAuAdqWYSMnLOv, timestamp 107608047 (+1400000000 s)
    info = standard.classify("0ujtsYcgvSTl8PAuAdqWYSMnLOv")
    assert (info.format, info.timestamp_ms) == ("ksuid", (107608047 + 1_400_000_000) * 1000)


def test_ksuid_bounds(standard):
    assert standard.classify("000000000000000000000000000").timestamp_ms == 1_400_000_000_000
    assert standard.classify("aWgEPTl1tmebfsQzFP4bxwgy80V").format == "ksuid"  # 2**160 - 1
    assert standard.classify("aWgEPTl1tmebfsQzFP4bxwgy80W").status == "unknown"  # overflow
    assert standard.classify("0ujtsYcgvSTl8PAuAdqWYSMnLO").status == "unknown"  # 26 base62 chars
    assert standard.classify("0ujtsYcgvSTl8PAuAdqWYSMnLO-").status == "unknown"


@given(st.integers(min_value=0, max_value=(1 << 160) - 1))
def test_ksuid_render_roundtrip(value):
    std = load_schema("standard")
    text = std.render("ksuid", ksuid=value)
    assert Classifier(std, cache_size=0).classify(text).timestamp_ms == ((value >> 128) + 1_400_000_000) * 1000


# ---- Snowflake ------------------------------------------------------------------------------

def test_snowflake_twitter_layout(standard):
    value = ((1_700_000_000_000 - 1_288_834_974_657) << 22) | (37 << 12) | 5
    info = standard.classify(str(value))
    assert info.format == "snowflake"
    assert (info.timestamp_ms, info.parts["node"], info.parts["sequence"]) == (1_700_000_000_000, 37, 5)
    assert standard.schema.render("snowflake", snowflake={"timestamp_ms": 1_700_000_000_000, "node": 37,
                                                          "sequence": 5}) == str(value)


def test_snowflake_short_numbers_are_not_snowflakes(standard):
    assert standard.classify("12345").status == "unknown"
    assert standard.classify("0175928847299117063").status == "unknown"  # leading zero


def test_snowflake_custom_epoch_and_layout(tmp_path):
    # Discord's documented example: 175928847299117063 -> 2016-04-30T11:18:25.796Z,
    # worker 1, process 0 (node = 1<<5 | 0), increment 7.
    clf = single_format_schema(tmp_path, "{id:snowflake}", id={"epoch": 1_420_070_400_000, "timestamp_bits": 42})
    info = clf.classify("175928847299117063")
    assert (info.timestamp_ms, info.parts["node"], info.parts["sequence"]) == (1462015105796, 32, 7)
    small = single_format_schema(tmp_path, "{id:snowflake(timestamp_bits=20,node_bits=2,sequence_bits=2)}",
                                 name="small")
    assert small.classify(str((1 << 24) - 1)).format == "small"
    assert small.classify(str(1 << 24)).status == "unknown"  # wider than the layout


def test_direct_parse_functions():
    from id_monitor.schema.builtin import parse_ulid, parse_uuid

    assert parse_uuid("017F22E2-79B0-7CC3-98C4-DC0C0C07398F") == (
        "017f22e2-79b0-7cc3-98c4-dc0c0c07398f", 7, TS_2022_02_22_19_22_22)
    assert parse_uuid("00000000-0000-0000-0000-000000000000") == ("00000000-0000-0000-0000-000000000000", 0, None)
    assert parse_uuid("017f22e2-79b0-7cc3-c8c4-dc0c0c07398f") is None
    assert parse_uuid(None) is None  # type: ignore[arg-type]
    assert parse_ulid("01ARZ3NDEKTSV4RRFFQ8KHJZ4X") == 1469922850259
    assert parse_ulid("81ARZ3NDEKTSV4RRFFQ8KHJZ4X") is None
    assert parse_typeid("user_") is None
