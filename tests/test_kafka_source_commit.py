"""The Kafka sources' commit bound on the real broker, client by client: while the last commit is
unanswered, a source hands out no batch, however many messages its client has already fetched.

The run loop records a batch only once the previous commit is answered, but it stops waiting
after a bound (a coordinator that is gone or moving may not answer for many seconds); it then
polls again. Were the source to hand it the messages its client prefetched meanwhile, the loop
would record batch after batch with none committed, and a rebalance would replay all of them: the
one-batch replay bound of the agent would not hold. The broker is frozen with SIGSTOP, so the
commit is sent and stays unanswered until SIGCONT; nothing waits on a sleep.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from id_monitor.config import KafkaSpec
from id_monitor.sources.kafka_client import open_kafka_source
from tests.kafka_broker import KafkaBroker, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.filterwarnings("ignore:.*Use files:DeprecationWarning")]

BATCH = 100


@contextmanager
def frozen(broker: KafkaBroker) -> Iterator[None]:
    """The broker's JVM stopped (SIGSTOP): connections stay open, nothing is answered."""
    pid = int((broker.directory / "kafka.pid").read_text())
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def poll_within(source, timeout_ms: int, bound_s: float = 20):
    """`source.poll_batch(timeout_ms)` on a thread of its own: a poll that blocks in the client
    (librdkafka's, while a commit is stuck on a frozen broker) fails the test instead of hanging it
    with the broker left frozen."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(source.poll_batch(timeout_ms)), daemon=True)
    thread.start()
    thread.join(bound_s)
    assert not thread.is_alive(), f"poll_batch({timeout_ms}) had not returned after {bound_s} s"
    return result[0]


def first_batch(source):
    return wait_until(lambda: source.poll_batch(500), timeout=60, message="the first batch")


def test_no_batch_while_the_last_commit_is_unanswered(kafka_broker: KafkaBroker, kafka_client: str) -> None:
    topic = kafka_broker.create_topic()
    kafka_broker.produce(topic, (b'{"n": %d}' % i for i in range(20 * BATCH)))
    spec = KafkaSpec(bootstrap_servers=kafka_broker.bootstrap, group_id=f"unanswered-{uuid.uuid4().hex[:8]}",
                     topics=[topic], client=kafka_client)
    source = open_kafka_source(spec, batch_size=BATCH)
    try:
        batch = first_batch(source)
        # More is fetched than handed out: the next poll has a batch at once.
        second = source.poll_batch(500)
        assert second is not None
        offsets = {**batch.offsets, **second.offsets}
        with frozen(kafka_broker):
            pending = source.commit_async(offsets)
            assert pending is not None
            assert source.settle(pending, 300) is False  # unanswered: the loop stops waiting
            assert not pending.answered
            assert poll_within(source, 500) is None
            retry = source.commit_async(offsets)  # what the loop does next
            if retry is not None:
                assert source.settle(retry, 300) is False
            assert poll_within(source, 500) is None
        # Answered once the broker runs again: the messages held back come next, none skipped.
        wait_until(lambda: pending.answered, timeout=60, message="the commit's answer")
        # The loop still holds the offsets (its wait failed) and commits them again.
        wait_until(lambda: source.commit(offsets), timeout=60, message="the retried commit")
        after = first_batch(source)
        ((_, next_offset),) = offsets.items()
        assert after.chunks[0].records[0].offset == next_offset
        wait_until(lambda: source.commit(after.offsets), timeout=60, message="a commit after the thaw")
        assert kafka_broker.committed(topic, spec.group_id) == {0: after.chunks[0].records[-1].offset + 1}
    finally:
        source.close()
