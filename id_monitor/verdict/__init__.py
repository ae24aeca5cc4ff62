"""Rollout verdicts: compare a canary revision's ID health with its baseline's, from Prometheus.

`query` reads the counts from Prometheus' HTTP API, `stats` holds the one statistical test
(one-sided, volume-aware), `decide` turns counts into a verdict per signal and overall. The
command is `id-monitor verdict` (docs/rollout.md).
"""

from id_monitor.verdict.decide import FAIL, INCONCLUSIVE, PASS, Criteria, SignalVerdict, Verdict, decide
from id_monitor.verdict.query import SIGNALS, Counts, PrometheusClient, QueryError, read_counts

__all__ = ["FAIL", "INCONCLUSIVE", "PASS", "SIGNALS", "Counts", "Criteria", "PrometheusClient", "QueryError",
           "SignalVerdict", "Verdict", "decide", "read_counts"]
