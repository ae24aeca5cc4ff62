"""The `http` configuration section: defaults, shorthands, validation errors, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from id_monitor.config import ConfigError, load_config
from id_monitor.config.http import DEFAULT_SPAN_ATTRIBUTES, HttpSpec


def test_defaults() -> None:
    spec = load_config().http
    assert spec.span_attributes == DEFAULT_SPAN_ATTRIBUTES
    assert spec.span_owner_attribute == "enduser.id"
    assert spec.headers == {"x-request-id": "request_id"}
    assert spec.path_params is None and spec.query_params is None
    assert spec.body_fields == {}
    assert spec.user.header == "x-user-id" and spec.user.state is None
    assert spec.enforce == []


def test_lists_are_shorthand_and_headers_are_case_insensitive() -> None:
    spec = HttpSpec(body_fields=["thread_id", "run_id"], headers={"X-Request-ID": "request_id"},
                    user={"header": "X-Auth-User"})
    assert spec.body_fields == {"thread_id": "thread_id", "run_id": "run_id"}
    assert spec.headers == {"x-request-id": "request_id"}
    assert spec.user.header == "x-auth-user"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"enforce": ["isolation_beach"]}, "unknown rule"),
        ({"span_attributes": {"app.id": "App.Id"}}, "lowercase snake_case"),
        ({"body_fields": {"x": "with-dash"}}, "lowercase snake_case"),
        ({"user": {"header": "x-user", "state": "user"}}, "either header or state"),
        ({"max_body_bytes": -1}, "greater than or equal"),
        ({"headerz": {}}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_are_clear_errors(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HttpSpec(**data)


def test_yaml_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("http:\n  enforce: [isolation_breach]\n  query_params: [thread_id]\n")
    config = load_config(path, env={})
    assert config.http.enforce == ["isolation_breach"]
    assert config.http.query_params == {"thread_id": "thread_id"}
    env = {"ID_MONITOR_HTTP__ENFORCE": "isolation_breach,unknown_format"}
    assert load_config(env=env).http.enforce == ["isolation_breach", "unknown_format"]
    path.write_text("http:\n  enforce: [nope]\n")
    with pytest.raises(ConfigError, match=r"c\.yaml.*http\.enforce.*unknown rule"):
        load_config(path, env={})


def test_example_service_config_loads() -> None:
    from examples.chat_service.app import load_service_config

    config = load_service_config(["isolation_breach"])
    assert config.http.enforce == ["isolation_breach"]
    assert config.http.body_fields == {"connection_id": "connection_id", "reply_to": "message_id"}
    assert load_service_config().http.enforce == []
