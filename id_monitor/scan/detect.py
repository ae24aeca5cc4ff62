"""Find generation sites of the configured targets (uuid4 by default) in one Python source.

Works on the syntax tree, never on lines: comments, docstrings and strings do not count. Names are
resolved through every import form (`import uuid`, `import uuid as u`, `from uuid import uuid4`,
`from uuid import uuid4 as gen`, `from uuid import *`) and through Python's scopes, so a parameter,
local variable or local function that happens to be called `uuid4` is not a site.

Resolution is deliberately simple and explainable: a use sees the last binding of its name made
earlier in the same scope (or, if none came earlier, the last one in that scope), or else the
final binding of the nearest enclosing function/module scope (class bodies are skipped, as Python
does). Attribute aliases made by assignment (`gen = uuid.uuid4`) are counted once, as a
`reference` site where the alias is made.

Speed: only identifiers that spell a target component (or an `as` alias of one) can matter, so
statements whose lines contain none of them are skipped without being visited.
"""

from __future__ import annotations

import ast
import bisect
import io
import re
import tokenize
from dataclasses import dataclass

from id_monitor.scan.targets import Targets

# The shape around the call; a bounded set (it is a metric label).
PATTERNS: tuple[str, ...] = (
    "bare",  # uuid4() used as the UUID object itself
    "str",  # str(uuid4())
    "str[:N]",  # str(uuid4())[:8] - truncation, N recorded
    "hex",  # uuid4().hex
    "hex[:N]",  # uuid4().hex[:8] - truncation, N recorded
    "int",  # uuid4().int
    "attr",  # another attribute: .bytes, .urn, .fields ...
    "fstring",  # f"...{uuid4()}..."
    "format",  # "%s" % uuid4(), "{}".format(uuid4())
    "reference",  # passed uncalled, e.g. Field(default_factory=uuid4): generates later
)

SUPPRESS_MARKER = b"id-monitor:"
_SUPPRESS = re.compile(r"#\s*id-monitor:\s*ignore\b(?:\[([^\]]*)\])?")
# Keywords through which the assigned name is the enclosing assignment's, not the keyword's.
_FACTORY_KEYWORDS = frozenset({"default", "default_factory", "server_default", "factory"})


@dataclass(frozen=True, slots=True)
class Site:
    """One generation site. Lines are 1-based; columns are 1-based characters."""

    line: int
    column: int
    end_line: int
    end_column: int
    target: str
    pattern: str
    truncation: int | None
    function: str | None
    assigned_to: str | None
    code: str
    suppressed: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "target": self.target,
            "pattern": self.pattern,
            "truncation": self.truncation,
            "function": self.function,
            "assigned_to": self.assigned_to,
            "code": self.code,
            "suppressed": self.suppressed,
        }


class _Scope:
    __slots__ = ("bindings", "globals", "kind", "parent", "qualname")

    def __init__(self, kind: str, parent: _Scope | None, qualname: str | None) -> None:
        self.kind = kind
        self.parent = parent
        self.qualname = qualname
        # name -> [(line, col, qualified import path or None for any other binding)]
        self.bindings: dict[str, list[tuple[int, int, str | None]]] = {}
        self.globals: set[str] = set()


@dataclass(slots=True)
class _Ref:
    scope: _Scope
    root: str
    rest: str
    line: int
    col: int
    node: ast.expr  # the Name or outermost Attribute of the dotted reference
    called: ast.Call | None
    ancestors: list[ast.AST]  # snapshot, outermost first, ending with the reference's parent
    statement: ast.stmt | None


def detect(data: bytes, targets: Targets, filename: str = "<source>") -> list[Site]:
    """All sites in `data` (a whole Python file, any PEP 263 encoding).

    Raises SyntaxError / ValueError for sources Python cannot parse (the caller reports the file
    as skipped), RecursionError for absurdly deep expressions.
    """
    if not targets.may_contain(data):
        return []
    interesting = _interesting_names(data, targets)
    lines = _candidate_lines(data, interesting)
    tree = _parse(data, filename, lines)
    visitor = _Visitor(targets, interesting, lines)
    visitor.visit_module(tree)
    text_lines = _LazyLines(data)
    sites = [site for ref in visitor.refs if (site := visitor.site_for(ref, text_lines)) is not None]
    if sites and SUPPRESS_MARKER in data:
        sites = _apply_suppressions(sites, visitor.site_spans, text_lines, targets)
    sites.sort(key=lambda s: (s.line, s.column))
    return sites


