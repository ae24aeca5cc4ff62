"""The `http` configuration section: where the OpenTelemetry and FastAPI layer finds IDs.

It names, for spans, which attribute keys carry IDs and under which field name each is judged,
and, for HTTP requests, which path parameters, headers, query parameters and JSON body fields do,
who the request's user is, and which rules reject a request instead of only counting it.

Field names become part of span attribute keys (`id_monitor.<field>.status`), so they follow the
OpenTelemetry attribute naming rules: lowercase snake_case, no dots.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from id_monitor.model import RULES

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# Semantic-convention attributes that hold identifiers, and the field each is judged as.
DEFAULT_SPAN_ATTRIBUTES: dict[str, str] = {
    "enduser.id": "enduser_id",
    "session.id": "session_id",
    "messaging.message.id": "message_id",
    "messaging.kafka.message.key": "message_key",
}


def _as_mapping(value: object) -> object:
    """Accept a list of names as shorthand for a mapping of each name to itself."""
    if isinstance(value, (list, tuple)):
        return {name: name for name in value}
    return value


def _check_field_names(mapping: dict[str, str]) -> dict[str, str]:
    for key, field in mapping.items():
        if not key:
            raise ValueError("empty name")
        if not FIELD_NAME.fullmatch(field):
            raise ValueError(
                f"field name {field!r} (for {key!r}) must be lowercase snake_case "
                "(letters, digits, underscores; starting with a letter)"
            )
    return mapping


class UserSourceSpec(BaseModel):
    """Where the request's user id comes from, for isolation checks.

    `header` reads a request header; `state` reads an attribute that an earlier middleware set on
    `request.state`. Code can pass a callable instead (`instrument_app(user_source=...)`).
    """

    model_config = ConfigDict(extra="forbid")

    header: str | None = "x-user-id"
    state: str | None = None

    @field_validator("header")
    @classmethod
    def _lower_header(cls, value: str | None) -> str | None:
        return value.lower() if value else None

    @model_validator(mode="after")
    def _one_source(self) -> UserSourceSpec:
        if self.header and self.state:
            raise ValueError("user: set either header or state, not both")
        return self


class HttpSpec(BaseModel):
    """Settings of the span processor and the FastAPI integration.

    `path_params` and `query_params` left unset mean "every parameter whose name is a configured
    field"; a list means "these names, each judged as the field of the same name"; a mapping
    names the field for each parameter. Headers are matched case-insensitively.
    """

    model_config = ConfigDict(extra="forbid")

    span_attributes: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SPAN_ATTRIBUTES))
    span_owner_attribute: str | None = "enduser.id"
    path_params: dict[str, str] | None = None
    query_params: dict[str, str] | None = None
    headers: dict[str, str] = Field(default_factory=lambda: {"x-request-id": "request_id"})
    body_fields: dict[str, str] = Field(default_factory=dict)
    max_body_bytes: int = Field(default=1_048_576, ge=0)
    user: UserSourceSpec = Field(default_factory=UserSourceSpec)
    enforce: list[str] = Field(default_factory=list)

    @field_validator("span_attributes", "path_params", "query_params", "headers", "body_fields", mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return _as_mapping(value)

    @field_validator("span_attributes", "path_params", "query_params", "body_fields")
    @classmethod
    def _names(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else _check_field_names(value)

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_field_names({name.lower(): field for name, field in value.items()})

    @field_validator("enforce", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """`ID_MONITOR_HTTP__ENFORCE=isolation_breach,legacy_id` from the environment."""
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("enforce")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        unknown = [rule for rule in value if rule not in RULES]
        if unknown:
            raise ValueError(f"unknown rule(s) {unknown}; known rules: {', '.join(RULES)}")
        return list(dict.fromkeys(value))
