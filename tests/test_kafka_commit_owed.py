"""The one-batch replay bound when commits fail, on the real broker, client by client.

The agent (a real `id-monitor run` process) is frozen with SIGSTOP while it works through a backlog,
until the group coordinator has expired its member; then it runs again. Its client still holds the
messages it prefetched and still believes it owns the partitions, while every commit it sends is
refused (the member is gone) until a rebalance takes the partitions away and hands them back from
the last commit. This is what a broker outage does to a consumer whose session runs out meanwhile.

A loop that recorded the next batch whenever a commit was merely answered, successful or not,
recorded batch after batch from that prefetched backlog with none committed, and the rebalance
replayed them all. Recording nothing while a commit is owed keeps the replay to the one batch
whose commit failed. Asserted: every message is counted (none skipped) and the repeats are at most
one batch. Nothing waits on a sleep: the test waits for the coordinator to report the member gone.
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

from tests.kafka_broker import AgentProcess, KafkaBroker, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.filterwarnings("ignore:.*Use files:DeprecationWarning")]

BATCH = 200
BACKLOG = 60_000
# The broker's shortest session, so the frozen member expires soon.
SHORT_SESSION = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000}


def group_members(broker: KafkaBroker, group: str) -> int:
    admin = broker.admin()
    try:
        return len(admin.describe_groups([group])[group]["members"])
    finally:
        admin.close()


def test_commits_refused_after_a_lost_session_replay_at_most_one_batch(
        kafka_broker: KafkaBroker, kafka_client: str, tmp_path: Path) -> None:
    topic = kafka_broker.create_topic(partitions=2)
    produced = kafka_broker.produce(topic, (b'{"thread_id": "t-%d", "user_id": "u"}' % i for i in range(BACKLOG)))
    group = f"owed-{uuid.uuid4().hex[:8]}"
    config = {
        "kafka": {"bootstrap_servers": kafka_broker.bootstrap, "group_id": group, "topics": [topic],
                  "client": kafka_client, "consumer": SHORT_SESSION},
        "limits": {"max_message_bytes": 4096},
    }
    agent = AgentProcess(tmp_path, config, batch_size=BATCH)
    try:
        wait_until(lambda: agent.messages() >= BATCH, timeout=60, interval=0.01,
                   message="the agent to count its first batch")
        os.kill(agent.proc.pid, signal.SIGSTOP)
        try:
            wait_until(lambda: group_members(kafka_broker, group) == 0, timeout=60, interval=0.5,
                       message="the coordinator to expire the frozen member")
        finally:
            os.kill(agent.proc.pid, signal.SIGCONT)
        ends = kafka_broker.end_offsets(topic)
        assert sum(ends.values()) == produced == BACKLOG

        def all_committed() -> bool:
            agent.assert_alive()
            return kafka_broker.committed(topic, group) == ends

        wait_until(all_committed, timeout=120, interval=0.5, message="every offset committed after the thaw")
        counted = agent.messages()
        events = [e["event"] for e in agent.log_events()]
        repeats = counted - produced
        print(f"\n{kafka_client}: {int(counted)} counted of {produced}, {int(repeats)} repeats; "
              f"held: {events.count('records_held')}, dropped: {events.count('batch_dropped')}, "
              f"assigned: {events.count('partitions_assigned')}")
        assert repeats >= 0, "messages skipped"
        assert repeats <= BATCH, f"{kafka_client}: {int(repeats)} repeats, more than one batch ({BATCH})"
        assert events.count("partitions_assigned") >= 2  # the rebalance did happen
        assert agent.terminate()[0] == 0
    finally:
        agent.close()
