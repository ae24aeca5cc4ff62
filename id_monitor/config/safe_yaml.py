"""Reading YAML that may be hostile, in bounded time and memory: the one place config and schema
files (and YAML-valued environment overrides) are parsed.

PyYAML's safe loader refuses to build arbitrary objects, but it still lets a few hundred bytes
cost gigabytes: aliases are shared when loaded, yet anything that walks the result (validation,
an error message's `repr()`) expands them, so nine levels of nine aliases are 387 million
values. Deep nesting ends in a RecursionError, a 5,000-digit integer in a ValueError, an
impossible date in another. Here the composer measures every node as it is built: how many
nodes, scalar characters and levels it stands for once its aliases are expanded, and stops
with a `YamlError` (line, column, problem) as soon as a `YamlLimits` bound is passed; a
construction failure becomes a `YamlError` at the value that caused it. Documents within the
limits load exactly as `yaml.safe_load` loads them.
"""

from __future__ import annotations

import os
import reprlib
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner


@dataclass(frozen=True, slots=True)
class YamlLimits:
    """Bounds on one document. The defaults are far above any real config or schema file."""

    max_chars: int = 1 << 20  # the document's text
    max_depth: int = 64  # nesting levels, counted after expanding aliases
    max_nodes: int = 50_000  # nodes after expanding aliases (the netra schema has ~600)
    max_scalar_chars: int = 1 << 16  # one scalar
    max_total_chars: int = 1 << 22  # all scalars after expanding aliases
    max_int_chars: int = 64  # an integer written with more is not a setting


DEFAULT_LIMITS = YamlLimits()


