"""The Kafka source for `kafka.client`: kafka-python (the default) or confluent-kafka.

Both implement `sources.source.CommittingSource` with the same guarantees, so the agent's loop
drives either without knowing which. The consumer settings are mapped onto the chosen client's own
names here (`config.kafka_consumer`), and a client that is not installed is a configuration error.
"""

from __future__ import annotations

from id_monitor.config import ConfigError, KafkaSpec
from id_monitor.config.kafka_consumer import consumer_settings, max_poll_records
from id_monitor.sources.source import CommittingSource


def open_kafka_source(spec: KafkaSpec, *, batch_size: int | None = None) -> CommittingSource:
    """The consumer group member `spec` describes; `batch_size` (`run --batch-size`) overrides
    `kafka.consumer.max_poll_records`."""
    consumer = spec.consumer
    if batch_size is not None:
        consumer = consumer.model_copy(update={"max_poll_records": batch_size})
    settings = consumer_settings(consumer, spec.client)
    if spec.client == "confluent-kafka":
        try:
            import confluent_kafka  # noqa: F401 - only to say what is missing
        except ImportError:
            raise ConfigError("kafka.client: confluent-kafka is not installed "
                              "(pip install 'id-monitor[confluent]')") from None
        from id_monitor.sources.kafka_confluent import ConfluentSource

        return ConfluentSource(spec.bootstrap_servers, spec.group_id, list(spec.topics), settings,
                               max_records=max_poll_records(consumer))
    from id_monitor.sources.kafka import KafkaSource

    return KafkaSource(spec.bootstrap_servers, spec.group_id, list(spec.topics), settings)
