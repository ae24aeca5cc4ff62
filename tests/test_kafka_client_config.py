"""`kafka.client` and `kafka.consumer`: one set of names mapped onto each Kafka client's own settings.

The mapping is checked against the clients themselves (kafka-python's known keyword arguments, and
a real librdkafka consumer built from the settings, which rejects an unknown property), and a
setting one client cannot honour is a one-line configuration error naming it, never dropped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from id_monitor.config import ConfigError, KafkaSpec, load_config
from id_monitor.config.kafka_consumer import (
    CONSUMER_OPTIONS,
    KAFKA_CLIENTS,
    PER_CALL,
    ConsumerSpec,
    consumer_settings,
    max_poll_records,
    unsupported_options,
)

# A value each option accepts, as a user would write it.
SAMPLE = {
    "max_poll_records": 500, "fetch_min_bytes": 1, "fetch_max_bytes": 4 * 1024 * 1024,
    "max_partition_fetch_bytes": 1024 * 1024, "fetch_max_wait_ms": 100, "session_timeout_ms": 12000,
    "heartbeat_interval_ms": 2000, "max_poll_interval_ms": 120000, "auto_offset_reset": "latest",
    "reconnect_backoff_max_ms": 1000, "isolation_level": "read_committed", "client_id": "checker",
    "client_rack": "rack-a", "group_instance_id": "replica-0", "request_timeout_ms": 20000,
    "queued_max_messages_kbytes": 16384,
}


def _key(name: str, client: str) -> str | None:
    option = CONSUMER_OPTIONS[name]
    return option.kafka_python if client == "kafka-python" else option.confluent_kafka


def test_every_option_has_a_sample_and_a_spec_field() -> None:
    assert set(SAMPLE) == set(CONSUMER_OPTIONS) == set(ConsumerSpec.model_fields)


def test_kafka_python_settings_are_its_own_keyword_arguments() -> None:
    from kafka import KafkaConsumer

    supported = {n: v for n, v in SAMPLE.items() if _key(n, "kafka-python") is not None}
    settings = consumer_settings(ConsumerSpec(**supported), "kafka-python")
    assert set(settings) <= set(KafkaConsumer.DEFAULT_CONFIG)
    assert settings["max_poll_records"] == 500 and settings["auto_offset_reset"] == "latest"


def test_defaults_keep_the_kafka_python_tuning() -> None:
    """The agent's kafka-python consumer runs as before the confluent option existed."""
    assert consumer_settings(ConsumerSpec(), "kafka-python") == {
        "max_poll_records": 2000, "fetch_max_bytes": 8 * 1024 * 1024,
        "max_partition_fetch_bytes": 2 * 1024 * 1024, "fetch_max_wait_ms": 200,
        "session_timeout_ms": 10000, "heartbeat_interval_ms": 3000, "request_timeout_ms": 15000,
        "max_poll_interval_ms": 300000, "auto_offset_reset": "earliest", "reconnect_backoff_max_ms": 2000,
        "isolation_level": "read_uncommitted",
    }


@pytest.mark.parametrize("spec", [ConsumerSpec(), None], ids=["defaults", "every-option"])
def test_confluent_settings_are_accepted_by_librdkafka(spec: ConsumerSpec | None) -> None:
    from confluent_kafka import Consumer

    if spec is None:
        spec = ConsumerSpec(**{n: v for n, v in SAMPLE.items() if _key(n, "confluent-kafka") is not None})
    settings = consumer_settings(spec, "confluent-kafka")
    assert "max_poll_records" not in settings  # librdkafka takes the batch size per consume() call
    # librdkafka rejects unknown properties and bad values when the consumer is created; it does
    # not contact the (absent) broker for that.
    consumer = Consumer({"group.id": "g", "bootstrap.servers": "127.0.0.1:9", "log_level": 0, **settings})
    consumer.close()
    assert settings["auto.offset.reset"] == (spec.auto_offset_reset or "earliest")
    # The clients' defaults differ here; the project's is stated, so both behave alike.
    assert settings["isolation.level"] == (spec.isolation_level or "read_uncommitted")


@given(st.sets(st.sampled_from(sorted(SAMPLE))), st.sampled_from(KAFKA_CLIENTS))
def test_a_setting_is_mapped_or_refused_never_dropped(names: set[str], client: str) -> None:
    spec = ConsumerSpec(**{n: SAMPLE[n] for n in names})
    refused = {n for n in names if _key(n, client) is None}
    assert set(unsupported_options(spec, client)) == refused
    if refused:
        with pytest.raises(ValueError, match="cannot honour"):
            consumer_settings(spec, client)
        return
    settings = consumer_settings(spec, client)
    for name in names:
        key = _key(name, client)
        if key == PER_CALL:
            assert max_poll_records(spec) == SAMPLE[name]
        else:
            assert settings[key] == SAMPLE[name]


@pytest.mark.parametrize(("client", "option"), [("confluent-kafka", "request_timeout_ms"),
                                                ("kafka-python", "queued_max_messages_kbytes")])