# Parsing only the top-level blocks that mention a target is what keeps the scan within a small
# factor of a compiled linter. A block starts at a column-0 `def`, `class`, `async def` or decorator
# run that is not inside a multi-line string; a wrong split cannot go unnoticed, because the block
# before it would not parse, and any block that fails sends the whole file to a full parse.
BLOCK_PARSE_ABOVE = 6000  # bytes; below this one parse is cheaper than the bookkeeping
_BLOCK_START = re.compile(rb"^(?:@|def\b|class\b|async[ \t]+def\b)", re.MULTILINE)
_STRING_OR_COMMENT = re.compile(
    rb'#[^\n]*|"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\''
    rb'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'',
    re.DOTALL,
)
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.MULTILINE)


def _parse(data: bytes, filename: str, lines: list[int] | None) -> ast.Module:
    if lines is not None and len(data) > BLOCK_PARSE_ABOVE:
        blocks = _blocks(data, lines)
        if blocks is not None:
            body: list[ast.stmt] = []
            try:
                for first_line, start, end in blocks:
                    body.extend(ast.parse(b"\n" * (first_line - 1) + data[start:end], filename=filename).body)
            except (SyntaxError, ValueError):
                pass  # a real error or a bad split: the full parse below tells which
            else:
                return ast.Module(body=body, type_ignores=[])
    return ast.parse(data, filename=filename)


def _blocks(data: bytes, lines: list[int]) -> list[tuple[int, int, int]] | None:
    """(first line, start offset, end offset) of the top-level blocks holding candidate lines, or
    None when a full parse is as cheap or the file's encoding is not UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        return None
    head = b"\n".join(data.split(b"\n", 2)[:2])
    coding = _CODING.search(head)
    if coding is not None and coding.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        return None
    multiline: list[tuple[int, int]] = []
    for match in _STRING_OR_COMMENT.finditer(data):
        start, end = match.span()
        if data[start] != 35 and data.find(b"\n", start, end) != -1:  # 35 = '#'
            multiline.append((start, end))
    span_starts = [s for s, _ in multiline]
    starts = [(1, 0)]
    line, last = 1, 0
    for match in _BLOCK_START.finditer(data):
        offset = match.start()
        if offset == 0:
            continue
        i = bisect.bisect_right(span_starts, offset) - 1
        if i >= 0 and multiline[i][1] > offset:
            continue  # inside a string
        previous = _previous_code_line(data, offset)
        if previous[:1] == b"@" or previous[:1] in (b")", b"]", b"}"):
            continue  # a decorator run or a multi-line decorator belongs to what follows
        line += data.count(b"\n", last, offset)
        last = offset
        starts.append((line, offset))
    if len(starts) < 3:
        return None
    wanted: list[tuple[int, int, int]] = []
    size = 0
    k = 0
    for index, (first, start) in enumerate(starts):
        next_first, end = starts[index + 1] if index + 1 < len(starts) else (1 << 62, len(data))
        while k < len(lines) and lines[k] < first:
            k += 1
        if k < len(lines) and lines[k] < next_first:
            wanted.append((first, start, end))
            size += end - start
    if size > len(data) * 0.7:
        return None
    return wanted


def _previous_code_line(data: bytes, offset: int) -> bytes:
    """The last non-blank, non-comment line before `offset` (a line start)."""
    end = offset - 1
    while end > 0:
        start = data.rfind(b"\n", 0, end) + 1
        text = data[start:end].strip()
        if text and not text.startswith(b"#"):
            return data[start:end]
        end = start - 1
    return b""


def _interesting_names(data: bytes, targets: Targets) -> frozenset[str]:
    """Target components plus every `<component> as <alias>` alias spelled in the file."""
    names = set(targets.components)
    alternation = b"|".join(re.escape(c.encode()) for c in sorted(targets.components))
    for match in re.finditer(rb"\b(?:" + alternation + rb")\s+as\s+([A-Za-z_][A-Za-z0-9_]*)", data):
        names.add(match.group(1).decode())
    return frozenset(names)


def _candidate_lines(data: bytes, names: frozenset[str]) -> list[int] | None:
    """Sorted line numbers whose text contains an interesting identifier; None = visit everything."""
    if b"\r" in data:
        return None  # unusual line endings: do not second-guess the tokenizer's line numbers
    alternation = b"|".join(re.escape(n.encode()) for n in sorted(names))
    found: list[int] = []
    line = 1
    last = 0
    for match in re.finditer(rb"\b(?:" + alternation + rb")\b", data):
        start = match.start()
        line += data.count(b"\n", last, start)
        last = start
        if not found or found[-1] != line:
            found.append(line)
    return found


class _LazyLines:
    """Source lines as text, decoded only if a site needs them."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._lines: list[str] | None = None

    def get(self, line: int) -> str:
        if self._lines is None:
            self._lines = _decode(self._data).splitlines()
        if 1 <= line <= len(self._lines):
            return self._lines[line - 1]
        return ""


