"""Benchmark `id-monitor scan` against ruff (TID251 banning uuid.uuid4) on one synthetic tree.

    .venv/bin/python bench/scan.py                  # 10,000 files, 3 timed runs of each tool
    .venv/bin/python bench/scan.py --files 2000 --repeat 1   # quick look while developing

Builds a tree of realistic Python modules (lognormal sizes, median ~150 lines) across services,
with ~20% of files generating uuid4 in varied forms (every import form and pattern, suppressed
sites, shadowed names, decoys in comments and strings) plus a few Python 2 and non-UTF-8 files.
The generator records the ground truth, so the run also checks our findings against it. Then both
tools run on the same tree, alternately, and every site either tool reports is accounted for:
matched by (file, line, column), or explained by a named category; anything else is printed as
unexplained. Prints wall times (median of the runs) and the ratio ours / ruff; target <= 3.0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

SERVICES = ["api", "auth", "billing", "chat", "agents", "notifications", "search", "workers", "gateway",
            "analytics", "storage", "admin"]
WORDS = ["user", "session", "thread", "message", "agent", "tool", "run", "request", "payload", "event",
         "record", "result", "config", "client", "cache", "token", "item", "order", "invoice", "report"]
RUFF_CONFIG = '[lint.flake8-tidy-imports.banned-api]\n"uuid.uuid4".msg = "use the unified ID generator"\n'

# Import forms: (import line, how the call target is spelled)
IMPORTS = {
    "attr": ("import uuid", "uuid.uuid4"),
    "alias": ("import uuid as _uuid", "_uuid.uuid4"),
    "from": ("from uuid import uuid4", "uuid4"),
    "from_as": ("from uuid import uuid4 as new_uuid", "new_uuid"),
}
# Pattern templates: (statement with {f} for the callee, pattern label, truncation)
PATTERNS = [
    ("{v}_id = {f}()", "bare", None),
    ("{v}_id = str({f}())", "str", None),
    ("{v}_id = {f}().hex", "hex", None),
    ("{v}_id = {f}().hex[:8]", "hex[:N]", 8),
    ("{v}_id = {f}().hex[:16]", "hex[:N]", 16),
    ('{v}_id = f"{v}_{{{f}()}}"', "fstring", None),
    ("{v}_id = str({f}())[:12]", "str[:N]", 12),
    ("{v}_key = {f}().int", "int", None),
    ('{v}_id = "%s" % {f}()', "format", None),
    ("return {{\"id\": str({f}()), \"kind\": \"{v}\"}}", "str", None),
]


def ident(rng: random.Random) -> str:
    return rng.choice(WORDS)


class Module:
    """One generated file: text lines plus the ground truth of its sites."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.sites: list[tuple[int, int, str]] = []  # (line, column, pattern) we must report
        self.suppressed: list[tuple[int, int]] = []

    def add(self, line: str) -> int:
        self.lines.append(line)
        return len(self.lines)


def filler_function(rng: random.Random, m: Module, name: str, indent: str = "") -> None:
    v, w = ident(rng), ident(rng)
    m.add(f"{indent}def {name}(self, {v}: dict, *, limit: int = {rng.randint(1, 500)}) -> list:" if indent
          else f"def {name}({v}: dict, *, limit: int = {rng.randint(1, 500)}) -> list:")
    m.add(f'{indent}    """Return the {w}s of a {v}, at most `limit` of them."""')
    for _ in range(rng.randint(3, 14)):
        kind = rng.random()
        if kind < 0.3:
            m.add(f"{indent}    {w}_count = len({v}.get(\"{w}s\", [])) + {rng.randint(0, 9)}")
        elif kind < 0.5:
            m.add(f"{indent}    if {v}.get(\"{w}\") is None:")
            m.add(f"{indent}        raise ValueError(f\"missing {w} in {{{v}!r}}\")")
        elif kind < 0.65:
            m.add(f"{indent}    for index, {w} in enumerate({v}.get(\"items\", [])):")
            m.add(f"{indent}        if index >= limit:")
            m.add(f"{indent}            break")
            m.add(f"{indent}        logger.debug(\"%s %s\", index, {w})")
        elif kind < 0.8:
            m.add(f"{indent}    # normalise the {w} before it is stored")
            m.add(f"{indent}    {w} = {{key: value for key, value in {v}.items() if key.startswith(\"{w}\")}}")
        else:
            m.add(f"{indent}    result = [item for item in sorted({v}) if item != \"{w}\"][:limit]")
    m.add(f"{indent}    return list({v}.values())[:limit]")
    m.add("")


