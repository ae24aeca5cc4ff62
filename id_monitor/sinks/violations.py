"""Violation records: one JSON object per finding of severity `violation`, with where it was seen.

A record carries the rule, field, severity, format, id_type, the ID as redacted by the sink's
`Redactor` (never the raw value), and the source topic/partition/offset, so an operator can find
the message without the record itself leaking it. Kafka records also carry `rule` and
`field` as headers, so consumers can route or filter without parsing JSON.

Records are sent asynchronously and `flush()`ed before the agent commits the batch's offsets: a
record is never lost to a crash that the source offsets would not also replay.
"""

from __future__ import annotations

from typing import IO, Any, Protocol

import orjson

from id_monitor.model import Finding, Where
from id_monitor.sinks.redact import Redactor


def violation_record(finding: Finding, redactor: Redactor, *, source: str, observed_ms: int,
                     topic: str | None = None, partition: int | None = None,
                     offset: int | None = None) -> dict[str, Any]:
    """The record of one finding: the finding as the redactor shows it, plus where it was seen."""
    return {**redactor.finding(finding), "source": source, "topic": topic, "partition": partition,
            "offset": offset, "observed_ms": observed_ms}


class ViolationSink(Protocol):
    def emit(self, finding: Finding, where: Where) -> None: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self) -> None: ...


class StreamViolationSink:
    """JSON Lines on a text stream (stdout when the agent reads stdin)."""

    def __init__(self, stream: IO[str], redactor: Redactor | None = None) -> None:
        self.stream = stream
        self.redactor = redactor or Redactor()
        self.emitted = 0

    def emit(self, finding: Finding, where: Where) -> None:
        record = violation_record(finding, self.redactor, source=where.source, observed_ms=where.observed_ms,
                                  topic=where.topic, partition=where.partition, offset=where.offset)
        self.stream.write(orjson.dumps(record).decode() + "\n")
        self.emitted += 1

    def flush(self, timeout: float | None = None) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.flush()


class KafkaViolationSink:
    """Produces each record to `topic` (key: the source topic, so one source topic's violations
    stay ordered), with `rule` and `field` headers.

    The producer is created on first use, so a broker that is down when the agent starts delays
    the records instead of stopping the agent. `flush()` raises until every record of the batch is
    acknowledged; records whose delivery failed are sent again, never dropped.
    """

    def __init__(self, bootstrap_servers: str, topic: str, redactor: Redactor | None = None,
                 **producer_config: Any) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.redactor = redactor or Redactor()
        self.emitted = 0
        self.config = {"acks": "all", "linger_ms": 20, "retries": 5, "request_timeout_ms": 10000,
                       "max_block_ms": 5000, "reconnect_backoff_max_ms": 2000, **producer_config}
        self.producer: Any = None
        self._unsent: list[tuple[bytes, bytes | None, list[tuple[str, bytes]]]] = []
        self._inflight: list[tuple[Any, tuple[bytes, bytes | None, list[tuple[str, bytes]]]]] = []

    def _ensure_producer(self) -> Any:
        if self.producer is None:
            from kafka import KafkaProducer

            self.producer = KafkaProducer(bootstrap_servers=self.bootstrap_servers, **self.config)
        return self.producer

    def emit(self, finding: Finding, where: Where) -> None:
        topic = where.topic
        record = violation_record(finding, self.redactor, source=where.source, observed_ms=where.observed_ms,
                                  topic=topic, partition=where.partition, offset=where.offset)
        message = (orjson.dumps(record), topic.encode() if topic else None,
                   [("rule", finding.rule.encode()), ("field", finding.field.encode())])
        self.emitted += 1
        if self.producer is None:
            self._unsent.append(message)
        else:
            self._send(message)

    def _send(self, message: tuple[bytes, bytes | None, list[tuple[str, bytes]]]) -> None:
        value, key, headers = message
        try:
            future = self.producer.send(self.topic, value=value, key=key, headers=headers)
        except Exception:
            self._unsent.append(message)
            return
        self._inflight.append((future, message))

    def flush(self, timeout: float | None = None) -> None:
        """Return once every record emitted so far is acknowledged; raise otherwise (try again)."""
        self._ensure_producer()
        unsent, self._unsent = self._unsent, []
        for message in unsent:
            self._send(message)
        self.producer.flush(timeout=timeout)
        failed = []
        for future, message in self._inflight:
            if not future.is_done or future.failed():
                failed.append(message)
        self._inflight = []
        self._unsent.extend(failed)
        if self._unsent:
            raise RuntimeError(f"{len(self._unsent)} violation records not acknowledged yet")

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close(timeout=5)
