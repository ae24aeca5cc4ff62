"""The bounded YAML reader: same result as yaml.safe_load within the limits, a YamlError with a
position past them, whatever the document."""

from __future__ import annotations

import time

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from id_monitor.config.safe_yaml import YamlError, YamlLimits, load, read_text, shown

# The reference: PyYAML's safe loader on the same parser (libyaml when PyYAML has it).
REFERENCE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str):
    return yaml.load(text, Loader=REFERENCE)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=False),
    st.text(max_size=40),
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None)
@given(documents, st.sampled_from([None, True, False]))
def test_documents_within_the_limits_load_as_safe_load(value, flow):
    text = yaml.safe_dump(value, default_flow_style=flow, allow_unicode=True)
    assert load(text) == safe_load(text)


@settings(max_examples=60, deadline=None)
@given(documents)
def test_shared_values_become_anchors_and_load_the_same(value):
    text = yaml.dump({"first": value, "again": value, "list": [value, value]}, Dumper=yaml.SafeDumper)
    assert load(text) == safe_load(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_loads_or_is_a_yaml_error(text):
    try:
        expected = safe_load(text)
    except (yaml.YAMLError, ValueError, OverflowError):
        with pytest.raises(YamlError):
            load(text)
    else:
        try:
            assert repr(load(text)) == repr(expected)  # repr: NaN equals NaN
        except YamlError as exc:
            assert not exc.syntax  # only a limit may refuse what safe_load reads


def bomb(levels: int, width: int) -> str:
    lines = ["a0: &a0 x"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_stops_at_the_node_limit_with_its_position():
    started = time.monotonic()
    with pytest.raises(YamlError, match="aliases expand to more than 50,000 nodes") as caught:
        load(bomb(9, 9))
    assert caught.value.line is not None and caught.value.line > 1
    assert not caught.value.syntax
    assert time.monotonic() - started < 5  # generous: it stops after composing ~100 nodes


def test_the_node_limit_counts_expanded_aliases_exactly():
    text = bomb(2, 3)  # root + 3 keys + a0 (1) + a1 [3 x a0] (4) + a2 [3 x a1] (13) = 22 nodes
    assert load(text, YamlLimits(max_nodes=22))["a2"] == [["x"] * 3] * 3
    with pytest.raises(YamlError, match="more than 21 nodes"):
        load(text, YamlLimits(max_nodes=21))


def test_a_flat_list_over_the_node_limit_is_refused():
    with pytest.raises(YamlError, match="more than 100 nodes"):
        load("[" + "x, " * 200 + "]", YamlLimits(max_nodes=100))


def test_depth_limit_is_exact_and_counts_levels_reached_through_aliases():
    limits = YamlLimits(max_depth=5)
    assert load("[[[[x]]]]", limits) == [[[["x"]]]]
    assert load("a: [[[x]]]", limits) == {"a": [[["x"]]]}  # mapping, three lists, scalar
    with pytest.raises(YamlError, match="nesting deeper than 5 levels"):
        load("[[[[[x]]]]]", limits)
    with pytest.raises(YamlError, match="once aliases are expanded"):
        load("a: &a [[x]]\nb: [[*a]]\n", limits)  # b's value is five levels below the root
    with pytest.raises(YamlError, match="nesting deeper"):
        load("- " * 10 + "x", limits)  # block style


@pytest.mark.parametrize("depth", [65, 999, 5_000, 500_000])
def test_deep_flow_nesting_is_refused_quickly(depth):
    started = time.monotonic()
    with pytest.raises(YamlError, match="nesting"):
        load("a: " + "[" * depth + "]" * depth)
    assert time.monotonic() - started < 5


def test_scalar_and_total_character_limits():
    limits = YamlLimits(max_scalar_chars=10, max_total_chars=25)
    assert load("a: 0123456789", limits) == {"a": "0123456789"}
    with pytest.raises(YamlError, match="scalar longer than 10"):
        load("a: 0123456789x", limits)
    with pytest.raises(YamlError, match="more than 25 characters"):
        load("a: &s 0123456789\nb: [*s, *s]\n", limits)


def test_integer_length_limit_and_values_that_cannot_be_built():
    assert load("a: " + "9" * 64) == {"a": int("9" * 64)}
    with pytest.raises(YamlError, match="integer longer than 64"):
        load("a: " + "9" * 65)
    with pytest.raises(YamlError, match="integer longer than 64"):
        load("a: 0b" + "1" * 20_000)  # would print as 6,000 decimal digits
    with pytest.raises(YamlError, match="day is out of range") as caught:
        load("a: 1\nb: 2001-02-30\n")
    assert (caught.value.line, caught.value.column) == (2, 4)


def test_recursive_alias_is_refused():
    with pytest.raises(YamlError, match=r"recursive alias \*r"):
        load("a: &r [1, *r]")


def test_syntax_errors_are_marked_as_such_with_a_position():
    with pytest.raises(YamlError) as caught:
        load("a: [\n")
    assert caught.value.syntax and caught.value.line == 2
    with pytest.raises(YamlError) as caught:
        load("a: \x01")
    assert caught.value.syntax and "\n" not in str(caught.value)


def test_unsafe_tags_are_refused():
    with pytest.raises(YamlError, match="constructor"):
        load("a: !!python/object/apply:os.system ['true']")


def test_document_and_file_length_limits(tmp_path):
    with pytest.raises(YamlError, match="longer than 100 characters"):
        load("a: " + "b" * 100, YamlLimits(max_chars=100))
    with pytest.raises(YamlError, match="file is longer than"):
        read_text("/dev/zero", YamlLimits(max_chars=1 << 16))
    path = tmp_path / "ok.yaml"
    path.write_text("a: 1\n")
    assert read_text(path) == "a: 1\n"


def test_shown_is_short_without_walking_the_whole_value():
    huge = ["x"] * 10
    for _ in range(8):
        huge = [huge] * 10  # 10**9 values, shared
    assert len(shown(huge)) < 200
    assert len(shown("y" * 100_000)) < 80
