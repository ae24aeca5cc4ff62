"""Classifier behaviour (non-strings, limits, cache, hostile input) and the `classify` command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from id_monitor.classify import Classifier, Matcher
from id_monitor.cli import app
from id_monitor.model import IdInfo
from id_monitor.schema import load_schema

NETRA_ID = "ws_conn_test_use_1757367656601_1_a2f73ae7"


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier()


@pytest.mark.parametrize("value", [None, 42, 4.2, b"user_1_abcd1234", ["user_1_abcd1234"], {"id": 1}, object()])
def test_non_strings_are_unknown_not_a_string(clf, value):
    info = clf.classify(value)
    assert (info.status, info.reason, info.format) == ("unknown", "not_a_string", None)


def test_empty_and_no_match(clf):
    assert clf.classify("").reason == "empty"
    assert (clf.classify("hello world").status, clf.classify("hello world").reason) == ("unknown", "no_match")


def test_too_long_default_and_configurable():
    long_valid = "thread_" + "_".join(["op"] * 80) + "_1757373103822_1_abcd1234"
    assert len(long_valid) > 256
    assert Classifier().classify(long_valid).reason == "too_long"
    assert Classifier(max_length=len(long_valid)).classify(long_valid).reason != "too_long"
    assert Classifier(max_length=10).classify("user_1_abcd1234").reason == "too_long"
    assert Classifier(max_length=15).classify("user_1_abcd1234").format == "manager"


def test_str_subclass_is_classified_by_its_text(clf):
    class Tagged(str):
        pass

    assert clf.classify(Tagged(NETRA_ID)) == clf.classify(NETRA_ID)


def test_result_is_a_complete_idinfo(clf):
    info = clf.classify(NETRA_ID)
    assert type(info) is IdInfo
    assert info == IdInfo("target", "ws_conn", "ws_conn", "test_use", 1757367656601, 1, None, {"hex": "a2f73ae7"})
    with pytest.raises(AttributeError):
        info.status = "legacy"  # type: ignore[misc]
    with pytest.raises(TypeError):
        info.parts["hex"] = "x"  # type: ignore[index]
    assert info.as_dict()["owner"] == "test_use"


def test_schema_by_name_or_object():
    schema = load_schema("standard")
    assert Classifier(schema).schema is schema
    assert Classifier("standard").schema.name == "standard"
    assert Classifier().schema.name == "netra"


def test_cache_admits_on_second_sighting_and_stays_bounded():
    clf = Classifier(cache_size=10)
    first = clf.classify(NETRA_ID)
    assert clf.cached == 0  # seen once: not cached
    second = clf.classify(NETRA_ID)
    assert second == first and clf.cached == 1
    assert clf.classify(NETRA_ID) is second  # served from the cache
    for i in range(1000):
        clf.classify(f"user_{i}_abcd1234")
    assert clf.cached == 1  # one-off IDs never enter the cache
    for i in range(1000):
        clf.classify(f"user_{i % 50}_abcd1234")
    assert clf.cached <= 10
    assert clf.classify("user_999_abcd1234").counter == 999
    no_cache = Classifier(cache_size=0)
    no_cache.classify(NETRA_ID)
    assert no_cache.cached == 0


def test_bad_arguments():
    with pytest.raises(ValueError):
        Classifier(cache_size=-1)
    with pytest.raises(ValueError):
        Classifier(max_length=0)


ADVERSARIAL = [
    "thread_" + "a_" * 5000, "agent_" + "ab_cd-ef_" * 1100, "a_1757373103822_1_" * 550, "1" * 10_000,
    "_" * 10_000, "user_" * 2000, "tool_" + "a_abcd1234_" * 900, "0_" * 5000 + "abcd1234",
]


@pytest.mark.parametrize("value", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_input_without_length_limit(value):
    # Correctness only (speed is measured in bench/classify.py): no match, no error.
    for schema in ("netra", "standard"):
        info = Classifier(schema, max_length=20_000, cache_size=0).classify(value)
        assert (info.status, info.reason) == ("unknown", "no_match")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_random_text_never_raises(value):
    for clf in (Classifier("netra", cache_size=0), Classifier("standard", cache_size=0)):
        info = clf.classify(value)
        assert info.status in ("target", "legacy", "unknown")
        assert (info.format is None) == (info.status == "unknown")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdef0123456789_-", max_size=120))
def test_idlike_noise_never_raises(value):
    info = Classifier("netra", cache_size=0).classify(value)
    if info.status != "unknown":
        assert info.format in load_schema("netra").format_names()


# ---- CLI -------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_json_arguments():
    result = runner.invoke(app, ["classify", "--json", NETRA_ID, "87654321-8765-4321-cdef-876543210987", "nope"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == [NETRA_ID, "87654321-8765-4321-cdef-876543210987", "nope"]
    for row in rows:
        assert {"id", "status", "format", "id_type", "owner", "timestamp_ms", "counter", "reason", "parts"} <= set(row)
    assert rows[0] | {"parts": None} == {"id": NETRA_ID, "status": "target", "format": "ws_conn", "id_type": "ws_conn",
                                         "owner": "test_use", "timestamp_ms": 1757367656601, "counter": 1,
                                         "reason": None, "parts": None}
    assert (rows[1]["status"], rows[1]["format"]) == ("legacy", "uuid_shaped")
    assert (rows[2]["status"], rows[2]["reason"], rows[2]["format"]) == ("unknown", "no_match", None)


def test_cli_stdin_lines_with_schema_option():
    text = "017f22e2-79b0-7cc3-98c4-dc0c0c07398f\r\n01ARZ3NDEKTSV4RRFFQ8KHJZ4X\n\n"
    result = runner.invoke(app, ["classify", "--schema", "standard", "--json"], input=text)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["id"], r["format"]) for r in rows] == [
        ("017f22e2-79b0-7cc3-98c4-dc0c0c07398f", "uuid"), ("01ARZ3NDEKTSV4RRFFQ8KHJZ4X", "ulid"), ("", None)]
    assert rows[0]["timestamp_ms"] == 1645557742000


def test_cli_undecodable_input_is_classified_not_fatal():
    result = runner.invoke(app, ["classify", "--json"], input=b"abc\n\xff\xfe\nuser_1_abcd1234\n")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["unknown", "unknown", "target"]
    assert rows[1]["id"] == "\ufffd\ufffd"
    surrogate = runner.invoke(app, ["classify", "--json", "bad\udcffid"])
    assert surrogate.exit_code == 0 and json.loads(surrogate.stdout)["reason"] == "no_match"
    table = runner.invoke(app, ["classify", "bad\udcffid"])
    assert table.exit_code == 0 and "\\udcff" in table.stdout


def test_cli_table_is_aligned_and_safe():
    ids = [NETRA_ID, "user_1_abcd1234", "[bold]markup[/bold]"]
    result = runner.invoke(app, ["classify", *ids])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "status", "format", "id_type", "owner", "timestamp", "counter", "parts"]
    status_col = lines[0].index("status")
    assert [line[status_col:].split()[0] for line in lines[1:]] == ["target", "target", "unknown"]
    assert "2025-09-08T21:40:56.601Z" in lines[1]
    assert "[bold]markup[/bold]" in lines[3]


def test_cli_help_is_useful():
    top = subprocess.run([sys.executable, "-m", "id_monitor", "--help"], capture_output=True, text=True, timeout=60,
                         check=False)
    assert top.returncode == 0 and "classify" in top.stdout
    sub = runner.invoke(app, ["classify", "--help"])
    assert sub.exit_code == 0
    for needle in ("--schema", "--json", "stdin", "unredacted", "--max-length"):
        assert needle in sub.stdout


def test_matcher_find_names_the_winning_variant():
    matcher = Matcher(load_schema("netra"))
    variant, match = matcher.find("tool_web_search_a13ac404_1757929406592_5_0badf00d")
    assert variant.format.name == "tool" and "agent8" in variant.names
    assert match.group(0).startswith("tool_")
    variant, _ = matcher.find("tool_web_search_1757929406592_5_0badf00d")
    assert "agent8" not in variant.names
    assert matcher.find("nothing") is None
    assert matcher.find("x" * 5000) is None


def test_a_failing_matcher_gives_unknown_error_not_an_exception():
    clf = Classifier(cache_size=0)

    def broken(_text: str):
        raise RuntimeError("decoder bug")

    clf._match = broken  # a defect inside matching must not take the caller down
    info = clf.classify("user_1_abcd1234")
    assert (info.status, info.reason) == ("unknown", "error")
