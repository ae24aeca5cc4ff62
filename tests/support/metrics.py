"""Reading a Prometheus text exposition: the one parser the tests use (prometheus-client's own)."""

from __future__ import annotations

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

COUNTED_FAMILIES = (
    "id_monitor_ids_total",
    "id_monitor_findings_total",
    "id_monitor_messages_total",
    "id_monitor_id_age_seconds_count",
)


def parse_metrics(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, keyed by (sample name, labels)."""
    from prometheus_client.parser import text_string_to_metric_families

    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def registry_samples(registry: object) -> Samples:
    """`parse_metrics` of what a prometheus-client registry exposes now."""
    from prometheus_client import generate_latest

    return parse_metrics(generate_latest(registry).decode())  # type: ignore[arg-type]


def counted(samples: Samples) -> Samples:
    """Only the counts that depend on the messages (not on timing): IDs, findings, messages, ages."""
    return {key: value for key, value in samples.items() if key[0] in COUNTED_FAMILIES}


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of a sample over every series whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, lbls), v in samples.items() if n == name and want <= lbls)
