"""The real-broker fixture itself: it serves produce/consume, and survives a stop/start with its data."""

from __future__ import annotations

import pytest

from tests.kafka_broker import KafkaBroker

pytestmark = [pytest.mark.kafka, pytest.mark.filterwarnings("ignore:.*Use files:DeprecationWarning")]


def _consume_all(broker: KafkaBroker, topic: str, expected: int) -> list[bytes]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, consumer_timeout_ms=15000,
    )
    try:
        values = []
        for record in consumer:
            values.append(record.value)
            if len(values) >= expected:
                break
        return values
    finally:
        consumer.close()


def test_topic_with_partitions_round_trips_records(kafka_broker: KafkaBroker) -> None:
    topic = kafka_broker.create_topic(partitions=3)
    sent = kafka_broker.produce(topic, (f"m{i}".encode() for i in range(300)))
    assert sent == 300
    offsets = kafka_broker.end_offsets(topic)
    assert sorted(offsets) == [0, 1, 2]
    assert sum(offsets.values()) == 300
    assert sorted(_consume_all(kafka_broker, topic, 300)) == sorted(f"m{i}".encode() for i in range(300))


def test_broker_restart_keeps_data(kafka_broker: KafkaBroker) -> None:
    topic = kafka_broker.create_topic()
    kafka_broker.produce(topic, [b"before"])
    kafka_broker.stop()
    assert not kafka_broker.is_running()
    kafka_broker.start()
    assert kafka_broker.is_running()
    kafka_broker.produce(topic, [b"after"])
    assert _consume_all(kafka_broker, topic, 2) == [b"before", b"after"]