class YamlError(Exception):
    """A document that cannot be used: `problem` is one line; `line`/`column` are 1-based when known.

    `syntax` tells a malformed document from one that is well-formed but over a limit (or holds a
    value that cannot be built, such as `2001-02-30`).
    """

    def __init__(self, problem: str, *, line: int | None = None, column: int | None = None,
                 syntax: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.column = column
        self.syntax = syntax

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line is not None else ""
        return f"{where}{self.problem}"


@dataclass(frozen=True, slots=True)
class _Size:
    nodes: int
    chars: int
    height: int


if yaml.__with_libyaml__:
    # libyaml scans and parses (about 50 times faster than PyYAML's own scanner); composing stays
    # in Python, where it can be measured.
    from yaml._yaml import CParser

    class _Parser(CParser):
        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
else:  # pragma: no cover - PyYAML built without libyaml
    class _Parser(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, text: str) -> None:
            Reader.__init__(self, text)
            Scanner.__init__(self)
            Parser.__init__(self)


class _BoundedLoader(Composer, _Parser, SafeConstructor, Resolver):
    """The safe loader with a composer that keeps the expanded size of every node and stops at
    the limits (its methods come before the parser's own composer in the method order)."""

    def __init__(self, text: str, limits: YamlLimits) -> None:
        _Parser.__init__(self, text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.limits = limits
        self.depth = 0
        self.composed = 0  # nodes so far, aliases counted expanded: fails a huge flat list early
        self.sizes: dict[int, _Size] = {}  # id(node) -> size; the nodes live as long as the loader

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = super().compose_node(parent, index)
            size = self.sizes.get(id(node))
            if size is None:  # the alias points into the node being composed
                raise _limit(f"recursive alias *{event.anchor}", event.start_mark)
            self._check(size, self.depth, event.start_mark)
            self._count(size.nodes, event.start_mark)
            return node
        event = self.peek_event()
        self._count(1, event.start_mark)
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise _limit(f"nesting deeper than {self.limits.max_depth} levels", event.start_mark)
        node = super().compose_node(parent, index)
        self.depth -= 1
        size = self._size_of(node)
        self._check(size, self.depth, event.start_mark)
        self.sizes[id(node)] = size
        return node

    def fetch_flow_collection_start(self, TokenClass: type) -> None:
        # Stop in the scanner: it looks ahead up to 1,024 characters for a possible key, and
        # each open `[` it holds makes every later step slower.
        if self.flow_level >= self.limits.max_depth:
            raise _limit(f"nesting deeper than {self.limits.max_depth} levels", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def compose_scalar_node(self, anchor: str | None) -> Node:
        event = self.peek_event()
        if len(event.value) > self.limits.max_scalar_chars:
            raise _limit(f"a scalar longer than {self.limits.max_scalar_chars:,} characters",
                         event.start_mark)
        return super().compose_scalar_node(anchor)

    def _count(self, nodes: int, mark: Mark) -> None:
        self.composed += nodes
        if self.composed > self.limits.max_nodes:
            raise _limit(f"aliases expand to more than {self.limits.max_nodes:,} nodes", mark)

    def _size_of(self, node: Node) -> _Size:
        if isinstance(node, ScalarNode):
            return _Size(1, len(node.value), 1)
        if isinstance(node, SequenceNode):
            children = [self.sizes[id(child)] for child in node.value]
        else:
            assert isinstance(node, MappingNode)
            children = [self.sizes[id(part)] for pair in node.value for part in pair]
        return _Size(1 + sum(c.nodes for c in children), sum(c.chars for c in children),
                     1 + max((c.height for c in children), default=0))

    def _check(self, size: _Size, depth: int, mark: Mark) -> None:
        limits = self.limits
        if size.nodes > limits.max_nodes:
            raise _limit(f"aliases expand to more than {limits.max_nodes:,} nodes", mark)
        if size.chars > limits.max_total_chars:
            raise _limit(f"aliases expand to more than {limits.max_total_chars:,} characters", mark)
        if depth + size.height > limits.max_depth:
            raise _limit(f"nesting deeper than {limits.max_depth} levels once aliases are expanded", mark)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # e.g. `2001-02-30`
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConstructorError(None, None, f"cannot read this value ({problem})",
                                   node.start_mark) from None

    def construct_bounded_int(self, node: ScalarNode) -> int:
        if len(node.value) > self.limits.max_int_chars:
            raise _limit(f"an integer longer than {self.limits.max_int_chars} characters", node.start_mark)
        return self.construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_bounded_int)


_LIBYAML_DEPTH = "maximum nesting depth"  # libyaml's own bound (1,000 levels), met before ours


class _LimitExceeded(yaml.MarkedYAMLError):
    """Raised inside the loader; turned into a YamlError(syntax=False) by `load`."""


def _limit(problem: str, mark: Mark | None) -> _LimitExceeded:
    return _LimitExceeded(None, None, problem, mark)


def load(text: str, limits: YamlLimits = DEFAULT_LIMITS) -> Any:
    """The one document in `text`, as `yaml.safe_load` gives it; YamlError if it is malformed or
    passes a limit."""
    if len(text) > limits.max_chars:
        raise YamlError(f"the document is longer than {limits.max_chars:,} characters")
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text, limits)
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "malformed document"
        raise YamlError(
            _one_line(problem),
            line=mark.line + 1 if mark is not None else None,
            column=mark.column + 1 if mark is not None else None,
            syntax=not isinstance(exc, (_LimitExceeded, ConstructorError)) and _LIBYAML_DEPTH not in problem,
        ) from None
    except yaml.YAMLError as exc:  # e.g. a control character in the stream (ReaderError)
        raise YamlError(_one_line(str(exc)), syntax=True) from None
    finally:
        if loader is not None:
            loader.dispose()


def read_text(path: str | os.PathLike[str], limits: YamlLimits = DEFAULT_LIMITS) -> str:
    """A YAML file's text, reading at most `limits.max_chars` of it (so `/dev/zero` is refused
    instead of filling memory). OSError and UnicodeDecodeError pass to the caller as from open()."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read(limits.max_chars + 1)
    if len(text) > limits.max_chars:
        raise YamlError(f"the file is longer than {limits.max_chars:,} characters")
    return text


_SHORT = reprlib.Repr()
_SHORT.maxstring = 60
_SHORT.maxother = 60
_SHORT.maxlevel = 2
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxset = _SHORT.maxtuple = 3


def shown(value: Any) -> str:
    """A short repr of a loaded value for an error message, without walking all of it."""
    return _SHORT.repr(value)


def _one_line(text: str) -> str:
    return " ".join(text.split())