def test_an_option_the_client_cannot_honour_is_a_one_line_config_error(
        tmp_path: Path, client: str, option: str) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(f"kafka:\n  client: {client}\n  consumer:\n    {option}: {SAMPLE[option]}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert "\n" not in message and str(path) in message
    assert f"consumer.{option}" in message and f"kafka.client {client}" in message


def test_client_from_the_environment_is_checked_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("kafka:\n  consumer:\n    request_timeout_ms: 20000\n")
    assert load_config(path).kafka.client == "kafka-python"
    monkeypatch.setenv("ID_MONITOR_KAFKA__CLIENT", "confluent-kafka")
    with pytest.raises(ConfigError, match="request_timeout_ms"):
        load_config(path)
    monkeypatch.setenv("ID_MONITOR_KAFKA__CLIENT", "librdkafka")
    with pytest.raises(ConfigError, match="kafka.client"):
        load_config(path)


def test_the_source_follows_kafka_client_and_batch_size() -> None:
    from id_monitor.sources.kafka import KafkaSource
    from id_monitor.sources.kafka_client import open_kafka_source
    from id_monitor.sources.kafka_confluent import ConfluentSource

    spec = KafkaSpec(bootstrap_servers="127.0.0.1:9", topics=["t"], consumer={"max_poll_records": 300})
    python_source = open_kafka_source(spec, batch_size=70)
    assert isinstance(python_source, KafkaSource) and python_source.settings["max_poll_records"] == 70
    assert open_kafka_source(spec).settings["max_poll_records"] == 300
    confluent = open_kafka_source(KafkaSpec(**{**spec.model_dump(), "client": "confluent-kafka"}))
    try:
        assert isinstance(confluent, ConfluentSource) and confluent.max_records == 300
    finally:
        confluent.close()


def test_librdkafka_refusing_a_value_is_a_config_error() -> None:
    from id_monitor.sources.kafka_client import open_kafka_source

    # librdkafka needs fetch.max.bytes >= message.max.bytes (1 MB); kafka-python has no such rule.
    spec = KafkaSpec(client="confluent-kafka", bootstrap_servers="127.0.0.1:9", topics=["t"],
                     consumer={"fetch_max_bytes": 64 * 1024, "max_partition_fetch_bytes": 32 * 1024})
    with pytest.raises(ConfigError, match="fetch.max.bytes") as raised:
        open_kafka_source(spec)
    assert "\n" not in str(raised.value)


def test_confluent_not_installed_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from id_monitor.sources.kafka_client import open_kafka_source

    monkeypatch.setitem(sys.modules, "confluent_kafka", None)  # makes `import confluent_kafka` fail
    with pytest.raises(ConfigError, match=r"id-monitor\[confluent\]"):
        open_kafka_source(KafkaSpec(client="confluent-kafka", topics=["t"]))


def test_both_sources_implement_the_interface_the_loop_drives() -> None:
    from id_monitor.sources.kafka import KafkaSource
    from id_monitor.sources.kafka_confluent import ConfluentSource
    from id_monitor.sources.source import CommittingSource, Source
    from id_monitor.sources.stream import StreamSource

    python_source = KafkaSource("127.0.0.1:9", "g", ["t"])
    confluent = ConfluentSource("127.0.0.1:9", "g", ["t"], {"log_level": 0})
    try:
        assert isinstance(python_source, CommittingSource) and isinstance(confluent, CommittingSource)
    finally:
        confluent.close()
    stream = StreamSource(__import__("io").BytesIO(b""), 1024)
    assert isinstance(stream, Source) and not isinstance(stream, CommittingSource)


def test_confluent_broker_errors_turn_readiness_and_log_once(caplog: pytest.LogCaptureFixture) -> None:
    """librdkafka reports a missing broker through its error callback, once per reconnect: before
    the first contact that is `broker_unreachable` (throttled), after it `broker_lost` (once)."""
    import logging

    from confluent_kafka import KafkaError

    from id_monitor.sources.kafka_confluent import ConfluentSource

    source = ConfluentSource("127.0.0.1:9", "g", ["t"], {"log_level": 0})
    try:
        caplog.set_level(logging.INFO, logger="id_monitor")
        down = KafkaError(KafkaError._TRANSPORT, "Connect to 127.0.0.1:9 failed")
        for _ in range(5):
            source._on_error(down)
        assert not source.reachable
        events = [r.getMessage() for r in caplog.records]
        assert events.count("broker_unreachable") == 1 and "broker_lost" not in events
        source._on_assign(None, [])  # the group answered: the broker is there
        assert source.reachable
        for _ in range(3):
            source._on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN))
        events = [r.getMessage() for r in caplog.records]
        assert not source.reachable and events.count("broker_lost") == 1
        source.contact.reached()
        assert source.reachable and [r.getMessage() for r in caplog.records][-1] == "broker_reachable_again"
    finally:
        source.close()
