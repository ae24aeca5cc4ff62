"""Schema language: loading, includes, validation errors (file, format, problem), the CLI's
handling of bad schemas, and the templates' compile-time guarantees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from id_monitor.classify import Classifier
from id_monitor.schema import SchemaError, load_schema
from id_monitor.schema.template import TemplateError, parse_template

BAD = Path(__file__).parent / "data" / "schemas"


@pytest.mark.parametrize(
    ("fixture", "format_name", "problem"),
    [
        ("bad_yaml.yaml", None, "invalid YAML at line"),
        ("bad_status.yaml", "order", "status must be one of target, legacy, got 'current'"),
        ("unknown_type.yaml", "order", "unknown type 'number'"),
        ("missing_id_type.yaml", "order", "id_type must be"),
        ("id_type_segment_missing.yaml", "order", "segment 'kind' is missing"),
        ("duplicate.yaml", "order", "duplicate format name"),
        ("unknown_key.yaml", "order", "unknown key(s) ['priority']"),
        ("two_words.yaml", "pair", "at most one word"),
        ("adjacent_variable.yaml", "glued", "need a literal between them"),
        ("unbalanced.yaml", "order", "unclosed '['"),
        ("bad_hex.yaml", "order", "1 <= A <= B"),
        ("include_cycle_a.yaml", None, "include cycle"),
        ("include_missing.yaml", None, "included file 'does_not_exist.yaml' not found"),
        ("not_mapping.yaml", None, "must be a mapping"),
        ("bad_option.yaml", "flake", "bad snowflake options"),
        ("unused_segment_option.yaml", "order", "'owner' is not used"),
        ("two_owners.yaml", "pair", "at most one owner segment"),
    ],
)
def test_invalid_schema_names_file_format_and_problem(fixture, format_name, problem):
    with pytest.raises(SchemaError) as caught:
        load_schema(str(BAD / fixture))
    err = caught.value
    message = str(err)
    assert problem in message
    assert Path(err.file).name in message and Path(err.file).name.endswith(".yaml")
    assert err.format == format_name
    if format_name:
        assert f"format {format_name!r}" in message
    assert "\n" not in message


def test_every_fixture_is_covered():
    covered = {p.name for p in BAD.glob("*.yaml")} - {"include_cycle_b.yaml"}
    tested = {c[0] for c in test_invalid_schema_names_file_format_and_problem.pytestmark[0].args[1]}
    assert covered == tested


def test_missing_file_and_unknown_builtin():
    with pytest.raises(SchemaError, match="file not found"):
        load_schema("/nonexistent/schema.yaml")
    with pytest.raises(SchemaError, match="no builtin schema 'netraa'"):
        load_schema("netraa")
    with pytest.raises(SchemaError, match="not a usable path"):
        load_schema("bad\x00name.yaml")
    with pytest.raises(SchemaError, match="is a directory"):
        load_schema(str(BAD))


def write(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_includes_builtins_and_relative_files(tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "orders.yaml", {"name": "orders", "formats": [
        {"name": "order", "status": "target", "id_type": "order", "template": "ord_{ts}_{counter}"}]})
    main = write(tmp_path / "main.yaml", {
        "name": "shop", "include": ["standard", "sub/orders.yaml"],
        "formats": [{"name": "old_order", "status": "legacy", "id_type": "order", "template": "o{counter}"}]})
    schema = load_schema(str(main))
    assert schema.name == "shop"
    assert schema.format_names() == ["uuid", "typeid", "ulid", "ksuid", "snowflake", "order", "old_order"]
    clf = Classifier(schema)
    assert clf.classify("ord_1757373103822_4").format == "order"
    assert clf.classify("o17").status == "legacy"
    assert clf.classify("017f22e2-79b0-7cc3-98c4-dc0c0c07398f").format == "uuid"


def test_nested_include_paths_are_relative_to_the_including_file(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    write(tmp_path / "a" / "b" / "leaf.yaml", {"formats": [
        {"name": "leaf", "status": "target", "id_type": "leaf", "template": "leaf_{counter}"}]})
    write(tmp_path / "a" / "mid.yaml", {"include": ["b/leaf.yaml"]})
    top = write(tmp_path / "top.yaml", {"include": ["a/mid.yaml"], "formats": []})
    assert load_schema(str(top)).format_names() == ["leaf"]


def test_duplicate_across_include_names_both_files(tmp_path):
    write(tmp_path / "one.yaml", {"formats": [{"name": "uuid", "status": "legacy", "id_type": "u",
                                               "template": "u_{counter}"}]})
    top = write(tmp_path / "top.yaml", {"include": ["standard", "one.yaml"]})
    with pytest.raises(SchemaError) as caught:
        load_schema(str(top))
    assert "one.yaml" in str(caught.value) and "standard.yaml" in str(caught.value)


def test_owner_width_option(tmp_path):
    path = write(tmp_path / "w.yaml", {"owner_width": 4, "formats": [
        {"name": "conn", "status": "target", "id_type": "conn", "template": "c_{x:word}_{owner}_{counter}"}]})
    clf = Classifier(load_schema(str(path)))
    info = clf.classify("c_chat_abcd_7")
    assert (info.owner, info.parts["x"]) == ("abcd", "chat")
    assert clf.classify("c_chat_abcde_7").status == "unknown"  # 5-char owner exceeds the width
    assert clf.classify("c_chat_ab_7").owner == "ab"
    assert load_schema(str(path)).render("conn", x="a", owner="longuser", counter=1) == "c_a_long_1"


def test_owner_chars_option(tmp_path):
    path = write(tmp_path / "c.yaml", {"formats": [
        {"name": "k", "status": "target", "id_type": "k", "template": "k_{owner}_{counter}",
         "segments": {"owner": {"chars": "0-9", "width": 6, "min_width": 6}}}]})
    clf = Classifier(load_schema(str(path)))
    assert clf.classify("k_123456_1").owner == "123456"
    assert clf.classify("k_12345a_1").status == "unknown"
    assert clf.classify("k_12345_1").status == "unknown"


def test_id_type_from_segment_and_status(tmp_path):
    path = write(tmp_path / "t.yaml", {"formats": [
        {"name": "thing", "status": "legacy", "id_type": "{kind}", "template": "{kind:enum(cat|dog)}-{counter}"}]})
    info = Classifier(load_schema(str(path))).classify("dog-12")
    assert (info.status, info.format, info.id_type, info.counter) == ("legacy", "thing", "dog", 12)


def test_seconds_timestamp_and_format_api(tmp_path):
    path = write(tmp_path / "s.yaml", {"formats": [
        {"name": "job", "status": "target", "id_type": "job", "template": "job-{ts:ts_s}-{owner}"}]})
    schema = load_schema(str(path))
    assert Classifier(schema).classify("job-1757373103-alice").timestamp_ms == 1757373103000
    fmt = schema.format("job")
    assert (fmt.name, fmt.status, fmt.owner_bearing) == ("job", "target", True)
    with pytest.raises(KeyError):
        schema.format("nope")


def test_digits_segment_is_a_part_not_a_timestamp_or_counter(tmp_path):
    path = write(tmp_path / "d.yaml", {"formats": [
        {"name": "run", "status": "target", "id_type": "run", "template": "run_{op}_{clock:digits(1-5)}_{hex}"}]})
    clf = Classifier(load_schema(str(path)))
    info = clf.classify("run_chat_73103_0badf00d")
    assert (info.format, info.counter, info.timestamp_ms, dict(info.parts)) == (
        "run", None, None, {"op": "chat", "clock": "73103", "hex": "0badf00d"})
    assert clf.classify("run_chat_731031_0badf00d").status == "unknown"  # six digits
    assert clf.classify("run_chat__0badf00d").status == "unknown"


def test_token_chars_option(tmp_path):
    path = write(tmp_path / "t.yaml", {"formats": [
        {"name": "wrap", "status": "target", "id_type": "wrap",
         "template": "wrap_{inner:token(1-40,chars=A-Za-z0-9_.@-)}_{hex}"}]})
    clf = Classifier(load_schema(str(path)))
    assert clf.classify("wrap_thread_alice@ex.co_1_ab_0badf00d").parts["inner"] == "thread_alice@ex.co_1_ab"
    assert clf.classify("wrap_.x_0badf00d").status == "unknown"  # must start with a letter or digit
    assert clf.classify("wrap_a:b_0badf00d").status == "unknown"  # ':' not in chars
    default = Classifier(load_schema(str(write(tmp_path / "u.yaml", {"formats": [
        {"name": "wrap", "status": "target", "id_type": "wrap", "template": "wrap_{inner:token}"}]}))))
    assert default.classify("wrap_a@b").status == "unknown"  # default chars: letters, digits, _ and -


def test_builtin_schemas_load_and_are_cached():
    assert load_schema("netra") is load_schema("netra")
    assert load_schema().name == "netra"
    assert load_schema("standard").format_names() == ["uuid", "typeid", "ulid", "ksuid", "snowflake"]


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("", "non-empty"),
        ("a_{x}_{y}", "at most one word"),
        ("{Bad}", "bad segment name"),
        ("a}", "unmatched '}'"),
        ("a]", "unmatched ']'"),
        ("{a", "unclosed '{'"),
        ("[[a]]_{x:enum()}", "enum needs choices"),
        ("{n:counter(5)}", "takes no options"),
        ("{h:hex(3-5,even)}", "even bounds"),
        ("[a_][b_][c_][d_][e_]{counter}", "at most 4 optional groups"),
        ("{u:uuid(version=9)}", "within 1-8"),
        ("{t:typeid(prefix=Bad)}", "not a valid TypeID prefix"),
        ("{o:owner(chars=a-z!)}", "owner character spec"),
        ("{d:digits(1-20)}", "at most 19"),
        ("{d:digits(1-5,even)}", "takes a length only"),
        ("{t:token(1-8,chars=a-z!)}", "token character spec"),
        ("{t:token(1-8,case=any)}", "chars=... only"),
    ],
)
def test_template_errors(template, problem):
    with pytest.raises(TemplateError, match=problem if "(" not in problem else None) as caught:
        parse_template(template)
    assert problem in str(caught.value)


def test_template_escapes_and_variants():
    variants = parse_template("[[{{x}}]]_{counter}[_{h:hex(4)}]")
    assert len(variants) == 2
    assert variants[0][0].text == "[{x}]_"


# ---- CLI -------------------------------------------------------------------------------------

def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "id_monitor", *args], input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize("fixture", ["bad_status.yaml", "bad_yaml.yaml", "include_cycle_a.yaml"])
def test_cli_bad_schema_one_line_exit_2(fixture):
    result = run_cli("classify", "--schema", str(BAD / fixture), "x")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fixture in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_cli_unknown_schema_name():
    result = run_cli("classify", "--schema", "nope", "x")
    assert result.returncode == 2 and "no builtin schema 'nope'" in result.stderr


# ---- any schema document: loads or raises SchemaError, nothing else ------------------------

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 300), st.text(max_size=12),
                    st.sampled_from(["target", "legacy", "{x}", "word", "owner", "hex(8)", "enum(a|b)", "{counter}",
                                     "snowflake", "uuid(version=4)", "x_{a}_{counter}", "[{p}_]{q}_{hex}"]))
SEGMENT_OPTIONS = st.dictionaries(st.sampled_from(["type", "width", "chars", "epoch", "min_digits", "choices",
                                                   "version", "case", "prefix", "min_width"]),
                                  SCALARS | st.lists(SCALARS, max_size=3), max_size=3)
FORMAT = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b", "Bad", 3, "x_y"]), "status": SCALARS, "id_type": SCALARS},
    optional={"template": SCALARS, "templates": st.lists(SCALARS, max_size=3),
              "segments": st.dictionaries(st.sampled_from(["a", "x", "counter", "owner", "p"]), SEGMENT_OPTIONS,
                                          max_size=2) | SCALARS,
              "description": SCALARS})
DOC = st.fixed_dictionaries({}, optional={
    "name": SCALARS, "owner_width": SCALARS, "owner_chars": SCALARS,
    "include": st.lists(st.sampled_from(["standard", "netra", "nope.yaml", "", "../x"]), max_size=2) | SCALARS,
    "formats": st.lists(FORMAT | SCALARS, max_size=3) | SCALARS})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=DOC)
def test_any_document_loads_or_raises_schema_error(tmp_path, doc):
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        schema = load_schema(str(path))
    except SchemaError as exc:
        assert "fuzz.yaml" in str(exc) or "netra.yaml" in str(exc) or "standard.yaml" in str(exc)
        return
    Classifier(schema).classify("x_1_abcd1234")  # whatever loaded also compiles and classifies
