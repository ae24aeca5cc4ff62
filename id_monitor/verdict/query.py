"""Reading a verdict's counts from Prometheus' HTTP API (`/api/v1/query`, instant vectors).

Each signal is a count of bad things and a count of everything, both as
`sum(increase(<metric>{<selector>,...}[<window>]))` over the raw counters, so the selectors may
use any label Prometheus has: the agent's `revision`, or a pod label that relabelling put on a
sidecar's series (docs/rollout.md). No recording rule is needed on the Prometheus queried.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

# signal -> (bad count expression, total count expression); {s} is the selector
SIGNALS: dict[str, tuple[str, str]] = {
    "violation_ratio": ('id_monitor_findings_total{{{s}severity="violation",rule!="isolation_breach"}}',
                        "id_monitor_ids_total{{{s}}}"),
    "unknown_share": ('id_monitor_ids_total{{{s}status="unknown"}}', "id_monitor_ids_total{{{s}}}"),
    "legacy_share": ('id_monitor_ids_total{{{s}status="legacy"}}', "id_monitor_ids_total{{{s}}}"),
    "malformed_share": ('id_monitor_messages_total{{{s}result="malformed"}}', "id_monitor_messages_total{{{s}}}"),
    "isolation_breaches": ('id_monitor_findings_total{{{s}rule="isolation_breach"}}',
                           'id_monitor_messages_total{{{s}result="ok"}}'),
}
_WINDOW = re.compile(r"[0-9]+(ms|s|m|h|d|w|y)")
_MATCHER = re.compile(r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*')


class QueryError(Exception):
    """Prometheus could not be asked or answered an error: one line, for exit code 2."""


@dataclass(frozen=True)
class Counts:
    """The bad and total count of one signal on one side."""

    hits: float
    total: float


def check_selector(selector: str) -> str:
    """A selector is label matchers, `revision="green"` or `a="x",b=~"y.*"` (braces optional).
    Returns it normalised to end with a comma, ready to put in front of more matchers."""
    body = selector.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    body = body.strip().rstrip(",")
    if not body:
        raise ValueError("empty selector: give label matchers such as revision=\"green\"")
    position = 0
    while position < len(body):
        match = _MATCHER.match(body, position)
        if match is None:
            raise ValueError(f"not a label matcher at {body[position:position + 30]!r}: "
                             'use label="value" (also !=, =~, !~), separated by commas')
        position = match.end()
        if position < len(body):
            if body[position] != ",":
                raise ValueError(f"expected ',' between label matchers at {body[position:position + 30]!r}")
            position += 1
    return body + ","


def check_window(window: str) -> str:
    if not _WINDOW.fullmatch(window):
        raise ValueError(f"window {window!r}: use a Prometheus duration such as 10m, 1h")
    return window


def expression(template: str, selector: str, window: str) -> str:
    return f"sum(increase({template.format(s=selector)}[{window}]))"


class PrometheusClient:
    """Instant queries against one Prometheus (`url` such as http://prometheus:9090)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"--prometheus {url!r}: expected an http(s) URL such as http://prometheus:9090")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def scalar(self, expr: str) -> float:
        """The value of an expression that yields at most one sample (0 for an empty result)."""
        query = urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = _error_of(exc)
            raise QueryError(f"Prometheus at {self.url} answered {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise QueryError(f"cannot reach Prometheus at {self.url}: {reason}") from None
        except ValueError:
            raise QueryError(f"Prometheus at {self.url} answered something that is not JSON") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            raise QueryError(f"Prometheus at {self.url}: {body.get('error') if isinstance(body, dict) else body}")
        result = body.get("data", {}).get("result", [])
        if not result:
            return 0.0
        try:
            return float(result[0]["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            raise QueryError(f"Prometheus at {self.url}: unexpected result for {expr}") from None


def _error_of(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("error", exc.reason))
    except (ValueError, AttributeError, OSError):
        return str(exc.reason)


def read_counts(client: PrometheusClient, selector: str, window: str) -> dict[str, Counts]:
    """Every signal's counts for one side; counts are rounded (increase() extrapolates) and a bad
    count never exceeds its total."""
    counts: dict[str, Counts] = {}
    for signal, (hits, total) in SIGNALS.items():
        total_value = round(client.scalar(expression(total, selector, window)))
        hits_value = round(client.scalar(expression(hits, selector, window)))
        if signal != "isolation_breaches":
            hits_value = min(hits_value, total_value)
        counts[signal] = Counts(float(hits_value), float(total_value))
    return counts
