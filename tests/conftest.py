"""Shared pytest fixtures. Integration fixtures (Kafka broker, Prometheus server) live in
their own plugin modules under tests/ and are started once per session."""

pytest_plugins = ["tests.kafka_broker", "tests.prometheus_server", "tests.postgres_server"]