def _decode(data: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        encoding = "utf-8"
    try:
        return data.decode(encoding, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _char_column(line_text: str, byte_offset: int) -> int:
    """AST columns are UTF-8 byte offsets; report 1-based character columns like editors do."""
    if line_text.isascii():
        return byte_offset + 1
    return len(line_text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore")) + 1


def _slice_upper(node: ast.AST) -> int | None:
    """N for a `[:N]` / `[0:N]` slice, else None."""
    if not isinstance(node, ast.Slice) or node.step is not None:
        return None
    lower = node.lower
    if lower is not None and not (isinstance(lower, ast.Constant) and lower.value == 0):
        return None
    upper = node.upper
    if isinstance(upper, ast.Constant) and isinstance(upper.value, int) and upper.value > 0:
        return upper.value
    return None


def _render_target(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, (ast.Attribute, ast.Subscript)):
        return ast.unparse(node)
    return None


class _Visitor:
    def __init__(self, targets: Targets, interesting: frozenset[str], lines: list[int] | None) -> None:
        self.targets = targets
        self.interesting = interesting
        self.lines = lines
        self.refs: list[_Ref] = []
        self.site_spans: dict[tuple[int, int], tuple[int, int, int]] = {}
        self.stack: list[ast.AST] = []
        self.scope = _Scope("module", None, None)
        self.module = self.scope
        self.statement: ast.stmt | None = None

    # -- traversal -----------------------------------------------------------------------------

    def visit_module(self, tree: ast.Module) -> None:
        self._statements(tree.body)

    def _wanted(self, node: ast.stmt) -> bool:
        if self.lines is None:
            return True
        start = node.lineno
        decorators = getattr(node, "decorator_list", None)
        if decorators:
            start = min(start, decorators[0].lineno)
        i = bisect.bisect_left(self.lines, start)
        end = node.end_lineno if node.end_lineno is not None else node.lineno
        return i < len(self.lines) and self.lines[i] <= end

    def _statements(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            if self._wanted(stmt):
                outer = self.statement
                self.statement = stmt
                self.visit(stmt)
                self.statement = outer

    def visit(self, node: ast.AST) -> None:
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            handler(self, node)
        else:
            self.generic(node)

    def generic(self, node: ast.AST) -> None:
        self.stack.append(node)
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                if value and isinstance(value[0], ast.stmt):
                    self._statements(value)
                    continue
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)
        self.stack.pop()

    def _visit_all(self, nodes: list[ast.AST | None]) -> None:
        for node in nodes:
            if node is not None:
                self.visit(node)

    # -- bindings ------------------------------------------------------------------------------

    def bind(self, name: str, node: ast.AST, qualified: str | None, scope: _Scope | None = None) -> None:
        if name not in self.interesting:
            return
        scope = scope or self.scope
        if name in scope.globals:
            scope = self.module
        if qualified is not None and not self.targets.is_relevant_binding(qualified):
            qualified = None
        scope.bindings.setdefault(name, []).append((node.lineno, node.col_offset, qualified))

    def _bind_arguments(self, args: ast.arguments) -> None:
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                self.bind(arg.arg, arg, None)

    def _push(self, kind: str, name: str | None) -> _Scope:
        outer = self.scope
        if name is None:
            qualname = outer.qualname
        else:
            qualname = name if outer.qualname is None else f"{outer.qualname}.{name}"
        self.scope = _Scope(kind, outer, qualname)
        return outer

    # -- handlers ------------------------------------------------------------------------------

    def visit_import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.bind(alias.asname, node, alias.name)
            else:
                root = alias.name.split(".", 1)[0]
                self.bind(root, node, root)

    def visit_import_from(self, node: ast.ImportFrom) -> None:
        module = node.module if node.level == 0 else None
        for alias in node.names:
            if alias.name == "*":
                if module is None:
                    continue
                for target in self.targets.names:
                    owner, _, last = target.rpartition(".")
                    if owner == module:
                        self.bind(last, node, target)
                continue
            qualified = f"{module}.{alias.name}" if module else None
            self.bind(alias.asname or alias.name, node, qualified)

    def visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.stack.append(node)
        self._visit_all(node.decorator_list)
        self._visit_all([*node.args.defaults, *node.args.kw_defaults])
        self._visit_annotations(node.args, node.returns)
        self.stack.pop()
        self.bind(node.name, node, None)
        outer = self._push("function", node.name)
        self._bind_arguments(node.args)
        self.stack.append(node)
        self._statements(node.body)
        self.stack.pop()
        self.scope = outer

    def _visit_annotations(self, args: ast.arguments, returns: ast.expr | None) -> None:
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)
        if returns is not None:
            self.visit(returns)

    def visit_lambda(self, node: ast.Lambda) -> None:
        self.stack.append(node)
        self._visit_all([*node.args.defaults, *node.args.kw_defaults])
        outer = self._push("function", None)  # sites in lambdas belong to the named function
        self._bind_arguments(node.args)
        self.visit(node.body)
        self.scope = outer
        self.stack.pop()

    def visit_class(self, node: ast.ClassDef) -> None:
        self.stack.append(node)
        self._visit_all([*node.decorator_list, *node.bases, *node.keywords])
        self.stack.pop()
        self.bind(node.name, node, None)
        outer = self._push("class", node.name)
        self.stack.append(node)
        self._statements(node.body)
        self.stack.pop()
        self.scope = outer

    def visit_comprehension_scope(self, node: ast.AST) -> None:
        outer = self._push("comprehension", None)
        self.generic(node)
        self.scope = outer

    def visit_global(self, node: ast.Global | ast.Nonlocal) -> None:
        if isinstance(node, ast.Global):
            self.scope.globals.update(node.names)

    def visit_except(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bind(node.name, node, None)
        self.generic(node)

    def visit_match_name(self, node: ast.MatchAs | ast.MatchStar) -> None:
        if node.name:
            self.bind(node.name, node, None)
        self.generic(node)

    def visit_name(self, node: ast.Name) -> None:
        name = node.id
        if name not in self.interesting:
            return
        if not isinstance(node.ctx, ast.Load):
            self.bind(name, node, None)
            return
        # Climb the attribute chain: uuid . uuid4
        parts: list[str] = []
        outer: ast.expr = node
        depth = len(self.stack)
        while depth and isinstance(self.stack[depth - 1], ast.Attribute) and self.stack[depth - 1].value is outer:
            outer = self.stack[depth - 1]  # type: ignore[assignment]
            parts.append(outer.attr)  # type: ignore[attr-defined]
            depth -= 1
        if not isinstance(getattr(outer, "ctx", ast.Load()), ast.Load):
            return  # uuid.uuid4 = fake: an assignment to the attribute, not a use
        parent = self.stack[depth - 1] if depth else None
        called = parent if isinstance(parent, ast.Call) and parent.func is outer else None
        self.refs.append(
            _Ref(
                scope=self.scope,
                root=name,
                rest="".join("." + p for p in parts),
                line=node.lineno,
                col=node.col_offset,
                node=outer,
                called=called,
                ancestors=self.stack[:depth],
                statement=self.statement,
            )
        )

    # -- resolution and shape ------------------------------------------------------------------

    def resolve(self, ref: _Ref) -> str | None:
        scope: _Scope | None = ref.scope
        first = True
        name = ref.root
        while scope is not None:
            if name in scope.globals:
                scope = self.module
                first = False
            if scope.kind == "class" and not first:
                scope = scope.parent
                continue
            bindings = scope.bindings.get(name)
            if bindings:
                if first:
                    earlier = [b for b in bindings if (b[0], b[1]) < (ref.line, ref.col)]
                    chosen = earlier[-1] if earlier else bindings[-1]
                else:
                    chosen = bindings[-1]
                return chosen[2]
            # Comprehensions run inline, so the enclosing scope is still "here and now".
            first = first and scope.kind == "comprehension"
            scope = scope.parent
        return None

    def site_for(self, ref: _Ref, lines: _LazyLines) -> Site | None:
        qualified = self.resolve(ref)
        if qualified is None:
            return None
        target = qualified + ref.rest
        if target not in self.targets.names:
            return None
        chain = ref.ancestors
        if ref.called is not None:
            node: ast.AST = ref.called
            chain = chain[:-1]
            pattern, truncation, shaped = _shape(node, chain)
        else:
            node = ref.node
            pattern, truncation, shaped = "reference", None, node
        assigned = _assigned_to(shaped, chain)
        start_line = node.lineno  # type: ignore[attr-defined]
        end_line = node.end_lineno or start_line  # type: ignore[attr-defined]
        text = lines.get(start_line)
        column = _char_column(text, node.col_offset)  # type: ignore[attr-defined]
        end_text = text if end_line == start_line else lines.get(end_line)
        end_column = _char_column(end_text, node.end_col_offset or 0)  # type: ignore[attr-defined]
        statement_line = ref.statement.lineno if ref.statement is not None else start_line
        self.site_spans[(start_line, column)] = (start_line, end_line, statement_line)
        return Site(
            line=start_line,
            column=column,
            end_line=end_line,
            end_column=end_column,
            target=target,
            pattern=pattern,
            truncation=truncation,
            function=ref.scope.qualname,
            assigned_to=assigned,
            code=text.strip()[:200],
        )


def _shape(call: ast.AST, chain: list[ast.AST]) -> tuple[str, int | None, ast.AST]:
    """Pattern label, truncation and the outermost node of the shape, for a call whose ancestors
    (outermost first) are `chain`."""
    parent = chain[-1] if chain else None
    if isinstance(parent, ast.Attribute) and parent.value is call:
        grand = chain[-2] if len(chain) >= 2 else None
        if parent.attr == "hex":
            if isinstance(grand, ast.Subscript) and grand.value is parent:
                n = _slice_upper(grand.slice)
                return ("hex[:N]", n, grand) if n is not None else ("hex", None, grand)
            return "hex", None, parent
        if parent.attr == "int":
            return "int", None, parent
        return "attr", None, parent
    if (
        isinstance(parent, ast.Call)
        and isinstance(parent.func, ast.Name)
        and parent.func.id == "str"
        and parent.args
        and parent.args[0] is call
    ):
        grand = chain[-2] if len(chain) >= 2 else None
        if isinstance(grand, ast.Subscript) and grand.value is parent:
            n = _slice_upper(grand.slice)
            return ("str[:N]", n, grand) if n is not None else ("str", None, grand)
        return "str", None, parent
    if isinstance(parent, ast.FormattedValue) and parent.value is call:
        grand = chain[-2] if len(chain) >= 2 else parent
        return "fstring", None, grand
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Mod) and isinstance(parent.left, ast.Constant):
        return "format", None, parent
    if (
        isinstance(parent, ast.Call)
        and isinstance(parent.func, ast.Attribute)
        and parent.func.attr == "format"
        and isinstance(parent.func.value, ast.Constant)
    ):
        return "format", None, parent
    if isinstance(parent, ast.Tuple) and len(chain) >= 2:
        grand = chain[-2]
        if isinstance(grand, ast.BinOp) and isinstance(grand.op, ast.Mod) and isinstance(grand.left, ast.Constant):
            return "format", None, grand
    return "bare", None, call


def _is_string_builder(func: ast.expr) -> bool:
    """`str(...)` or `"...".format(...)`: the value still lands in the same name."""
    if isinstance(func, ast.Name):
        return func.id == "str"
    return isinstance(func, ast.Attribute) and func.attr == "format" and isinstance(func.value, ast.Constant)


def _assigned_to(node: ast.AST, chain: list[ast.AST]) -> str | None:
    """The name the generated value lands in: `user_id = ...`, `self.id = ...`, `f(id=...)`,
    `{"id": ...}`; climbing through string building (f-strings, `+`, `%`, str(), .format()),
    `x or ...`, `a if c else ...`, lambdas and factory keywords (`default_factory=`)."""
    index = len(chain) - 1
    for position in range(len(chain) - 1, -1, -1):
        if chain[position] is node:
            index = position - 1
            break
    while index >= 0:
        parent = chain[index]
        if (
            isinstance(parent, (ast.BoolOp, ast.IfExp, ast.BinOp, ast.FormattedValue, ast.JoinedStr))
            or (isinstance(parent, ast.Lambda) and parent.body is node)
            or (isinstance(parent, ast.Call) and _is_string_builder(parent.func))
        ):
            node = parent
            index -= 1
            continue
        if isinstance(parent, ast.keyword):
            if parent.arg in _FACTORY_KEYWORDS and index >= 1 and isinstance(chain[index - 1], ast.Call):
                node = chain[index - 1]
                index -= 2
                continue
            return parent.arg
        if isinstance(parent, ast.Assign) and parent.value is node:
            return _render_target(parent.targets[0])
        if isinstance(parent, (ast.AnnAssign, ast.AugAssign)) and parent.value is node:
            return _render_target(parent.target)
        if isinstance(parent, ast.NamedExpr) and parent.value is node:
            return _render_target(parent.target)
        if isinstance(parent, ast.Dict):
            for key, value in zip(parent.keys, parent.values):
                if value is node and isinstance(key, ast.Constant) and isinstance(key.value, str):
                    return key.value
        return None
    return None


def _apply_suppressions(
    sites: list[Site],
    spans: dict[tuple[int, int], tuple[int, int, int]],
    lines: _LazyLines,
    targets: Targets,
) -> list[Site]:
    """Mark sites silenced by `# id-monitor: ignore[uuid4]` on any line of the call or on the first
    line of its statement. A bare `# id-monitor: ignore` silences every target."""
    out: list[Site] = []
    for site in sites:
        start, end, statement_line = spans[(site.line, site.column)]
        candidates = set(range(start, end + 1)) | {statement_line}
        codes = targets.codes(site.target)
        suppressed = any(_line_suppresses(lines.get(n), codes) for n in sorted(candidates))
        out.append(_replace_suppressed(site) if suppressed else site)
    return out


def _line_suppresses(text: str, codes: tuple[str, str]) -> bool:
    if "id-monitor:" not in text:
        return False
    for comment in _comments(text):
        match = _SUPPRESS.search(comment)
        if match is None:
            continue
        listed = match.group(1)
        if listed is None:
            return True
        wanted = {c.strip() for c in listed.split(",")}
        if wanted & set(codes):
            return True
    return False


def _comments(text: str) -> list[str]:
    """Comments on one physical line, tokenized on its own (so a '#' inside a string is not one)."""
    found: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text.strip() + "\n").readline):
            if token.type == tokenize.COMMENT:
                found.append(token.string)
    except (tokenize.TokenError, SyntaxError):
        pass  # an open bracket or string continues on the next line; comments so far still count
    return found


def _replace_suppressed(site: Site) -> Site:
    values = site.as_dict()
    values["suppressed"] = True
    return Site(**values)  # type: ignore[arg-type]


_HANDLERS = {
    ast.Import: _Visitor.visit_import,
    ast.ImportFrom: _Visitor.visit_import_from,
    ast.FunctionDef: _Visitor.visit_function,
    ast.AsyncFunctionDef: _Visitor.visit_function,
    ast.Lambda: _Visitor.visit_lambda,
    ast.ClassDef: _Visitor.visit_class,
    ast.ListComp: _Visitor.visit_comprehension_scope,
    ast.SetComp: _Visitor.visit_comprehension_scope,
    ast.DictComp: _Visitor.visit_comprehension_scope,
    ast.GeneratorExp: _Visitor.visit_comprehension_scope,
    ast.Global: _Visitor.visit_global,
    ast.Nonlocal: _Visitor.visit_global,
    ast.ExceptHandler: _Visitor.visit_except,
    ast.MatchAs: _Visitor.visit_match_name,
    ast.MatchStar: _Visitor.visit_match_name,
    ast.Name: _Visitor.visit_name,
}
