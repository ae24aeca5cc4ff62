"""From counts to a verdict: per signal pass | fail | inconclusive, and one overall.

- `isolation_breaches`: any breach on the canary fails at once, whatever the volume (a breach is
  one user seeing another's data; no baseline makes it acceptable).
- the shares (violation ratio, unknown, legacy, malformed): inconclusive while the canary (or the
  baseline) has fewer than `min_count` in the denominator; fail when the one-sided test
  (`stats.worse_p_value`) says the canary is worse than the baseline times (1 + `relative`) plus
  `tolerance`, at `alpha`;
  pass otherwise.

Overall: fail if any signal fails, else inconclusive if any is, else pass. Not enough traffic is
never a pass unless the caller asks for it (`inconclusive_passes`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from id_monitor.verdict.query import Counts
from id_monitor.verdict.stats import share, wilson_interval, worse_p_value

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
EXIT_CODES = {PASS: 0, FAIL: 1, INCONCLUSIVE: 3}


@dataclass(frozen=True)
class Criteria:
    min_count: int = 300
    alpha: float = 0.01
    tolerance: float = 0.01
    relative: float = 0.5
    inconclusive_passes: bool = False


@dataclass(frozen=True)
class SignalVerdict:
    signal: str
    baseline: Counts
    canary: Counts
    decision: str
    reason: str
    p_value: float | None = None

    @property
    def baseline_share(self) -> float:
        return share(self.baseline.hits, self.baseline.total)

    @property
    def canary_share(self) -> float:
        return share(self.canary.hits, self.canary.total)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["baseline_share"] = self.baseline_share
        data["canary_share"] = self.canary_share
        data["difference"] = self.canary_share - self.baseline_share
        data["canary_interval"] = wilson_interval(self.canary.hits, self.canary.total)
        data["baseline_interval"] = wilson_interval(self.baseline.hits, self.baseline.total)
        return data


@dataclass(frozen=True)
class Verdict:
    decision: str
    signals: list[SignalVerdict]

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.decision]


def decide_signal(signal: str, baseline: Counts, canary: Counts, criteria: Criteria) -> SignalVerdict:
    if signal == "isolation_breaches":
        if canary.hits > 0:
            return SignalVerdict(signal, baseline, canary, FAIL, f"{canary.hits:g} breach(es) on the canary")
        if canary.total < criteria.min_count:
            return SignalVerdict(signal, baseline, canary, INCONCLUSIVE,
                                 f"canary has {canary.total:g} < {criteria.min_count} messages")
        return SignalVerdict(signal, baseline, canary, PASS, "no breach on the canary")
    for side, counts in (("canary", canary), ("baseline", baseline)):
        if counts.total < criteria.min_count:
            return SignalVerdict(signal, baseline, canary, INCONCLUSIVE,
                                 f"{side} has {counts.total:g} < {criteria.min_count}")
    p_value = worse_p_value(baseline.hits, baseline.total, canary.hits, canary.total,
                            criteria.tolerance, criteria.relative)
    if p_value < criteria.alpha:
        return SignalVerdict(signal, baseline, canary, FAIL, f"worse than baseline (p={p_value:.2g})", p_value)
    return SignalVerdict(signal, baseline, canary, PASS, f"not worse (p={p_value:.2g})", p_value)


def decide(baseline: dict[str, Counts], canary: dict[str, Counts], criteria: Criteria | None = None) -> Verdict:
    criteria = criteria or Criteria()
    signals = [decide_signal(name, baseline[name], canary[name], criteria) for name in canary]
    decisions = {s.decision for s in signals}
    if FAIL in decisions:
        overall = FAIL
    elif INCONCLUSIVE in decisions:
        overall = PASS if criteria.inconclusive_passes else INCONCLUSIVE
    else:
        overall = PASS
    return Verdict(overall, signals)
