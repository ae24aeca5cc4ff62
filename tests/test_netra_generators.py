"""Every ID the platform's three generator modules return classifies as `target`, with its id_type,
its owner (`user_id[:8]`, whatever the user id looks like), its epoch timestamp, its counter and
its reference parts; a truncated clock is a part, never `timestamp_ms`.

The examples are written here from the formats documented in docs/schema.md ("Which generator
makes which format"), for three kinds of user id: a structured one, a uuid4 string and a short
test id. Reference parts are then checked by the judge against the referenced field.
"""

from __future__ import annotations

import pytest

from id_monitor.classify import Classifier
from id_monitor.config import Config, load_config
from id_monitor.judge import Judge

CLF = Classifier("netra", cache_size=0)
TS = 1764633600123  # 2025-12-02T00:00:00.123Z
NOW = TS + 60_000  # observation time, epoch ms

USERS = {
    "structured": "user_1757373103822_12_abcd1234",
    "uuid4": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
    "short": "u42",
}


def u8(user_id: str) -> str:
    return user_id[:8]


def tail8(other_id: str) -> str:
    """How the generator cuts an embedded id: the last `_` segment's first 8, else the first 8."""
    return other_id.split("_")[-1][:8] if "_" in other_id else other_id[:8]


def check(value: str, fmt: str, id_type: str, *, owner=None, ts=None, counter=None, **parts) -> None:
    info = CLF.classify(value)
    assert (info.status, info.format, info.id_type) == ("target", fmt, id_type), (value, info)
    assert (info.owner, info.timestamp_ms, info.counter) == (owner, ts, counter), (value, info)
    for key, want in parts.items():
        assert info.parts.get(key) == want, (value, key, info)


@pytest.fixture(params=list(USERS), ids=list(USERS))
def user(request) -> str:
    return USERS[request.param]


# ---- shared/id_generation/unified_id_generator.py --------------------------------------------

def test_generate_base_id_every_random_length():
    check(f"auth_user_{TS}_5_1c69903f", "base", "auth_user", ts=TS, counter=5, hex="1c69903f")
    check(f"evt_user_created_{TS}_6", "base", "evt_user_created", ts=TS, counter=6)  # include_random=False
    check(f"jti_{TS}_7_ab", "base", "jti", ts=TS, counter=7, hex="ab")  # random_length=2
    check(f"jti_{TS}_8_{'0f' * 32}", "base", "jti", ts=TS, counter=8, hex="0f" * 32)  # random_length=64
    check(f"jti_{TS}_9_", "base", "jti", ts=TS, counter=9)  # random_length=1: token_hex(0) is ""
    # generate_batch_ids(prefix, n): one timestamp, consecutive counters
    for c in (10, 11):
        check(f"batch_{TS}_{c}_0badf00d", "base", "batch", ts=TS, counter=c)


def test_generate_user_context_ids(user):
    # the user id does not appear in these three; run and req follow the thread's counter
    check("thread_context_41_1c69903f", "thread", "thread", counter=41, op="context")
    check("run_context_42_0a1b2c3d", "run", "run", counter=42, op="context")
    check("req_agent_execution_43_deadbeef", "req", "req", counter=43, op="agent_execution")


def test_websocket_connection_and_client_ids(user):
    check(f"ws_conn_{u8(user)}_{TS}_3_a2f73ae7", "ws_conn", "ws_conn", owner=u8(user), ts=TS, counter=3)
    check(f"ws_client_{u8(user)}_{TS}_4_a2f73ae7", "ws_client", "ws_client", owner=u8(user), ts=TS, counter=4)


def test_agent_execution_id(user):
    for agent_type in ("supervisor", "data_helper"):
        check(f"agent_{agent_type}_{u8(user)}_{TS}_5_a13ac404", "agent", "agent", owner=u8(user), ts=TS,
              counter=5, agent_type=agent_type)


def test_tool_execution_id_carries_its_agents_tail(user):
    agents = [f"agent_supervisor_{u8(user)}_{TS}_5_a13ac404", "9b2e4c1d-0f3a-4b5c-8d6e-7f8091a2b3c4",
              "agent_7_cafe0123"]
    for agent_id in agents:
        check(f"tool_web_search_{tail8(agent_id)}_{TS}_6_0badf00d", "tool", "tool", ts=TS, counter=6,
              name="web_search", agent8=tail8(agent_id))
    check(f"tool_web_search_{TS}_6_0badf00d", "tool", "tool", ts=TS, counter=6, name="web_search",
          agent8=None)


