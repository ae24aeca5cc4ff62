"""Copies the alert rules and dashboards into the Helm chart, so the chart ships one source each.

    python deploy/generate.py          # write deploy/helm/id-monitor/files/ from the sources
    python deploy/generate.py --check  # exit 1 naming every copy that differs from its source

A chart can read only files inside itself, so the PrometheusRule template
(`templates/prometheusrule.yaml`) and the dashboards ConfigMaps (`templates/dashboards.yaml`)
embed byte-for-byte copies of `alerts/id-monitor.rules.yml` and `dashboards/*.json` kept in
`files/`. Copies rather than symlinks: `helm package` resolves links, and a link to outside the
chart breaks when the chart is vendored elsewhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHART_FILES = Path("deploy/helm/id-monitor/files")
RULES = Path("alerts/id-monitor.rules.yml")
DASHBOARDS = Path("dashboards")


def expected(root: Path = ROOT) -> dict[Path, bytes]:
    """Every generated file of the chart (path under `root`) and the bytes it must hold."""
    files = {root / CHART_FILES / RULES.name: (root / RULES).read_bytes()}
    for source in sorted((root / DASHBOARDS).glob("*.json")):
        files[root / CHART_FILES / "dashboards" / source.name] = source.read_bytes()
    return files


def drift(root: Path = ROOT) -> list[str]:
    """Generated files that are missing, stale, or left over from a removed source."""
    want = expected(root)
    problems = [f"{p.relative_to(root)}: {'missing' if not p.exists() else 'differs from its source'}"
                for p, data in want.items() if not p.exists() or p.read_bytes() != data]
    for path in sorted((root / CHART_FILES / "dashboards").glob("*.json")):
        if path not in want:
            problems.append(f"{path.relative_to(root)}: no source in dashboards/ (remove it)")
    return problems


def write(root: Path = ROOT) -> None:
    want = expected(root)
    (root / CHART_FILES / "dashboards").mkdir(parents=True, exist_ok=True)
    for path in (root / CHART_FILES / "dashboards").glob("*.json"):
        if path not in want:
            path.unlink()
    for path, data in want.items():
        path.write_bytes(data)


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if argv == ["--check"]:
        problems = drift()
        for problem in problems:
            print(f"deploy/generate.py: {problem} (run python deploy/generate.py)", file=sys.stderr)
        return 1 if problems else 0
    if argv:
        print("usage: python deploy/generate.py [--check]", file=sys.stderr)
        return 2
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
