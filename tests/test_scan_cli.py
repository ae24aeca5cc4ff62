"""`id-monitor scan` end to end: table, --json, --sarif (validated against the SARIF 2.1.0 schema),
--prometheus, baseline and ratchet exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from id_monitor.cli import app

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "scan" / "sample"
SARIF_SCHEMA = json.loads((DATA / "sarif-2.1.0.json").read_text(encoding="utf-8"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "repo")
    return tmp_path / "repo"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["scan", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_table_output_lists_services_sites_and_exempt_sites(repo: Path) -> None:
    code, out, _ = run(str(repo), "--no-progress")
    assert code == 0
    for expected in ("api", "billing", "background", "(root)", "clean files",
                     "api/handlers.py:13:19", "hex[:N]=8", "UserHandler.create", "-> session",
                     "[allowed] billing/ids/generator.py:7:12", "[suppressed] billing/invoices.py:10:12",
                     "secrets.token_hex bare"):  # several targets configured: the target is shown
        assert expected in out, expected
    assert "7 sites (6 production, 1 test), 2 exempt" in " ".join(out.split())


def test_json_output(repo: Path) -> None:
    code, out, _ = run(str(repo), "--json")
    assert code == 0
    document = json.loads(out)
    assert document["summary"]["sites"] == 7 and document["summary"]["suppressed"] == 1
    assert document["summary"]["allowed"] == 1 and document["summary"]["files"] == 6
    assert document["services"]["api"]["sites"] == {"production": {"fstring": 1, "hex": 1, "hex[:N]": 1, "str": 1},
                                                    "test": {"str": 1}}
    session = next(s for s in document["sites"] if s["assigned_to"] == "session")
    assert session == {**session, "path": "api/handlers.py", "line": 13, "column": 19, "pattern": "hex[:N]",
                       "truncation": 8, "function": "UserHandler.create", "status": "active", "scope": "production",
                       "service": "api", "target": "uuid.uuid4"}
    assert document["baseline"] is None


def test_sarif_output_is_valid_sarif_2_1_0(repo: Path) -> None:
    (repo / "api" / "broken.py").write_text('import uuid\nprint "py2", uuid.uuid4()\n')
    code, out, _ = run(str(repo), "--sarif")
    assert code == 0
    log = json.loads(out)
    validator_class = jsonschema.validators.validator_for(SARIF_SCHEMA)
    validator_class.check_schema(SARIF_SCHEMA)
    validator_class(SARIF_SCHEMA).validate(log)
    run_ = log["runs"][0]
    results = run_["results"]
    assert len(results) == 9  # 7 active + 1 suppressed + 1 allowed
    kinds = sorted(r["suppressions"][0]["kind"] for r in results if "suppressions" in r)
    assert kinds == ["external", "inSource"]
    session = next(r for r in results if r["properties"]["assignedTo"] == "session")
    location = session["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "api/handlers.py", "uriBaseId": "SRCROOT"}
    assert location["region"]["startLine"] == 13 and location["region"]["startColumn"] == 19
    assert session["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "UserHandler.create"
    (note,) = run_["invocations"][0]["toolExecutionNotifications"]
    assert note["descriptor"]["id"] == "skipped/syntax_error"


def test_sarif_schema_rejects_a_broken_log() -> None:
    """The validation above can fail: a result without a message is not SARIF."""
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "r"}]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validators.validator_for(SARIF_SCHEMA)(SARIF_SCHEMA).validate(broken)


def test_prometheus_textfile(repo: Path, tmp_path: Path) -> None:
    prom = tmp_path / "scan.prom"
    code, _, _ = run(str(repo), "--prometheus", str(prom), "--json")
    assert code == 0
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(prom.read_text())
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("id_monitor_scan_call_sites", service="api", pattern="hex[:N]", scope="production") == 1
    assert value("id_monitor_scan_call_sites", service="api", pattern="str", scope="test") == 1
    assert value("id_monitor_scan_call_sites", service="background", pattern="bare", scope="production") == 0
    assert value("id_monitor_scan_files", service="api", scope="production", state="hits") == 1
    assert value("id_monitor_scan_files", service="background", scope="production", state="clean") == 1
    assert value("id_monitor_scan_exempt_call_sites", service="billing", reason="suppressed") == 1
    total = sum(v for (n, _), v in samples.items() if n == "id_monitor_scan_call_sites")
    assert total == 7


def test_baseline_then_ratchet_exit_codes(repo: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    code, _, err = run(str(repo), "--write-baseline", str(baseline), "--json")
    assert code == 0 and "baseline written" in err
    code, out, _ = run(str(repo), "--baseline", str(baseline), "--fail-on-increase")
    assert code == 0 and "Ratchet ok" in out
    # Migrate one api site and add one billing site: billing fails, api progresses.
    handlers = repo / "api" / "handlers.py"
    handlers.write_text(handlers.read_text().replace("return uuid4().hex\n", "return ids.new('thread')\n"))
    (repo / "billing" / "refunds.py").write_text("import uuid\n\ndef refund_id():\n    return uuid.uuid4().hex[:10]\n")
    code, out, _ = run(str(repo), "--baseline", str(baseline), "--fail-on-increase")
    assert code == 1
    assert "Ratchet failed" in out and "billing" in out and "billing/refunds.py:4:12" in out
    code, out, err = run(str(repo), "--baseline", str(baseline), "--fail-on-increase", "--json")
    assert code == 1
    document = json.loads(out)
    assert document["baseline"]["failed_services"] == ["billing"]
    assert document["services"]["api"]["migrated"] == pytest.approx(1 - 4 / 5)
    assert "new site: billing/refunds.py:4:12" in err
    # Without --fail-on-increase the same comparison is a report, not a failure; SARIF marks what
    # is new, and the textfile carries the per-service progress.
    prom = tmp_path / "scan.prom"
    code, out, _ = run(str(repo), "--baseline", str(baseline), "--sarif", "--prometheus", str(prom))
    assert code == 0
    log = json.loads(out)
    jsonschema.validators.validator_for(SARIF_SCHEMA)(SARIF_SCHEMA).validate(log)
    states = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r.get("baselineState"))
              for r in log["runs"][0]["results"]}
    assert ("billing/refunds.py", "new") in states and ("api/handlers.py", "unchanged") in states
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    ratio = {s.labels["service"]: s.value for s in families["id_monitor_scan_migrated_ratio"].samples}
    assert ratio["api"] == pytest.approx(0.2) and ratio["background"] == 1.0 and ratio["billing"] == 0.0
    baseline_sites = {s.labels["service"]: s.value for s in families["id_monitor_scan_baseline_call_sites"].samples}
    assert baseline_sites == {"(root)": 1, "api": 5, "background": 0, "billing": 1}


@pytest.mark.parametrize(
    "args",
    [
        ["--json", "--sarif"],
        ["--fail-on-increase"],
        ["/nonexistent/path"],
        ["--baseline", "/nonexistent/baseline.json"],
        ["--service", "no-equals-sign"],
        ["--target", "notdotted"],
        ["--jobs", "0"],
    ],
)
def test_usage_errors_exit_2(repo: Path, args: list[str]) -> None:
    code, _, _ = run(str(repo), *args) if not args[0].startswith("/") else run(*args)
    assert code == 2


def test_real_process_exit_codes(repo: Path, tmp_path: Path) -> None:
    """The installed entry point, as CI runs it."""
    command = [sys.executable, "-m", "id_monitor", "scan", str(repo), "--no-progress"]
    baseline = tmp_path / "b.json"
    assert subprocess.run([*command, "--write-baseline", str(baseline)], capture_output=True, check=False).returncode == 0
    (repo / "api" / "extra.py").write_text("import uuid\nX = uuid.uuid4()\n")
    failed = subprocess.run([*command, "--baseline", str(baseline), "--fail-on-increase"], capture_output=True, text=True, check=False)
    assert failed.returncode == 1 and "api/extra.py:2:5" in failed.stdout
    usage = subprocess.run([*command, "--fail-on-increase"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2 and "--fail-on-increase needs --baseline" in usage.stderr


def test_output_file_and_parallel_scan_agree(repo: Path, tmp_path: Path) -> None:
    for i in range(350):  # above the in-process threshold, so workers are used
        (repo / "api" / f"gen_{i}.py").write_text(f"import uuid\nID_{i} = str(uuid.uuid4())\n" if i % 5 == 0 else "x = 1\n")
    serial, parallel = tmp_path / "serial.json", tmp_path / "parallel.json"
    assert run(str(repo), "--json", "-o", str(serial), "--jobs", "1")[0] == 0
    assert run(str(repo), "--json", "-o", str(parallel), "--jobs", "2")[0] == 0
    one, two = json.loads(serial.read_text()), json.loads(parallel.read_text())
    assert one["sites"] == two["sites"] and one["services"] == two["services"]
    assert one["summary"]["sites"] == 7 + 70
