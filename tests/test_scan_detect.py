"""Detection of uuid4 generation sites in one source: import forms, patterns, scopes, suppressions."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import id_monitor.scan.detect as detect_module
from id_monitor.scan.detect import Site, detect
from id_monitor.scan.targets import TargetError, Targets

UUID4 = Targets.of()


def sites(source: str, targets: Targets = UUID4) -> list[Site]:
    return detect(textwrap.dedent(source).encode(), targets)


def brief(source: str, targets: Targets = UUID4) -> list[tuple[int, str]]:
    return [(s.line, s.pattern) for s in sites(source, targets)]


# -- import forms --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "import uuid\nx = uuid.uuid4()\n",
        "import uuid as u\nx = u.uuid4()\n",
        "from uuid import uuid4\nx = uuid4()\n",
        "from uuid import uuid4 as gen\nx = gen()\n",
        "from uuid import (\n    uuid1,\n    uuid4 as gen,\n)\nx = gen()\n",
        "from uuid import *\nx = uuid4()\n",
        "def f():\n    import uuid\n    return uuid.uuid4()\n",
    ],
    ids=["import", "import-as", "from-import", "from-import-as", "parenthesised-as", "star", "local-import"],
)
def test_every_import_form_is_a_site(source: str) -> None:
    found = sites(source)
    assert len(found) == 1
    assert found[0].target == "uuid.uuid4"
    assert found[0].line == source.count("\n")


def test_names_that_are_not_the_import_are_not_sites() -> None:
    assert sites("def uuid4():\n    return 1\nx = uuid4()\n") == []  # a local function, no import
    assert sites("import os as uuid\nx = uuid.uuid4()\n") == []  # `uuid` is another module
    assert sites("from mylib import uuid4\nx = uuid4()\n") == []  # another module's uuid4
    assert sites("import uuid\nx = uuid.uuid1()\ny = uuid.UUID(int=1)\n") == []
    assert sites("x = uuid4()\n") == []  # never imported: undefined, not ours to guess


def test_comments_docstrings_and_strings_never_count() -> None:
    source = '''
        """Module docstring: uuid.uuid4() and uuid4()."""
        import uuid  # we used to call uuid.uuid4() here
        TEMPLATE = "uuid.uuid4()"
        def f():
            """uuid.uuid4()"""
            return "str(uuid.uuid4())"
    '''
    assert sites(source) == []


# -- patterns ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "pattern", "truncation"),
    [
        ("uuid.uuid4()", "bare", None),
        ("str(uuid.uuid4())", "str", None),
        ("str(uuid.uuid4())[:12]", "str[:N]", 12),
        ("uuid.uuid4().hex", "hex", None),
        ("uuid.uuid4().hex[:8]", "hex[:N]", 8),
        ("uuid.uuid4().hex[0:16]", "hex[:N]", 16),
        ("uuid.uuid4().hex[-8:]", "hex", None),  # a tail, not a truncation to N
        ("uuid.uuid4().int", "int", None),
        ("uuid.uuid4().bytes", "attr", None),
        ('f"req_{uuid.uuid4()}"', "fstring", None),
        ('f"req_{uuid.uuid4().hex[:8]}"', "hex[:N]", 8),  # the innermost shape wins
        ('"%s" % uuid.uuid4()', "format", None),
        ('"%s-%s" % (a, uuid.uuid4())', "format", None),
        ('"{}".format(uuid.uuid4())', "format", None),
        ("uuid.uuid4", "reference", None),
    ],
)
def test_pattern_labels(expression: str, pattern: str, truncation: int | None) -> None:
    (site,) = sites(f"import uuid\nvalue = {expression}\n")
    assert (site.pattern, site.truncation) == (pattern, truncation)
    assert site.assigned_to == "value"


def test_reference_as_default_factory_is_a_site_assigned_to_the_field() -> None:
    source = """
        import uuid
        from pydantic import BaseModel, Field
        class Event(BaseModel):
            id: str = Field(default_factory=lambda: str(uuid.uuid4()))
            key: uuid.UUID = Field(default_factory=uuid.uuid4)
    """
    found = sites(source)
    assert [(s.pattern, s.function, s.assigned_to) for s in found] == [
        ("str", "Event", "id"),
        ("reference", "Event", "key"),
    ]


def test_assigning_to_the_attribute_is_not_a_site() -> None:
    assert sites("import uuid\nuuid.uuid4 = lambda: 1\n") == []


# -- context: enclosing function, assigned name, positions ---------------------------------------


def test_enclosing_function_and_assigned_target() -> None:
    source = """
        import uuid
        class Store:
            def save(self, rows):
                self.request_id = uuid.uuid4().hex
                rows.append({"id": str(uuid.uuid4()), "n": 1})
                return make(user_id=uuid.uuid4(), other=1)
            class Inner:
                async def run(self):
                    if (token := uuid.uuid4().hex[:6]):
                        return token
        def module_level():
            value = cached or uuid.uuid4()
            return value
        top = uuid.uuid4()
    """
    found = sites(source)
    assert [(s.function, s.assigned_to) for s in found] == [
        ("Store.save", "self.request_id"),
        ("Store.save", "id"),
        ("Store.save", "user_id"),
        ("Store.Inner.run", "token"),
        ("module_level", "value"),
        (None, "top"),
    ]


def test_positions_are_one_based_characters() -> None:
    (site,) = sites("import uuid\nname = 'héllo' + str(uuid.uuid4())\n")
    assert (site.line, site.column) == (2, 22)  # the call, in characters, after a non-ASCII é
    assert (site.end_line, site.end_column) == (2, 34)  # exclusive end, as SARIF and ruff count
    assert site.code == "name = 'héllo' + str(uuid.uuid4())"


# -- scopes and shadowing ------------------------------------------------------------------------


def test_shadowing_by_parameter_local_function_and_variable() -> None:
    source = """
        from uuid import uuid4
        def by_parameter(uuid4):
            return uuid4()
        def by_local_function():
            def uuid4():
                return "x"
            return uuid4()
        def by_assignment():
            uuid4 = make_generator()
            return uuid4()
        def by_lambda_parameter():
            return list(map(lambda uuid4: uuid4(), []))
        def by_loop():
            for uuid4 in generators:
                uuid4()
        def by_comprehension():
            return [uuid4() for uuid4 in generators]
        def by_except():
            try:
                pass
            except Exception as uuid4:
                uuid4()
        def not_shadowed():
            return uuid4()
    """
    assert brief(source) == [(25, "bare")]


def test_module_level_rebinding_is_order_sensitive() -> None:
    source = """
        from uuid import uuid4
        first = uuid4()
        def uuid4():
            return "local"
        second = uuid4()
        def later():
            return uuid4()
    """
    # Only the call before the redefinition reaches uuid.uuid4; a function called later sees the
    # final module binding, the local def.
    assert brief(source) == [(3, "bare")]


def test_class_scope_is_not_visible_from_methods() -> None:
    source = """
        from uuid import uuid4
        class Model:
            uuid4 = staticmethod(lambda: "not uuid")
            a = uuid4()
            def method(self):
                return uuid4()
    """
    # In the class body `uuid4` is the class attribute; inside the method it is the module import.
    assert brief(source) == [(7, "bare")]


def test_global_declaration_reaches_module_binding() -> None:
    source = """
        uuid4 = None
        def setup():
            global uuid4
            from uuid import uuid4
        def use():
            return uuid4()
    """
    assert brief(source) == [(7, "bare")]


def test_decorator_and_default_arguments_are_evaluated_outside() -> None:
    source = """
        import uuid
        @register(key=uuid.uuid4().hex)
        def handler(request_id=uuid.uuid4(), uuid=None):
            return uuid
    """
    assert brief(source) == [(3, "hex"), (4, "bare")]


# -- suppressions --------------------------------------------------------------------------------


def test_inline_suppression_marks_but_keeps_the_site() -> None:
    source = """
        import uuid
        a = uuid.uuid4()  # id-monitor: ignore[uuid4]
        b = uuid.uuid4()  # id-monitor: ignore[token_hex]
        c = uuid.uuid4()  # id-monitor: ignore
        d = "# id-monitor: ignore[uuid4]" + str(uuid.uuid4())
        e = make(
            id=uuid.uuid4(),  # id-monitor: ignore[uuid.uuid4] -- fixture
        )
        f = make(  # id-monitor: ignore[uuid4]
            id=uuid.uuid4(),
        )
    """
    assert [(s.line, s.suppressed) for s in sites(source)] == [
        (3, True),
        (4, False),  # a code for another target
        (5, True),  # bare ignore silences every target
        (6, False),  # the marker is inside a string, not a comment
        (8, True),
        (11, True),  # on the first line of the statement
    ]


# -- configurable targets ------------------------------------------------------------------------


def test_extra_targets_and_project_helpers() -> None:
    targets = Targets.of(extra=["secrets.token_hex", "app.ids.legacy_id"])
    source = """
        import secrets
        import app.ids
        from app.ids import legacy_id as old
        from app import ids
        a = secrets.token_hex(8)
        b = app.ids.legacy_id()
        c = old()
        d = ids.legacy_id()
        e = secrets.token_urlsafe()
    """
    assert [(s.line, s.target) for s in sites(source, targets)] == [
        (6, "secrets.token_hex"),
        (7, "app.ids.legacy_id"),
        (8, "app.ids.legacy_id"),
        (9, "app.ids.legacy_id"),
    ]


def test_targets_can_replace_the_default() -> None:
    only_hex = Targets.of(["secrets.token_hex"])
    assert sites("import uuid\nimport secrets\na = uuid.uuid4()\nb = secrets.token_hex()\n", only_hex)[0].line == 4


def test_bad_targets_are_rejected() -> None:
    with pytest.raises(TargetError):
        Targets.of(["uuid4"])
    with pytest.raises(TargetError):
        Targets.of([])


def test_prefilter_skips_files_without_the_name() -> None:
    assert not UUID4.may_contain(b"import uuid\nx = uuid.uuid1()\n")
    assert UUID4.may_contain(b"from uuid import uuid4 as g\n")
    # Nothing is parsed when the prefilter says no, so even broken code yields no error here.
    assert detect(b"def (((", UUID4) == []


def test_syntax_errors_propagate_for_the_caller_to_report() -> None:
    with pytest.raises(SyntaxError):
        detect(b'import uuid\nprint "python 2", uuid.uuid4()\n', UUID4)


def test_pep263_encoding_is_honoured() -> None:
    source = "# -*- coding: latin-1 -*-\nimport uuid\nname = 'été'\nx = uuid.uuid4()\n".encode("latin-1")
    (site,) = detect(source, UUID4)
    assert site.line == 4


# -- block parsing must never change the answer ---------------------------------------------------

_BLOCKS = [
    "def plain_{i}(x):\n    return x + {i}\n",
    "def gen_{i}():\n    return str(uuid.uuid4())\n",
    "def shadow_{i}(uuid4):\n    return uuid4()\n",
    "def from_{i}():\n    return uuid4().hex[:8]\n",
    "class Model{i}:\n    id = field(default_factory=uuid.uuid4)\n\n    def method(self):\n        return uuid4()\n",
    '@decorator(\n    key="k",\n)\ndef decorated_{i}():\n    return uuid.uuid4().int\n',
    "@first\n@second\ndef stacked_{i}():\n    return uuid4()\n",
    'TEXT_{i} = """\ndef not_code():\n    return uuid.uuid4()\n"""\n',
    "def padding_{i}():\n" + "    value = [n * 2 for n in range(10)]  # padding to make the file large\n" * 40,
    "uuid4 = make_other_{i}()\n",
    "from uuid import uuid4\n",
    "x_{i} = uuid4()  # id-monitor: ignore[uuid4]\n",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(_BLOCKS) - 1), min_size=1, max_size=40))
def test_block_parse_finds_exactly_what_a_full_parse_finds(choices: list[int]) -> None:
    source = "import uuid\nfrom uuid import uuid4\n\n" + "\n".join(_BLOCKS[c].format(i=i) for i, c in enumerate(choices))
    data = source.encode()
    blocked = detect(data, UUID4)
    saved = detect_module.BLOCK_PARSE_ABOVE
    detect_module.BLOCK_PARSE_ABOVE = 1 << 40
    try:
        full = detect(data, UUID4)
    finally:
        detect_module.BLOCK_PARSE_ABOVE = saved
    assert blocked == full
    # Windows line endings switch off both line-based shortcuts (pruning and blocks): same answer.
    crlf = detect(data.replace(b"\n", b"\r\n"), UUID4)
    assert [(s.line, s.column, s.pattern, s.function, s.suppressed) for s in crlf] == [
        (s.line, s.column, s.pattern, s.function, s.suppressed) for s in full
    ]
