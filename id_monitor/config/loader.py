"""Typed configuration: one YAML file, then environment overrides, validated by pydantic.

`load_config()` with no file gives the built-in configuration for the default (netra) message
envelope, so `id-monitor check` and the agent work out of the box on that platform's traffic.
Every model forbids unknown keys: a misspelt key is an error that names the file, the key path
and the problem, never a silently ignored setting.

Environment overrides use `ID_MONITOR_<SECTION>__<KEY>` (`__` separates nesting levels, names
are case-insensitive): `ID_MONITOR_KAFKA__BOOTSTRAP_SERVERS=broker:9092`,
`ID_MONITOR_POLICY__LEGACY=violation`, `ID_MONITOR_FIELDS__THREAD_ID__REQUIRED=true`. A value
starting with `[` or `{` is read as YAML flow (`[a, b]`), `null` clears a section, anything
else is a string that pydantic converts; list settings also accept `a,b`. Variables whose
first segment is not a config section (e.g. `ID_MONITOR_CONFIG`) are not overrides.

Other parts add their own section by adding one field to `Config` (e.g. `http`).
"""

from __future__ import annotations

import difflib
import os
import re
import warnings
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from id_monitor.config.http import HttpSpec
from id_monitor.config.kafka_consumer import KAFKA_CLIENTS, ConsumerSpec, KafkaClient, unsupported_options
from id_monitor.config.safe_yaml import YamlError, read_text, shown
from id_monitor.config.safe_yaml import load as load_yaml
from id_monitor.model import RULES

ENV_PREFIX = "ID_MONITOR_"
ENV_DELIMITER = "__"
MAX_PATH_SEGMENTS = 16

LegacyPolicy = Literal["allow", "warn", "violation"]
RedactMode = Literal["mask", "hash", "none"]
RuleSeverity = Literal["violation", "warning", "off"]
EngineChoice = Literal["auto", "native", "python"]


class ConfigError(Exception):
    """A configuration that cannot be used; str() is one line naming file, key and problem."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _parse_duration(value: Any) -> Any:
    """`1h`, `30m`, `365d`, `500ms`; plain numbers are seconds; ISO 8601 (`PT1H`) passes to pydantic."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            try:
                return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
            except OverflowError:
                raise ValueError("duration too large (at most 999999999 days)") from None
    return value


