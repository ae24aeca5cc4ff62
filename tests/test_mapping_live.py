"""In-message mapping pairs checked live by `id-monitor run` on the real Kafka broker.

The messages carry the same planted pairs as the PostgreSQL tests (tests/support/mapping_data.py),
one pair per message, so the agent must report the same findings as `mapping check` does on the
table; the pair memory must also survive an agent restart (its SQLite state file).
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from tests.kafka_broker import AgentProcess, KafkaBroker, total
from tests.support import mapping_data
from tests.support.mapping_data import MAPPING, planted_table
from tests.test_agent_kafka import consume_all

pytestmark = [pytest.mark.kafka, pytest.mark.filterwarnings("ignore:.*Use files:DeprecationWarning")]


def message(legacy: str | None, target: str | None, user: str) -> bytes:
    body: dict = {"type": "session_mapped", "user_id": user}
    if legacy is not None:
        body["legacy_session_id"] = legacy
    if target is not None:
        body["session_id"] = target
    return orjson.dumps(body)


def config(broker: KafkaBroker, topic: str, group: str, state: Path, client: str) -> dict:
    return {
        "kafka": {"bootstrap_servers": broker.bootstrap, "group_id": group, "topics": [topic], "client": client},
        "violations": {"topic": f"{topic}-violations", "redact": "none"},
        "mappings": {MAPPING: {"legacy_paths": ["legacy_session_id"], "target_paths": ["session_id"],
                               "expect": ["session"], "covers": ["session_id"]}},
        "mapping_state": {"path": str(state)},
    }


def mapping_records(broker: KafkaBroker, topic: str) -> list[dict]:
    return [r for r in consume_all(broker, f"{topic}-violations") if r["rule"].startswith("mapping_")]


def test_live_pairs_give_the_same_findings_as_the_table(
        kafka_broker: KafkaBroker, tmp_path: Path, kafka_client: str) -> None:
    planted = planted_table(clean=400)
    topic = kafka_broker.create_topic()
    kafka_broker.create_topic(f"{topic}-violations")
    values = [message(legacy, target, user) for _id, legacy, target, user in planted.rows]
    # coverage: legacy IDs seen alone in the session_id field, mapped (by the pairs above) or not
    rng = random.Random(2)
    mapped = [legacy for _id, legacy, target, _u in planted.rows[:30] if legacy and target][:20]
    unmapped = [mapping_data.legacy(rng) for _ in range(7)]
    values += [orjson.dumps({"session_id": legacy}) for legacy in mapped + unmapped]
    kafka_broker.produce(topic, values)

    agent = AgentProcess(tmp_path, config(kafka_broker, topic, "live-mapping", tmp_path / "state.sqlite", kafka_client),
                         batch_size=50)
    try:
        samples = agent.wait_messages(len(values), timeout=120)
        source = f"kafka:{topic}"
        for rule, count in (("mapping_conflict", 2), ("mapping_malformed", 4), ("mapping_owner_mismatch", 1)):
            assert total(samples, "id_monitor_findings_total", source=source, field=MAPPING, rule=rule) == count
        records = mapping_records(kafka_broker, topic)
        assert {(r["rule"], r["id"]) for r in records} == planted.expected
        assert len(records) == len(planted.expected)
        # the planted row whose target is a uuid4 is one more unmapped legacy ID in session_id
        assert total(samples, "id_monitor_mapping_legacy_ids_total", mapping=MAPPING, covered="true") == 20
        assert total(samples, "id_monitor_mapping_legacy_ids_total", mapping=MAPPING, covered="false") == 8
        assert total(samples, "id_monitor_mapping_coverage_ratio", mapping=MAPPING) == pytest.approx(20 / 28)
    finally:
        agent.close()


def test_pairs_are_remembered_across_an_agent_restart(
        kafka_broker: KafkaBroker, tmp_path: Path, kafka_client: str) -> None:
    rng = random.Random(4)
    topic = kafka_broker.create_topic()
    kafka_broker.create_topic(f"{topic}-violations")
    user = mapping_data.user(rng)
    legacy, other_legacy = mapping_data.legacy(rng), mapping_data.legacy(rng)
    first, second = mapping_data.target(rng, user, 1), mapping_data.target(rng, user, 2)
    clean = [(mapping_data.legacy(rng), mapping_data.target(rng, user, 10 + i)) for i in range(50)]
    before = [message(legacy, first, user)] + [message(lg, tg, user) for lg, tg in clean]
    after = [message(legacy, second, user), message(other_legacy, first, user)] + \
        [message(lg, tg, user) for lg, tg in clean]  # replayed clean pairs stay clean
    state = tmp_path / "state.sqlite"
    cfg = config(kafka_broker, topic, "restart-mapping", state, kafka_client)

    kafka_broker.produce(topic, before)
    agent = AgentProcess(tmp_path, cfg, name="first", batch_size=20)
    try:
        agent.wait_messages(len(before), timeout=120)
        assert agent.terminate()[0] == 0
    finally:
        agent.close()
    assert mapping_records(kafka_broker, topic) == []

    kafka_broker.produce(topic, after)
    agent = AgentProcess(tmp_path, cfg, name="second", batch_size=20)
    try:
        samples = agent.wait_messages(len(after), timeout=120)
        assert total(samples, "id_monitor_findings_total", field=MAPPING, rule="mapping_conflict") == 2
        records = mapping_records(kafka_broker, topic)
        assert {(r["rule"], r["id"], r["detail"]) for r in records} == {
            ("mapping_conflict", legacy, "legacy ID seen with another target"),
            ("mapping_conflict", first, "target ID seen with another legacy ID"),
        }
    finally:
        agent.close()