def test_message_id_carries_owner_and_threads_tail(user):
    threads = ["thread_chat_1757373103822_2_1c69903f", "3d5e7f90-1a2b-4c3d-9e8f-0a1b2c3d4e5f", "thread_7_0fa1b2c3"]
    for thread_id in threads:
        check(f"msg_user_{u8(user)}_{tail8(thread_id)}_{TS}_9_0badf00d", "msg", "msg", owner=u8(user), ts=TS,
              counter=9, type="user", thread8=tail8(thread_id))
    check(f"msg_system_{u8(user)}_{TS}_9_0badf00d", "msg", "msg", owner=u8(user), ts=TS, counter=9,
          type="system", thread8=None)


def test_session_and_error_context_ids(user):
    check(f"session_web_{u8(user)}_{TS}_1_0badf00d", "session", "session", owner=u8(user), ts=TS, counter=1,
          type="web")
    check(f"error_websocket_{u8(user)}_{TS}_4_0badf00d", "error", "error", owner=u8(user), ts=TS, counter=4,
          type="websocket")


@pytest.mark.parametrize("thread_name", ["shared_thread_name", "3d5e7f90-1a2b-4c3d-9e8f-0a1b2c3d4e5f", "t1"])
def test_get_or_create_user_session(user, thread_name):
    # with a caller-given thread name: the session's own thread carries the owner and the name's head
    check(f"thread_{u8(user)}_{thread_name[:8]}_session_{TS}_7_1c69903f", "session_thread", "thread",
          owner=u8(user), ts=TS, counter=7, thread_head=thread_name[:8], op="session")
    # without one, and the run and request of a new session (get_existing_session: a new req too)
    check(f"thread_session_{TS}_8_1c69903f", "thread", "thread", ts=TS, counter=8, op="session")
    check(f"run_session_{TS}_9_0a1b2c3d", "run", "run", ts=TS, counter=9, op="session")
    check(f"req_{TS}_10_deadbeef", "req", "req", ts=TS, counter=10)


def test_normalize_and_translate_legacy_context_ids():
    # a thread/run/req without a timestamp gets one inserted; websocket_factory forms are rebuilt
    check(f"thread_chat_{TS}_5_1c69903f", "thread", "thread", ts=TS, counter=5, op="chat")
    check(f"thread_websocket_factory_{TS}_528_584ef8a5", "thread", "thread", ts=TS, counter=528,
          op="websocket_factory")
    check(f"req_compatibility_{TS}_11_deadbeef", "req", "req", ts=TS, counter=11, op="compatibility")


def test_uuid_replacement_and_test_utilities():
    check("a2f73ae7", "hex8", "hex8", hex="a2f73ae7")
    check("order_test_3", "test_id", "order", counter=3, prefix="order")
    for kind in ("thread", "run", "req"):
        check(f"{kind}_test_12", "test_id", kind, counter=12, prefix=kind)


# ---- netra_backend/app/core/unified_id_manager.py ---------------------------------------------

@pytest.mark.parametrize("idtype", ["user", "session", "request", "agent", "tool", "transaction", "websocket",
                                    "execution", "trace", "metric", "thread"])
def test_manager_generate_id(idtype):
    check(f"{idtype}_3_f47ac10b", "manager", idtype, counter=3, idtype=idtype)
    check(f"chat_{idtype}_4_f47ac10b", "manager", idtype, counter=4, idtype=idtype, prefix="chat")


@pytest.mark.parametrize("thread_id", ["thread_chat_1757373103822_2_1c69903f", "3d5e7f90-1a2b-4c3d-9e8f-0a1b2c3d4e5f",
                                       "thread_user_175_shared_t_session_1757373103822_7_1c69903f",
                                       "thread_alice@ex_shared_t_session_1757373103822_7_1c69903f",
                                       "thread_3_0fa1b2c3", "thread_test_12"])