def uuid_function(rng: random.Random, m: Module, callee: str, name: str, indent: str) -> None:
    """A function with one or two sites, maybe a suppressed one."""
    v = ident(rng)
    m.add(f"{indent}def {name}(self, {v}: dict) -> dict:" if indent else f"def {name}({v}: dict) -> dict:")
    m.add(f'{indent}    """Create a {v} record; the uuid.uuid4() in this docstring is not a site."""')
    for _ in range(rng.randint(1, 2)):
        template, pattern, _ = rng.choice(PATTERNS[:-1])
        text = template.format(v=v, f=callee)
        suppressed = rng.random() < 0.08
        line = m.add(f"{indent}    {text}" + ("  # id-monitor: ignore[uuid4] (test fixture)" if suppressed else ""))
        column = len(indent) + 4 + text.index(callee) + 1
        (m.suppressed if suppressed else m.sites).append((line, column) if suppressed else (line, column, pattern))
    m.add(f"{indent}    {v}[\"created\"] = True  # later: uuid.uuid4() here would be a site")
    m.add(f"{indent}    return {v}")
    m.add("")


def make_module(rng: random.Random, with_uuid: bool) -> Module:
    m = Module()
    target_lines = max(12, min(2500, int(rng.lognormvariate(5.0, 0.8))))
    m.add(f'"""The {ident(rng)} {ident(rng)} module."""')
    m.add("")
    m.add("from __future__ import annotations")
    m.add("")
    m.add("import logging")
    forms: list[str] = []
    if with_uuid:
        forms = rng.sample(list(IMPORTS), k=rng.choice([1, 1, 1, 2]))
        for form in forms:
            m.add(IMPORTS[form][0])
        if "attr" not in forms and rng.random() < 0.3:
            m.add("import uuid")  # for the Field(default_factory=uuid.uuid4) below
            forms.append("attr")
    m.add("")
    m.add("logger = logging.getLogger(__name__)")
    m.add(f"DEFAULT_{ident(rng).upper()} = \"{ident(rng)}\"")
    m.add("")
    if with_uuid and "attr" in forms and rng.random() < 0.5:
        m.add("")
        m.add(f"class {ident(rng).title()}Model:")
        line = m.add("    id: str = field(default_factory=uuid.uuid4)")
        m.add("")
        m.sites.append((line, len("    id: str = field(default_factory=") + 1, "reference"))
    counter = 0
    while len(m.lines) < target_lines:
        counter += 1
        roll = rng.random()
        if with_uuid and roll < 0.18:
            form = rng.choice(forms)
            uuid_function(rng, m, IMPORTS[form][1], f"create_{ident(rng)}_{counter}", "")
        elif with_uuid and roll < 0.22 and "from" in forms:
            # shadowing: the parameter is not the imported uuid4
            m.add(f"def derive_{counter}(uuid4) -> str:")
            m.add("    return str(uuid4())")
            m.add("")
        elif roll < 0.35:
            m.add(f"class {ident(rng).title()}{ident(rng).title()}{counter}:")
            m.add(f'    """Holds {ident(rng)} state."""')
            m.add("")
            for j in range(rng.randint(1, 4)):
                if with_uuid and rng.random() < 0.25:
                    uuid_function(rng, m, IMPORTS[rng.choice(forms)][1], f"method_{j}", "    ")
                else:
                    filler_function(rng, m, f"method_{j}", "    ")
        else:
            filler_function(rng, m, f"handle_{ident(rng)}_{counter}")
    return m


def build_tree(root: Path, files: int, seed: int) -> dict[str, Module]:
    rng = random.Random(seed)
    truth: dict[str, Module] = {}
    for i in range(files):
        service = SERVICES[i % len(SERVICES)]
        if rng.random() < 0.2:
            rel = f"{service}/tests/test_{ident(rng)}_{i}.py"
        else:
            rel = f"{service}/{service}/{ident(rng)}s/{ident(rng)}_{i}.py"
        roll = rng.random()
        if roll < 0.24:
            module = make_module(rng, with_uuid=True)
        elif roll < 0.27:
            module = make_module(rng, with_uuid=False)
            module.lines.insert(1, "# TODO: stop using uuid.uuid4() here (a comment, not a site)")
        else:
            module = make_module(rng, with_uuid=False)
        truth[rel] = module
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(module.lines) + "\n", encoding="utf-8")
    # A few files neither tool can analyse: Python 2 and invalid UTF-8.
    for i in range(3):
        rel = f"legacy/py2_{i}.py"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"import uuid\nprint \"legacy\", uuid.uuid4()\nx{i} = uuid.uuid4()\n", encoding="utf-8")
        truth[rel] = Module()
    (root / "legacy/latin1.py").write_bytes(b"import uuid\nname = '\xe9t\xe9'\nx = uuid.uuid4()\n")
    truth["legacy/latin1.py"] = Module()
    return truth


