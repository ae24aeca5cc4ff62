"""Pytest plugin: a real Prometheus server (the Debian `prometheus` binary) per test.

`prometheus_factory(scrape_jobs, rule_files=...)` writes a config with a short (default 1 s)
scrape and evaluation interval, starts `prometheus` on a free 127.0.0.1 port with a temporary
data directory, waits until it is ready and returns a `PrometheusServer` with small helpers over the HTTP API (`query`,
`alerts`, `targets`, `wait_for`). Servers are stopped when the test ends. Nothing here touches a
system Prometheus that the Debian package may have started on :9090.

Also here: `textfile_exporter`, a tiny HTTP server that serves a Prometheus text-format file the
way node_exporter's textfile collector would (for the scanner's `--prometheus` output), and the
Grafana template substitution the dashboard tests share (`dashboard_queries`, `substitute`).

Registered from tests/conftest.py via `pytest_plugins`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.net import free_port
from tests.support.processes import stop_process
import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "alerts" / "id-monitor.rules.yml"
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))

T = TypeVar("T")


class PrometheusError(RuntimeError):
    pass


@dataclass
class PrometheusServer:
    """One running Prometheus; `url` is `http://127.0.0.1:<port>`."""

    process: subprocess.Popen
    port: int
    directory: Path
    log_path: Path
    config_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET /api/v1/<path>; returns `data`, raises PrometheusError with Prometheus' own message."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
            raise PrometheusError(f"{path}: {body.get('errorType')}: {body.get('error')}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"{path}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; returns the result vector (a scalar comes back as one unlabelled sample)."""
        data = self.api("query", {"query": expr})
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        if data["resultType"] == "matrix":
            return [{"metric": s["metric"], "value": s["values"][-1]} for s in data["result"] if s["values"]]
        return data["result"]

    def alerts(self) -> list[dict[str, Any]]:
        return self.api("alerts")["alerts"]

    def targets(self) -> list[dict[str, Any]]:
        return self.api("targets")["activeTargets"]

    def rule_groups(self) -> list[dict[str, Any]]:
        return self.api("rules")["groups"]

    def label_values(self, label: str, match: str | None = None) -> list[str]:
        params = {"match[]": match} if match else None
        return self.api(f"label/{label}/values", params)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, what: str, probe: Callable[[], T | None], timeout: float = 60, every: float = 0.5) -> T:
        """Poll `probe` until it returns something truthy; fail with `what` and the server log tail."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PrometheusError(f"prometheus exited ({self.process.returncode}):\n{self.log()[-3000:]}")
            try:
                result = probe()
                if result:
                    return result
            except (PrometheusError, OSError) as exc:
                last_error = exc
            time.sleep(every)
        raise AssertionError(
            f"timed out after {timeout:.0f} s waiting for {what}"
            + (f" (last error: {last_error})" if last_error else "")
            + f"\nprometheus log tail:\n{self.log()[-2000:]}"
        )

    def wait_until_scraped(self, job: str, timeout: float = 60) -> None:
        """Wait until every target of `job` has been scraped successfully at least once."""

        def healthy() -> bool:
            mine = [t for t in self.targets() if t["labels"].get("job") == job]
            return bool(mine) and all(t["health"] == "up" for t in mine)

        self.wait_for(f"job {job} scraped and up", healthy, timeout)

    def stop(self) -> None:
        stop_process(self.process)


def prometheus_config(
    scrape_jobs: Mapping[str, Sequence[str]],
    rule_files: Sequence[Path],
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
) -> dict[str, Any]:
    """A config scraping each job's `host:port` targets every `scrape_interval` (the timeout is the
    whole interval) and evaluating the rules every `evaluation_interval`."""
    return {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": evaluation_interval,
        },
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(targets)}]}
            for job, targets in scrape_jobs.items()
        ],
    }


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def start_prometheus(
    directory: Path,
    scrape_jobs: Mapping[str, Sequence[str]],
    rule_files: Sequence[Path] = (),
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    timeout: float = 60,
) -> PrometheusServer:
    binary = prometheus_binary()
    if binary is None:
        raise PrometheusError("prometheus is not installed: run scripts/bootstrap")
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "prometheus.yml"
    config_path.write_text(
        yaml.safe_dump(prometheus_config(scrape_jobs, rule_files, scrape_interval, evaluation_interval))
    )
    port = free_port()
    log_path = directory / "prometheus.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1d",
            "--log.level=info",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=directory,
    )
    log.close()
    server = PrometheusServer(process, port, directory, log_path, config_path)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        server.wait_for("prometheus /-/ready", ready, timeout)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[..., PrometheusServer]]:
    """Start Prometheus servers for this test: `prometheus_factory({"job": ["127.0.0.1:9464"]},
    rule_files=[RULES])`. Fails (not skips) when the binary is missing: CI installs it."""
    if prometheus_binary() is None:
        pytest.fail("prometheus is not installed: run scripts/bootstrap (Debian package `prometheus`)")
    servers: list[PrometheusServer] = []

    def factory(scrape_jobs: Mapping[str, Sequence[str]], rule_files: Sequence[Path] = (), **kw: Any):
        server = start_prometheus(tmp_path / f"prometheus-{len(servers)}", scrape_jobs, rule_files, **kw)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


# -- a textfile collector stand-in -------------------------------------------------------------


@dataclass
class TextfileExporter:
    """Serves the current content of `path` (Prometheus text format) at /metrics."""

    path: Path
    server: ThreadingHTTPServer = field(repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_textfile(path: Path) -> TextfileExporter:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/metrics":
                self.send_error(404)
                return
            body = path.read_bytes() if path.exists() else b""
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return TextfileExporter(path, server)


@pytest.fixture
def textfile_exporter() -> Iterator[Callable[[Path], TextfileExporter]]:
    exporters: list[TextfileExporter] = []

    def factory(path: Path) -> TextfileExporter:
        exporter = serve_textfile(path)
        exporters.append(exporter)
        return exporter

    yield factory
    for exporter in exporters:
        exporter.close()


# -- Grafana's side of a panel query -----------------------------------------------------------


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref: str
    expr: str

    @property
    def name(self) -> str:
        return f"{self.dashboard}: {self.panel} [{self.ref}]"


def load_dashboard(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries(dashboard: Mapping[str, Any]) -> list[PanelQuery]:
    return [
        PanelQuery(dashboard["uid"], panel["title"], t["refId"], t["expr"])
        for panel in iter_panels(dashboard)
        for t in panel.get("targets", [])
        if t.get("expr")
    ]


def variable_query(variable: Mapping[str, Any]) -> str | None:
    query = variable.get("query")
    if isinstance(query, Mapping):
        query = query.get("query")
    return query if variable.get("type") == "query" else None


LABEL_VALUES = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$", re.DOTALL)


def substitute(expr: str, values: Mapping[str, Sequence[str] | str], intervals: Mapping[str, str]) -> str:
    """Expand Grafana variables the way its Prometheus datasource does: a multi-value variable
    becomes the regex alternation `(a|b)` (values regex-escaped); `$__rate_interval` and friends
    become fixed durations."""
    for name, duration in intervals.items():
        expr = expr.replace(name, duration)

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"unknown template variable ${name} in {expr!r}")
        value = values[name]
        if isinstance(value, str):
            return value
        if not value:
            return f"__no_values_for_{name}__"  # matches nothing, and says why in a failure
        escaped = [re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\\\1", v) for v in value]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, expr)


def resolve_variables(
    server: PrometheusServer, dashboard: Mapping[str, Any], intervals: Mapping[str, str]
) -> dict[str, list[str] | str]:
    """Ask Prometheus for each query variable's values in order (later variables may use earlier
    ones), as Grafana does on load, and select them all."""
    values: dict[str, list[str] | str] = {"datasource": "prometheus"}
    for variable in dashboard["templating"]["list"]:
        query = variable_query(variable)
        if query is None:
            continue
        match = LABEL_VALUES.match(query.strip())
        assert match, f"{variable['name']}: only label_values(...) variable queries are supported: {query}"
        selector = match.group("selector")
        if selector:
            selector = substitute(selector, values, intervals)
        found = server.label_values(match.group("label"), selector)
        values[variable["name"]] = found
    return values


# -- Alertmanager and a receiver that records what it is sent -----------------------------------


@dataclass
class Capture:
    """An HTTP endpoint standing in for PagerDuty and Slack: records every POST (path, JSON body)."""

    server: ThreadingHTTPServer = field(repr=False)
    received: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def posts(self, path: str) -> list[Any]:
        return [body for p, body in list(self.received) if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_capture() -> Capture:
    received: list[tuple[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                received.append((self.path, json.loads(body or b"null")))
            except ValueError:
                received.append((self.path, body.decode(errors="replace")))
            self.send_response(202 if self.path.startswith("/pagerduty") else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Capture(server, received)


@dataclass
class AlertmanagerServer:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts", data=json.dumps(alerts).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=10) as response:
            return json.load(response)

    def stop(self) -> None:
        stop_process(self.process)


def alertmanager_binary() -> str | None:
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def start_alertmanager(directory: Path, config: Mapping[str, Any], timeout: float = 60) -> AlertmanagerServer:
    binary = alertmanager_binary()
    if binary is None:
        raise PrometheusError("alertmanager is not installed: run scripts/bootstrap")
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    port = free_port()
    log_path = directory / "alertmanager.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # no gossip: a single local instance
            ],
            stdout=log, stderr=subprocess.STDOUT, cwd=directory,
        )
    server = AlertmanagerServer(process, port, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PrometheusError(f"alertmanager exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise PrometheusError(f"alertmanager not ready after {timeout} s:\n{log_path.read_text()[-3000:]}")