def _split_commas(value: Any) -> Any:
    """Lists may be written `a,b` (handy in environment variables)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _yaml_off(value: Any) -> Any:
    """YAML reads a bare `off` as false; in a severity it means the rule is off."""
    return "off" if value is False else value


def _parse_required(value: Any) -> Any:
    """`required` is a bool or a list of message types; from the environment it arrives as text."""
    if isinstance(value, str):
        if value.strip().lower() in ("true", "yes", "on", "1"):
            return True
        if value.strip().lower() in ("false", "no", "off", "0", ""):
            return False
        return _split_commas(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]
StrList = Annotated[list[str], BeforeValidator(_split_commas)]


def _check_path(path: str) -> str:
    segments = path.split(".")
    if len(segments) > MAX_PATH_SEGMENTS:
        raise ValueError(f"path {path!r} has more than {MAX_PATH_SEGMENTS} segments")
    if any(not s.strip() or s != s.strip() for s in segments):
        raise ValueError(f"path {path!r} has an empty segment or stray spaces")
    return path


def _check_paths(paths: list[str]) -> list[str]:
    if not paths:
        raise ValueError("at least one path is needed")
    return [_check_path(p) for p in paths]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors; values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FieldSpec(Section):
    """Where one ID field lives in a message and what it must hold.

    `paths`: dotted paths tried in order, all values found are checked (`payload.thread_id`,
    `*` for list items: `payload.messages.*.id`). `expect`: allowed id_types (exact, or a prefix
    ending in `*` such as `evt_*`); empty = any type. `required`: true, or the message types
    (value at `message.type_paths`, `*` suffix allowed) for which the field must be present.
    `legacy`: overrides `policy.legacy` for this field.
    """

    paths: StrList
    expect: StrList = Field(default_factory=list)
    required: Annotated[bool | list[str], BeforeValidator(_parse_required)] = False
    legacy: LegacyPolicy | None = None

    _paths = field_validator("paths")(_check_paths)


class OwnerSpec(Section):
    """Who the message belongs to: the first string found at `paths`. Owner-bearing IDs embed
    the first `width` characters of it (`user_id[:8]`)."""

    paths: StrList = Field(default_factory=lambda: ["user_id", "payload.user_id", "data.user_id"])
    width: int = Field(default=8, ge=1, le=256)

    _paths = field_validator("paths")(_check_paths)


class MessageSpec(Section):
    """Envelope facts other than IDs: where the message type is (for type-dependent `required`)."""

    type_paths: StrList = Field(default_factory=lambda: ["type", "payload.type", "event_type"])

    _paths = field_validator("type_paths")(_check_paths)


class PolicySpec(Section):
    """How findings are graded.

    `legacy`: allow (no finding) | warn | violation, overridable per field. `max_future_skew` /
    `max_age`: bounds of an embedded timestamp relative to the observation time. `references`:
    embedded reference part -> field it points at (msg's `thread8` is the tail of `thread_id`,
    tool's `agent8` the tail of `agent_id`, run_thread's `thread` the whole `thread_id`). `shape_only_types`: id_types that name a shape, not a kind of ID (a uuid can be
    anything), so they never count as `unexpected_type`. `severity`: per-rule override
    (violation | warning | off).
    """

    legacy: LegacyPolicy = "warn"
    max_future_skew: Duration = timedelta(hours=1)
    max_age: Duration = timedelta(days=365)
    references: dict[str, str] = Field(
        default_factory=lambda: {"thread8": "thread_id", "agent8": "agent_id", "thread": "thread_id"}
    )
    shape_only_types: StrList = Field(default_factory=lambda: ["uuid", "hex8", "ulid", "ksuid", "snowflake"])
    severity: dict[str, Annotated[RuleSeverity, BeforeValidator(_yaml_off)]] = Field(default_factory=dict)

    @field_validator("severity")
    @classmethod
    def _known_rules(cls, value: dict[str, str]) -> dict[str, str]:
        for rule in value:
            if rule not in RULES or rule == "legacy_id":
                hint = "legacy_id is graded by policy.legacy; " if rule == "legacy_id" else ""
                known = ", ".join(r for r in RULES if r != "legacy_id")
                raise ValueError(f"{hint}unknown rule {rule!r} (rules: {known})")
        return value

    @field_validator("max_future_skew", "max_age")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value


class KafkaSpec(Section):
    """The Kafka source of the agent (absent: the agent reads JSON Lines from stdin)."""

    bootstrap_servers: str = "localhost:9092"
    group_id: str = "id-monitor"
    topics: StrList = Field(default_factory=lambda: ["agent-events"], min_length=1)
    workers: int = Field(1, ge=1, le=64)  # checking processes (`id-monitor run --workers` wins)
    # Which client consumes (docs/agent.md): kafka-python is pure Python; confluent-kafka
    # (librdkafka, extra `id-monitor[confluent]`) is for topics kafka-python cannot keep up with.
    client: KafkaClient = "kafka-python"
    consumer: ConsumerSpec = Field(default_factory=ConsumerSpec)

    @model_validator(mode="after")
    def _client_honours_consumer(self) -> KafkaSpec:
        unsupported = unsupported_options(self.consumer, self.client)
        if unsupported:
            others = [c for c in KAFKA_CLIENTS if c != self.client]
            raise ValueError(f"consumer.{unsupported[0]} is not a setting kafka.client {self.client} can "
                             f"honour (only {', '.join(others)} has it); remove it or change kafka.client")
        return self


def _check_listen(value: str) -> str:
    _host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port, got {value!r}")
    return value


class UnknownShapesSpec(Section):
    """Live shape tracking of unknown IDs (`/debug/shapes`, `id_monitor_unknown_shapes`): the top
    `top` shapes per field are exported; a literal word appears in a shape only once `min_support`
    distinct IDs share it; each field keeps at most `capacity` candidate shapes (docs/discover.md)."""

    enabled: bool = True
    top: int = Field(default=10, ge=1, le=100)
    min_support: int = Field(default=20, ge=1)
    capacity: int = Field(default=64, ge=4, le=4096)


class MetricsSpec(Section):
    """Where the Prometheus endpoint listens, and live shape tracking of unknown IDs."""

    listen: str = "0.0.0.0:9464"
    unknown_shapes: UnknownShapesSpec = Field(default_factory=UnknownShapesSpec)

    _listen = field_validator("listen")(_check_listen)


class ViolationsSpec(Section):
    """Where violation records go (a Kafka topic) and how IDs are shown in them."""

    topic: str = "id-monitor-violations"
    redact: RedactMode = "mask"


_REVISION_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}")
MAX_REVISIONS = 16


class RevisionSpec(Section):
    """The `revision` label (off unless this section is present): which deployment revision of
    the producing service a message, request or span belongs to, for rollout verdicts.

    The value comes from a Kafka `header`, else a message `field` (a dotted path), else this
    process's `own` revision (a sidecar, the in-process layer; `ID_MONITOR_REVISION__OWN`). Only
    `values` (and `own`) become labels; anything else, or no value at all, is counted as `other`.
    """

    values: StrList = Field(default_factory=list)
    header: str | None = None
    field: str | None = None
    own: str | None = None

    @field_validator("values")
    @classmethod
    def _label_safe(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _REVISION_VALUE.fullmatch(item) or item == "other":
                raise ValueError(f"revision value {item!r}: use letters, digits, _ . - (at most 63), not 'other'")
        if len(set(value)) > MAX_REVISIONS:
            raise ValueError(f"at most {MAX_REVISIONS} revision values, got {len(set(value))}")
        return list(dict.fromkeys(value))

    @field_validator("own")
    @classmethod
    def _own_label_safe(cls, value: str | None) -> str | None:
        if value is not None and (not _REVISION_VALUE.fullmatch(value) or value == "other"):
            raise ValueError(f"revision {value!r}: use letters, digits, _ . - (at most 63), not 'other'")
        return value

    @model_validator(mode="after")
    def _some_source(self) -> RevisionSpec:
        if self.own is not None and self.own not in self.values:
            if len(self.values) >= MAX_REVISIONS:
                raise ValueError(f"own revision {self.own!r} is not among the {MAX_REVISIONS} values")
            self.values.append(self.own)
        if not self.values:
            raise ValueError("revision needs `values` (the revisions to tell apart) or `own`")
        if self.header is None and self.field is None and self.own is None:
            raise ValueError("revision needs a `header`, a `field` or an `own` revision to read it from")
        return self

    @property
    def labels(self) -> tuple[str, ...]:
        """Every value the revision label can take: the configured ones and `other`."""
        return (*self.values, "other")


class LimitsSpec(Section):
    """Bounds that keep memory and time per message fixed whatever the input."""

    max_message_bytes: int = Field(default=1 << 20, ge=64)
    max_depth: int = Field(default=64, ge=2, le=1000)
    max_id_length: int = Field(default=256, ge=8)
    max_ids_per_message: int = Field(default=256, ge=1)
    cache_size: int = Field(default=65536, ge=0)
    # owner-collision tracking: at most this many prefixes, ~1.4 KiB each when shared by 16 owners
    max_tracked_owners: int = Field(default=20_000, ge=0)


_SQL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?")


def _check_sql_name(value: str) -> str:
    """Table and column names are quoted into SQL, so only plain identifiers are accepted."""
    if not _SQL_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a plain SQL name (letters, digits, _; optionally schema.table)")
    return value


SqlName = Annotated[str, BeforeValidator(_check_sql_name)]


class MappingTableSpec(Section):
    """Where a mapping lives in a database: the table, its legacy and target columns, optionally
    the column holding the row's user (for `mapping_owner_mismatch`), and a unique key column.
    Indexes on (legacy, key) and (target, key) keep each page of the scan an index range read."""

    name: SqlName
    legacy_column: SqlName = "legacy_id"
    target_column: SqlName = "target_id"
    owner_column: SqlName | None = None
    key_column: SqlName = "id"  # a unique column: the tie-breaker of keyset pagination


class MappingSpec(Section):
    """One legacy -> target ID mapping (docs/mapping.md).

    `legacy_paths` / `target_paths`: where a message carries the pair (in-message checks; both or
    neither). `table`: where the mapping table is (`id-monitor mapping check`). `expect`: the
    id_types the target side must have (empty: any target). `owner_paths`: where a message's user
    is (default: the `owner` section's paths). `covers`: the fields whose legacy IDs this mapping
    should map, for its coverage gauge.
    """

    legacy_paths: StrList = Field(default_factory=list)
    target_paths: StrList = Field(default_factory=list)
    expect: StrList = Field(default_factory=list)
    owner_paths: StrList | None = None
    table: MappingTableSpec | None = None
    covers: StrList = Field(default_factory=list)

    @field_validator("legacy_paths", "target_paths")
    @classmethod
    def _paths_ok(cls, value: list[str]) -> list[str]:
        return [_check_path(p) for p in value]

    @model_validator(mode="after")
    def _pair_or_table(self) -> MappingSpec:
        if bool(self.legacy_paths) != bool(self.target_paths):
            raise ValueError("legacy_paths and target_paths go together (both or neither)")
        if not self.legacy_paths and self.table is None:
            raise ValueError("a mapping needs legacy_paths + target_paths, a table, or both")
        return self


class MappingStateSpec(Section):
    """What the mapping checks remember across messages and runs: a local SQLite file holding at
    most `max_pairs` pairs per mapping (the capacity is documented in docs/mapping.md)."""

    path: str = ".id-monitor/mappings.sqlite"
    max_pairs: int = Field(default=10_000_000, ge=1)


def _netra_field(name: str, expect: list[str], *, required: bool | list[str] = False) -> FieldSpec:
    return FieldSpec(paths=[name, f"payload.{name}", f"data.{name}"], expect=expect, required=required)


def default_fields() -> dict[str, FieldSpec]:
    """The ID fields of the netra envelope: flat agent events, nested `payload` / `data` forms,
    `connection_established` events (which must carry a `connection_id`).

    `user_id` is the message owner (see OwnerSpec), not a checked field: platform user ids
    include test and external ids that were never generated. Add it as a field to judge it.
    """
    return {
        "thread_id": _netra_field("thread_id", ["thread"]),
        "run_id": _netra_field("run_id", ["run"]),
        "request_id": _netra_field("request_id", ["req", "request"]),
        "event_id": _netra_field("event_id", ["evt_*", "event"]),
        "connection_id": _netra_field(
            "connection_id", ["ws_conn", "ws_client", "websocket"], required=["connection_established"]
        ),
        "client_id": _netra_field("client_id", ["ws_client", "websocket"]),
        "agent_id": _netra_field("agent_id", ["agent"]),
        "tool_id": _netra_field("tool_id", ["tool"]),
        "message_id": _netra_field("message_id", ["msg"]),
        "session_id": _netra_field("session_id", ["session", "auth_session"]),
        "error_id": _netra_field("error_id", ["error"]),
    }


with warnings.catch_warnings():
    # `schema` is the documented key; it shadows pydantic's deprecated BaseModel.schema().
    warnings.simplefilter("ignore")

    class Config(Section):
        """The whole configuration (docs/design.md lists the sections)."""

        schema: str = "netra"
        # which engine checks batches: `auto` (native when built and it supports this config, else
        # python with a one-line notice), `native` (an error when it cannot run), `python`
        engine: EngineChoice = "auto"
        fields: dict[str, FieldSpec] = Field(default_factory=default_fields)
        owner: OwnerSpec = Field(default_factory=OwnerSpec)
        message: MessageSpec = Field(default_factory=MessageSpec)
        policy: PolicySpec = Field(default_factory=PolicySpec)
        kafka: KafkaSpec | None = None
        metrics: MetricsSpec = Field(default_factory=MetricsSpec)
        violations: ViolationsSpec | None = None
        limits: LimitsSpec = Field(default_factory=LimitsSpec)
        http: HttpSpec = Field(default_factory=HttpSpec)  # the OpenTelemetry / FastAPI layer
        mappings: dict[str, MappingSpec] = Field(default_factory=dict)
        mapping_state: MappingStateSpec = Field(default_factory=MappingStateSpec)

        @field_validator("mappings")
        @classmethod
        def _mapping_names(cls, value: dict[str, MappingSpec]) -> dict[str, MappingSpec]:
            for name in value:
                if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", name):
                    raise ValueError(f"mapping name {name!r}: use letters, digits, _ . - (at most 64)")
            return value
        revision: RevisionSpec | None = None  # off by default: no revision label

        @field_validator("fields")
        @classmethod
        def _some_fields(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
            if not value:
                raise ValueError("at least one field is needed")
            for name in value:
                if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", name):
                    raise ValueError(f"field name {name!r}: use letters, digits, _ . - (at most 64)")
            return value

        @model_validator(mode="after")
        def _mappings_fit(self) -> Config:
            for name, spec in self.mappings.items():
                if name in self.fields:
                    raise ValueError(f"mappings.{name}: the name is also a field; metrics need distinct names")
                for covered in spec.covers:
                    if covered not in self.fields:
                        raise ValueError(f"mappings.{name}.covers: {covered!r} is not a configured field "
                                         f"(fields: {', '.join(self.fields)})")
            return self

        @model_validator(mode="after")
        def _references_point_at_fields(self) -> Config:
            if "references" not in self.policy.model_fields_set:
                # the default references apply only to the fields this config has
                for part in [p for p, target in self.policy.references.items() if target not in self.fields]:
                    del self.policy.references[part]
                return self
            for part, target in self.policy.references.items():
                if target not in self.fields:
                    raise ValueError(
                        f"policy.references.{part}: {target!r} is not a configured field "
                        f"(fields: {', '.join(self.fields)})"
                    )
            return self


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read `path` (None: the built-in netra configuration), apply environment overrides, validate.

    Raises ConfigError with a one-line message naming the file (or variable), the key and the problem.
    """
    source = str(path) if path is not None else "<built-in config>"
    data = _read_yaml(Path(path)) if path is not None else {}
    env = os.environ if env is None else env
    origins: dict[tuple[str, ...], str] = {}
    for name, value in sorted(env.items()):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        keys = tuple(k.lower() for k in name[len(ENV_PREFIX) :].split(ENV_DELIMITER))
        if not keys[0] or keys[0] not in Config.model_fields:
            continue
        if any(not k for k in keys):
            raise ConfigError(f"{name} (environment): empty key segment in the variable name")
        _apply_override(data, keys, _env_value(name, value))
        origins[keys] = name
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, origins)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = load_yaml(read_text(path))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except YamlError as exc:
        where = f":{exc.line}:{exc.column}" if exc.line is not None else ""
        kind = "YAML syntax error" if exc.syntax else "unusable YAML"
        raise ConfigError(f"{path}{where}: {kind}: {exc.problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def _env_value(name: str, value: str) -> Any:
    stripped = value.strip()
    if stripped.lower() in ("null", "~"):
        return None
    if stripped[:1] in ("[", "{"):
        try:
            return load_yaml(stripped)
        except YamlError as exc:
            if not exc.syntax:
                raise ConfigError(f"{name} (environment): unusable YAML: {exc.problem}") from None
            return value
    return value


def _apply_override(data: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    """Set data[k0][k1]... = value, seeding a section the file left out with its default, so
    `ID_MONITOR_FIELDS__THREAD_ID__REQUIRED=true` edits the default fields instead of replacing them."""
    node = data
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if not isinstance(child, dict):
            child = _default_at(keys[: depth + 1]) if key not in node else None
            child = child if isinstance(child, dict) else {}
            node[key] = child
        node = child
    node[keys[-1]] = value


def _default_at(keys: tuple[str, ...]) -> Any:
    node: Any = Config().model_dump(mode="json")
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _describe(exc: ValidationError, source: str, origins: Mapping[tuple[str, ...], str]) -> str:
    """The first error as `file: key.path: problem` (plus how many more), in one line."""
    errors = exc.errors()
    first = errors[0]
    loc = tuple(str(part) for part in first["loc"])
    key = ".".join(loc)
    where = source
    for length in range(len(loc), 0, -1):
        if loc[:length] in origins:
            where = f"{origins[loc[:length]]} (environment)"
            break
    else:
        inside = [name for keys, name in origins.items() if loc and keys[: len(loc)] == loc]
        if inside:
            where = f"{inside[0]} (environment)"
    if first["type"] == "extra_forbidden":
        problem = "unknown key"
        suggestion = _suggest(loc)
        if suggestion:
            problem += f" (did you mean {suggestion!r}?)"
    else:
        problem = first["msg"].removeprefix("Value error, ")
        value = first.get("input")
        if first["type"] != "missing" and not isinstance(value, (dict, list)):
            got = shown(value)
            if got not in problem:
                problem += f" (got {got})"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{where}: {key}: {problem}{more}" if key else f"{where}: {problem}{more}"


def _suggest(loc: tuple[str, ...]) -> str | None:
    """The closest known key to a misspelt one, for the error message."""
    model: type[BaseModel] | None = Config
    parts, i = loc[:-1], 0
    while i < len(parts) and model is not None:
        info = model.model_fields.get(parts[i])
        if info is None:
            return None
        if model is Config and parts[i] == "fields":
            model, i = FieldSpec, i + 2  # fields.<name>.<key>
            continue
        if model is Config and parts[i] == "mappings":
            model, i = MappingSpec, i + 2  # mappings.<name>.<key>
            continue
        model, i = _model_of(info.annotation), i + 1
    if model is None:
        return None
    matches = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1)
    return matches[0] if matches else None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None