def timed(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess[bytes]]:
    """Wall seconds and CPU seconds (user + system, all child processes included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=None, help="--jobs for our scan (default: all CPUs)")
    parser.add_argument("--keep", type=Path, default=None, help="build the tree here and keep it")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="idm-scan-bench-"))
    tree = args.keep or work / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    started = time.perf_counter()
    truth = build_tree(tree, args.files, args.seed)
    total_bytes = sum(p.stat().st_size for p in tree.rglob("*.py"))
    with_sites = sum(1 for m in truth.values() if m.sites or m.suppressed)
    print(f"tree: {len(truth)} files, {total_bytes / 1e6:.1f} MB (mean {total_bytes / len(truth) / 1e3:.1f} kB), "
          f"{with_sites} files with uuid4 sites ({with_sites / len(truth):.0%}), built in "
          f"{time.perf_counter() - started:.1f}s")
    ruff_config = work / "ruff.toml"
    ruff_config.write_text(RUFF_CONFIG, encoding="utf-8")
    ours_out, ruff_out = work / "ours.json", work / "ruff.json"
    ruff_bin = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    ours_cmd = [sys.executable, "-m", "id_monitor", "scan", str(tree), "--json", "-o", str(ours_out), "--no-progress"]
    if args.jobs:
        ours_cmd += ["--jobs", str(args.jobs)]
    ruff_cmd = [ruff_bin, "check", "--select", "TID251", "--no-cache", "--config", str(ruff_config),
                "--output-format", "json", "-o", str(ruff_out), "--exit-zero", str(tree)]
    times: dict[str, list[float]] = {"ours": [], "ruff": []}
    cpu: dict[str, list[float]] = {"ours": [], "ruff": []}
    for _ in range(args.repeat):
        for name, cmd in (("ruff", ruff_cmd), ("ours", ours_cmd)):
            seconds, cpu_seconds, proc = timed(cmd)
            if proc.returncode != 0:
                sys.exit(f"{name} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
            times[name].append(seconds)
            cpu[name].append(cpu_seconds)
    ours_t, ruff_t = statistics.median(times["ours"]), statistics.median(times["ruff"])
    print(f"wall time, median of {args.repeat}: ours {ours_t:.2f}s (runs {', '.join(f'{t:.2f}' for t in times['ours'])}), "
          f"ruff {ruff_t:.2f}s (runs {', '.join(f'{t:.2f}' for t in times['ruff'])})")
    best = min(times["ours"]) / min(times["ruff"])
    print(f"ratio ours/ruff = {ours_t / ruff_t:.2f} on medians, {best:.2f} on best runs "
          f"(target <= 3.00: {'met' if ours_t <= 3 * ruff_t else 'NOT met'}); machine load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    ours_cpu, ruff_cpu = statistics.median(cpu["ours"]), statistics.median(cpu["ruff"])
    print(f"CPU time (user+sys, all processes), median: ours {ours_cpu:.2f}s, ruff {ruff_cpu:.2f}s, "
          f"ratio {ours_cpu / ruff_cpu:.2f} (less sensitive to other load on the machine than wall time)")
    account(tree, truth, json.loads(ours_out.read_text()), json.loads(ruff_out.read_text()))
    shutil.rmtree(work, ignore_errors=True)  # a --keep tree lives outside it


def account(tree: Path, truth: dict[str, Module], ours: dict, ruff: list[dict]) -> None:
    """Match every site of both tools; name the reason for every difference."""
    ours_active = {(s["path"], s["line"], s["column"]): s for s in ours["sites"] if s["status"] == "active"}
    ours_exempt = {(s["path"], s["line"], s["column"]): s for s in ours["sites"] if s["status"] != "active"}
    skipped = {f["path"]: f for f in ours["skipped"]}
    ruff_sites: dict[tuple[str, int, int], dict] = {}
    ruff_syntax: set[str] = set()
    for d in ruff:
        rel = Path(d["filename"]).relative_to(tree.resolve()).as_posix()
        if d.get("code") == "TID251":
            ruff_sites[(rel, d["location"]["row"], d["location"]["column"])] = d
        else:
            ruff_syntax.add(rel)
    lines_cache: dict[str, list[str]] = {}

    def line_of(rel: str, n: int) -> str:
        if rel not in lines_cache:
            lines_cache[rel] = (tree / rel).read_bytes().decode("utf-8", "replace").splitlines()
        return lines_cache[rel][n - 1] if 0 < n <= len(lines_cache[rel]) else ""

    ruff_import_files = {k[0] for k in ruff_sites if line_of(k[0], k[1]).lstrip().startswith("from uuid import")}
    categories: Counter[str] = Counter()
    unexplained: list[str] = []
    both = set(ours_active) & set(ruff_sites)
    categories["both: attribute call or reference (uuid.uuid4 / alias.uuid4)"] = len(both)
    for key in sorted(set(ours_active) - set(ruff_sites)):
        rel, line, col = key
        text = line_of(rel, line)
        spelled = text[col - 1:]
        if not spelled.startswith(("uuid.", "_uuid.")) and rel in ruff_import_files:
            categories["ours only: call through a from-import name (ruff flags the import line instead)"] += 1
        else:
            unexplained.append(f"ours only {rel}:{line}:{col}: {text.strip()}")
    for key in sorted(set(ruff_sites) - set(ours_active)):
        rel, line, col = key
        text = line_of(rel, line)
        if text.lstrip().startswith("from uuid import"):
            categories["ruff only: the `from uuid import uuid4` line itself (not a generation site)"] += 1
        elif key in ours_exempt:
            categories[f"ruff only: {ours_exempt[key]['status']} in ours (inline ignore comment), listed as exempt"] += 1
        elif rel in skipped:
            categories[f"ruff only: file we skip ({skipped[rel]['reason']}), reported with a reason"] += 1
        else:
            unexplained.append(f"ruff only {rel}:{line}:{col}: {text.strip()}")
    for rel in sorted(set(skipped)):
        if rel in ruff_syntax:
            categories[f"both cannot analyse: {skipped[rel]['reason']} (ruff: syntax error diagnostic)"] += 1
        else:
            ruff_sites_there = sum(1 for k in ruff_sites if k[0] == rel)
            categories[f"we skip ({skipped[rel]['reason']}); ruff: no syntax diagnostic, {ruff_sites_there} "
                       f"site(s) (for invalid UTF-8 it only warns 'Failed to lint' on stderr)"] += 1
    for rel in sorted(ruff_syntax - set(skipped)):
        unexplained.append(f"ruff syntax error only: {rel}")
    print(f"\nsite-by-site accounting: ours {len(ours_active)} active + {len(ours_exempt)} exempt, "
          f"ruff {len(ruff_sites)} TID251 + {len(ruff_syntax)} files with syntax errors")
    for name, n in sorted(categories.items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {name}")
    print(f"  {len(unexplained):6d}  unexplained")
    for item in unexplained[:30]:
        print(f"          {item}")
    # Ground truth check: the generator knows every site it wrote.
    expected = {(rel, line, col): pat for rel, m in truth.items() for line, col, pat in m.sites}
    expected_supp = {(rel, line, col) for rel, m in truth.items() for line, col in m.suppressed}
    missing = sorted(set(expected) - set(ours_active))
    extra = sorted(set(ours_active) - set(expected))
    wrong = sorted(k for k in set(expected) & set(ours_active) if ours_active[k]["pattern"] != expected[k])
    supp_diff = expected_supp ^ {k for k, s in ours_exempt.items() if s["status"] == "suppressed"}
    print(f"\nground truth: {len(expected)} sites, {len(expected_supp)} suppressed; ours missing {len(missing)}, "
          f"extra {len(extra)}, wrong pattern {len(wrong)}, suppression mismatches {len(supp_diff)}")
    for item in (missing + extra + wrong)[:10]:
        print(f"          {item}")
    by_pattern = defaultdict(int)
    for s in ours_active.values():
        by_pattern[s["pattern"]] += 1
    print("ours by pattern: " + ", ".join(f"{p} {n}" for p, n in sorted(by_pattern.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