def test_manager_generate_run_id_carries_its_whole_thread(thread_id):
    for clock5 in ("0", "73103"):
        check(f"run_{thread_id}_{clock5}_f47ac10b", "run_thread", "run", thread=thread_id, clock5=clock5,
              hex="f47ac10b")


def test_manager_generate_thread_id_overlaps_the_managers_session_id():
    # `session_{clock5}_{uuid8}` cannot be told from generate_id(SESSION): the manager reading wins,
    # and prefixed with `thread_` by its caller it reads as a thread (docs/schema.md)
    check("session_73103_f47ac10b", "manager", "session", counter=73103)
    check("thread_session_73103_f47ac10b", "thread", "thread", counter=73103, op="session")


def test_manager_uuid_conversions():
    # convert_uuid_to_structured / register_uuid_as_structured / validate_and_normalize_id
    check("user_73103_f47ac10b", "manager", "user", counter=73103)
    check("chat_agent_73103_f47ac10b", "manager", "agent", counter=73103, prefix="chat")
    # convert_structured_to_uuid: the 8 hex padded to a v4-shaped uuid
    check("f47ac10b-0000-4000-8000-000000000000", "padded_uuid", "uuid", hex="f47ac10b")


def test_manager_websocket_and_compatible_context_ids(user):
    check(f"ws_conn_{u8(user)}_{TS}_3_a2f73ae7", "ws_conn", "ws_conn", owner=u8(user), ts=TS, counter=3)
    check("thread_context_41_1c69903f", "thread", "thread", counter=41)


# ---- netra_backend/app/websocket_core/connection_id_manager.py --------------------------------

@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_connection_id_manager(env):
    check(f"ws_{env}_{TS}_f47ac10b", "ws_env", "ws_conn", ts=TS, env=env, hex="f47ac10b")
    check(f"ws_{env}_{TS}_12345678", "ws_env", "ws_conn", ts=TS, env=env, hex="12345678")  # all-digit uuid head


# ---- references are judged against the referenced field ---------------------------------------

def judge() -> Judge:
    return Judge(load_config(env={}), Classifier("netra"))


def rules_of(message: dict) -> list[tuple[str, str]]:
    """Findings other than legacy_id (a uuid thread or agent id is legacy, rightly)."""
    return sorted((f.rule, f.field) for f in judge().check(message, NOW).findings if f.rule != "legacy_id")


@pytest.mark.parametrize("thread_id", ["thread_chat_1757373103822_2_1c69903f", "3d5e7f90-1a2b-4c3d-9e8f-0a1b2c3d4e5f"])
def test_run_and_message_references_follow_the_thread(user, thread_id):
    other = "thread_chat_1757373103822_3_ffffffff"
    good = {"user_id": user, "thread_id": thread_id, "run_id": f"run_{thread_id}_73103_f47ac10b",
            "message_id": f"msg_user_{u8(user)}_{tail8(thread_id)}_{TS}_9_0badf00d"}
    assert rules_of(good) == []
    assert rules_of({**good, "thread_id": other}) == [("mismatched_reference", "message_id"),
                                                      ("mismatched_reference", "run_id")]


def test_tool_reference_follows_the_agent(user):
    for agent_id in (f"agent_supervisor_{u8(user)}_{TS}_5_a13ac404", "9b2e4c1d-0f3a-4b5c-8d6e-7f8091a2b3c4"):
        good = {"user_id": user, "agent_id": agent_id, "tool_id": f"tool_search_{tail8(agent_id)}_{TS}_6_0badf00d"}
        assert rules_of(good) == []
        assert rules_of({**good, "agent_id": f"agent_planner_{u8(user)}_{TS}_5_0000aaaa"}) == [
            ("mismatched_reference", "tool_id")]


def test_session_thread_owner_is_judged_for_isolation():
    mine = "thread_user_175_shared_t_session_1757373103822_7_1c69903f"
    assert rules_of({"user_id": USERS["structured"], "thread_id": mine}) == []
    assert rules_of({"user_id": USERS["uuid4"], "thread_id": mine}) == [("isolation_breach", "thread_id")]


def test_default_references_point_at_the_referenced_fields():
    assert Config().policy.references == {"thread8": "thread_id", "agent8": "agent_id", "thread": "thread_id"}
