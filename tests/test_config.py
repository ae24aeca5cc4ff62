"""Configuration: defaults for the netra envelope, YAML files, environment overrides, errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from id_monitor.config import Config, ConfigError, load_config

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "config"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "id-monitor.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_describes_the_netra_envelope():
    config = load_config(env={})
    for name in ("thread_id", "run_id", "request_id", "event_id", "connection_id", "message_id", "agent_id"):
        paths = config.fields[name].paths
        assert paths == [name, f"payload.{name}", f"data.{name}"]
    assert config.fields["thread_id"].expect == ["thread"]
    assert config.fields["connection_id"].required == ["connection_established"]
    assert config.owner.paths == ["user_id", "payload.user_id", "data.user_id"] and config.owner.width == 8
    assert config.schema == "netra"
    assert config.kafka is None and config.violations is None
    assert config.metrics.listen == "0.0.0.0:9464"
    assert config.policy.legacy == "warn"
    assert config.policy.max_future_skew == timedelta(hours=1)
    assert config.policy.max_age == timedelta(days=365)
    assert config.limits.max_id_length == 256


def test_yaml_file_with_durations_and_sections(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """
schema: standard
fields:
  thread_id: {paths: [thread_id, payload.thread_id], expect: [thread], required: true, legacy: violation}
owner: {paths: [payload.user_id], width: 6}
policy:
  legacy: allow
  max_future_skew: 90s
  max_age: 2w
  severity: {timestamp_skew: off, owner_collision: violation}
kafka: {bootstrap_servers: "broker:9092", topics: [a, b]}
violations: {redact: hash}
""",
        ),
        env={},
    )
    assert config.schema == "standard"
    assert list(config.fields) == ["thread_id"]  # a file's fields replace the defaults
    assert config.fields["thread_id"].required is True and config.fields["thread_id"].legacy == "violation"
    assert config.owner.width == 6
    assert config.policy.max_future_skew == timedelta(seconds=90)
    assert config.policy.max_age == timedelta(weeks=2)
    assert config.policy.severity == {"timestamp_skew": "off", "owner_collision": "violation"}
    assert config.kafka.topics == ["a", "b"] and config.kafka.group_id == "id-monitor"
    assert config.violations.redact == "hash" and config.violations.topic


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_empty_file_is_the_default(tmp_path, text):
    assert load_config(write(tmp_path, text), env={}) == Config()


def test_environment_overrides_nested_keys():
    config = load_config(
        env={
            "ID_MONITOR_KAFKA__BOOTSTRAP_SERVERS": "kafka-0:9092",
            "ID_MONITOR_KAFKA__TOPICS": "agent-events,audit",
            "ID_MONITOR_POLICY__LEGACY": "violation",
            "ID_MONITOR_POLICY__MAX_AGE": "30d",
            "ID_MONITOR_FIELDS__THREAD_ID__REQUIRED": "true",
            "ID_MONITOR_FIELDS__RUN_ID__EXPECT": "[run, thread]",
            "ID_MONITOR_LIMITS__CACHE_SIZE": "10",
            "ID_MONITOR_CONFIG": "/not/a/section",  # not a section: ignored
            "OTHER_VAR": "x",
        }
    )
    assert config.kafka.bootstrap_servers == "kafka-0:9092" and config.kafka.topics == [
        "agent-events",
        "audit",
    ]
    assert config.policy.legacy == "violation" and config.policy.max_age == timedelta(days=30)
    # the override edits the default fields, it does not replace them
    assert config.fields["thread_id"].required is True and config.fields["thread_id"].paths[0] == "thread_id"
    assert config.fields["run_id"].expect == ["run", "thread"]
    assert "connection_id" in config.fields
    assert config.limits.cache_size == 10


def test_environment_overrides_a_file_and_can_clear_a_section(tmp_path):
    path = write(tmp_path, "kafka: {bootstrap_servers: 'a:1'}\nmetrics: {listen: '127.0.0.1:1'}\n")
    config = load_config(path, env={"ID_MONITOR_KAFKA": "null", "id_monitor_metrics__listen": "127.0.0.1:2"})
    assert config.kafka is None
    assert config.metrics.listen == "127.0.0.1:2"


def test_env_defaults_to_process_environment(monkeypatch):
    monkeypatch.setenv("ID_MONITOR_POLICY__LEGACY", "allow")
    assert load_config().policy.legacy == "allow"


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "kafka: {bootstrap_server: x}\n",
            "kafka.bootstrap_server: unknown key (did you mean 'bootstrap_servers'?)",
        ),
        (
            "fields:\n  thread_id: {paths: [thread_id], expct: [thread]}\n",
            "fields.thread_id.expct: unknown key",
        ),
        ("colour: blue\n", "colour: unknown key"),
        ("policy: {legacy: maybe}\n", "policy.legacy: Input should be 'allow', 'warn' or 'violation'"),
        ("policy: {max_age: forever}\n", "policy.max_age:"),
        ("policy: {max_age: -1d}\n", "policy.max_age:"),
        ("policy: {severity: {legacy_id: off}}\n", "legacy_id is graded by policy.legacy"),
        ("fields: {}\n", "fields: at least one field is needed"),
        ("fields:\n  t: {paths: []}\n", "fields.t.paths: at least one path is needed"),
        ("fields:\n  t: {paths: ['a..b']}\n", "empty segment"),
        ("fields:\n  t: {expect: [thread]}\n", "fields.t.paths: Field required"),
        ("metrics: {listen: 9464}\n", "metrics.listen:"),
        ("policy: {references: {thread8: conversation_id}}\n", "'conversation_id' is not a configured field"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("policy: [\n", "YAML syntax error"),
    ],
)
def test_errors_name_file_key_and_problem(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    message = str(err.value)
    assert message.startswith(str(path)), message
    assert expected in message
    assert "\n" not in message


def test_yaml_syntax_error_has_line_number(tmp_path):
    path = write(tmp_path, "schema: netra\npolicy: {legacy: warn\n")
    with pytest.raises(ConfigError, match=r"id-monitor.yaml:\d+:\d+: YAML syntax error"):
        load_config(path, env={})


def test_environment_errors_name_the_variable():
    with pytest.raises(
        ConfigError, match=r"^ID_MONITOR_KAFKA__PORT \(environment\): kafka.port: unknown key"
    ):
        load_config(env={"ID_MONITOR_KAFKA__PORT": "1"})
    with pytest.raises(
        ConfigError, match=r"^ID_MONITOR_LIMITS__CACHE_SIZE \(environment\): limits.cache_size"
    ):
        load_config(env={"ID_MONITOR_LIMITS__CACHE_SIZE": "lots"})
    with pytest.raises(ConfigError, match=r"^ID_MONITOR_POLICY__SEVERITY__SPEED \(environment\)"):
        load_config(env={"ID_MONITOR_POLICY__SEVERITY__SPEED": "off"})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml", env={})


def test_sections_are_extensible_by_subclassing_free_models():
    # Other parts add a section with one field on Config; unknown keys stay errors meanwhile.
    assert "kafka" in Config.model_fields and "limits" in Config.model_fields


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_load(path):
    config = load_config(path, env={})
    assert config.fields


def test_netra_example_is_the_builtin_default():
    # the commented example documents the default: it must not drift from it
    assert load_config(EXAMPLES / "netra.yaml", env={}) == load_config(env={})


def test_example_configs_exist():
    names = {p.name for p in EXAMPLES.glob("*.yaml")}
    assert len(names) >= 3, names
