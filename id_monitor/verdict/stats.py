"""The statistics of a verdict: is the canary's share of bad IDs worse than the baseline's?

A one-sided two-proportion z-test against a margin: the canary fails only when its share exceeds
the baseline's times (1 + `relative`) plus `tolerance`, with confidence `1 - alpha`. The margin is
there because IDs are not independent draws: a thread's, run's or connection's ID repeats in many
messages, so one odd long-lived ID moves a share more than the ID count suggests. A regression
(a new format, a broken generator) moves a share by far more than the margin. A minimum count of
the denominator (`min_count`) decides before any test whether there is enough traffic at all, so
a quiet canary is inconclusive, never passed. Wilson intervals are shown for each side so a reader
sees the uncertainty behind each share.
"""

from __future__ import annotations

import math
from statistics import NormalDist

_NORMAL = NormalDist()


def share(hits: float, total: float) -> float:
    """hits / total, 0 for no traffic."""
    return hits / total if total > 0 else 0.0


def wilson_interval(hits: float, total: float, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion; (0, 1) without traffic."""
    if total <= 0:
        return 0.0, 1.0
    hits = min(max(hits, 0.0), total)
    z = _NORMAL.inv_cdf(0.5 + confidence / 2)
    p = hits / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def worse_p_value(baseline_hits: float, baseline_total: float, canary_hits: float, canary_total: float,
                  tolerance: float = 0.0, relative: float = 0.0) -> float:
    """p-value of "the canary's share is at most the baseline's times (1 + `relative`) plus
    `tolerance`" (a non-inferiority margin). Small means the canary is worse beyond the margin.

    The margin is tested with the unpooled (Wald) standard error of the plain difference of the
    two shares, the same for every margin, so a wider margin never makes a fail likelier. 1.0
    when either side has no traffic (no evidence).
    """
    if baseline_total <= 0 or canary_total <= 0:
        return 1.0
    p_b = min(max(baseline_hits, 0.0), baseline_total) / baseline_total
    p_c = min(max(canary_hits, 0.0), canary_total) / canary_total
    scale = 1.0 + relative
    difference = p_c - (p_b * scale + tolerance)
    variance = p_c * (1 - p_c) / canary_total + p_b * (1 - p_b) / baseline_total
    if variance <= 0:
        # Both shares exactly 0 or 1: worse exactly when the canary is beyond the margin.
        return 0.0 if difference > 0 else 1.0
    return 1.0 - _NORMAL.cdf(difference / math.sqrt(variance))
