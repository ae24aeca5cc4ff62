"""The `kafka.consumer` settings, and how each maps onto the two Kafka clients the agent can drive.

The agent consumes with kafka-python (the default, pure Python) or confluent-kafka (librdkafka,
`kafka.client: confluent-kafka`, extra `id-monitor[confluent]`). Both are tuned through one set of
names, so a deployment can switch clients without rewriting its configuration. `CONSUMER_OPTIONS`
is the one table of those names: the project's default and each client's own setting. A setting
one client has no equivalent for is a configuration error when that client is configured, never
silently dropped (`unsupported_options`).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

KafkaClient = Literal["kafka-python", "confluent-kafka"]
KAFKA_CLIENTS: tuple[str, ...] = ("kafka-python", "confluent-kafka")

# librdkafka takes no "records per poll" setting: the batch size is an argument of each
# `consume()` call. The table marks it so, and the confluent source reads `max_poll_records`.
PER_CALL = "(per consume call)"


class ConsumerOption(NamedTuple):
    """One consumer setting: the project's default (None: the client's own) and each client's name
    for it (None: that client cannot honour it)."""

    default: Any
    kafka_python: str | None
    confluent_kafka: str | None


CONSUMER_OPTIONS: dict[str, ConsumerOption] = {
    "max_poll_records": ConsumerOption(2000, "max_poll_records", PER_CALL),
    "fetch_min_bytes": ConsumerOption(None, "fetch_min_bytes", "fetch.min.bytes"),
    "fetch_max_bytes": ConsumerOption(8 * 1024 * 1024, "fetch_max_bytes", "fetch.max.bytes"),
    "max_partition_fetch_bytes": ConsumerOption(2 * 1024 * 1024, "max_partition_fetch_bytes",
                                                "max.partition.fetch.bytes"),
    "fetch_max_wait_ms": ConsumerOption(200, "fetch_max_wait_ms", "fetch.wait.max.ms"),
    "session_timeout_ms": ConsumerOption(10000, "session_timeout_ms", "session.timeout.ms"),
    "heartbeat_interval_ms": ConsumerOption(3000, "heartbeat_interval_ms", "heartbeat.interval.ms"),
    "max_poll_interval_ms": ConsumerOption(300000, "max_poll_interval_ms", "max.poll.interval.ms"),
    "auto_offset_reset": ConsumerOption("earliest", "auto_offset_reset", "auto.offset.reset"),
    # kafka-python backs off reconnects up to 30 s by default: far too slow to notice a broker
    # that came back. librdkafka's default is 10 s.
    "reconnect_backoff_max_ms": ConsumerOption(2000, "reconnect_backoff_max_ms", "reconnect.backoff.max.ms"),
    # The clients disagree on the default (librdkafka reads committed only): the project picks one.
    "isolation_level": ConsumerOption("read_uncommitted", "isolation_level", "isolation.level"),
    "client_id": ConsumerOption(None, "client_id", "client.id"),
    "client_rack": ConsumerOption(None, "client_rack", "client.rack"),
    "group_instance_id": ConsumerOption(None, "group_instance_id", "group.instance.id"),
    # librdkafka has no per-request timeout for the consumer's group and fetch requests.
    "request_timeout_ms": ConsumerOption(15000, "request_timeout_ms", None),
    # kafka-python prefetches at most one fetch response; librdkafka queues up to this much in the
    # background (its default, 64 MB, took the agent's peak RSS from ~95 to ~170 MB while checking
    # is far slower than fetching, so a deep queue buys nothing).
    "queued_max_messages_kbytes": ConsumerOption(16 * 1024, None, "queued.max.messages.kbytes"),
}


class ConsumerSpec(BaseModel):
    """`kafka.consumer`: consumer tuning in the project's names (see `CONSUMER_OPTIONS`); an unset
    key takes the project's default for the configured client."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    max_poll_records: int | None = Field(None, ge=1, le=100_000)
    fetch_min_bytes: int | None = Field(None, ge=1)
    fetch_max_bytes: int | None = Field(None, ge=1024)
    max_partition_fetch_bytes: int | None = Field(None, ge=1024)
    fetch_max_wait_ms: int | None = Field(None, ge=0, le=300_000)
    session_timeout_ms: int | None = Field(None, ge=1000)
    heartbeat_interval_ms: int | None = Field(None, ge=1)
    max_poll_interval_ms: int | None = Field(None, ge=1000)
    auto_offset_reset: Literal["earliest", "latest"] | None = None
    reconnect_backoff_max_ms: int | None = Field(None, ge=0)
    isolation_level: Literal["read_uncommitted", "read_committed"] | None = None
    client_id: str | None = Field(None, min_length=1)
    client_rack: str | None = Field(None, min_length=1)
    group_instance_id: str | None = Field(None, min_length=1)
    request_timeout_ms: int | None = Field(None, ge=1000)
    queued_max_messages_kbytes: int | None = Field(None, ge=1)


def unsupported_options(consumer: ConsumerSpec, client: str) -> list[str]:
    """The settings given in `consumer` that `client` has no equivalent for."""
    return [name for name in sorted(consumer.model_fields_set)
            if getattr(consumer, name) is not None and _client_key(name, client) is None]


def consumer_settings(consumer: ConsumerSpec, client: str) -> dict[str, Any]:
    """`consumer` in `client`'s own setting names, project defaults filled in; settings the client
    takes per call (`PER_CALL`) and settings left to the client's default are left out. Raises
    ValueError for a setting the client cannot honour (a loaded config never has one)."""
    unsupported = unsupported_options(consumer, client)
    if unsupported:
        raise ValueError(f"kafka.client {client} cannot honour kafka.consumer.{unsupported[0]}")
    settings: dict[str, Any] = {}
    for name, option in CONSUMER_OPTIONS.items():
        key = _client_key(name, client)
        value = getattr(consumer, name)
        if value is None:
            value = option.default
        if key is None or key == PER_CALL or value is None:
            continue
        settings[key] = value
    return settings


def max_poll_records(consumer: ConsumerSpec) -> int:
    """The batch size: records per poll (kafka-python) or per `consume()` call (librdkafka)."""
    value = consumer.max_poll_records
    return value if value is not None else CONSUMER_OPTIONS["max_poll_records"].default


def _client_key(name: str, client: str) -> str | None:
    option = CONSUMER_OPTIONS[name]
    if client == "kafka-python":
        return option.kafka_python
    if client == "confluent-kafka":
        return option.confluent_kafka
    raise ValueError(f"unknown kafka client {client!r} (clients: {', '.join(KAFKA_CLIENTS)})")
