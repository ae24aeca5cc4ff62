"""Typed configuration: one YAML file, then environment overrides, validated by pydantic.

`load_config()` gives the built-in configuration of the default (netra) message envelope;
`load_config(path)` reads a file. Every section forbids unknown keys, and every error is one line
naming the file (or environment variable), the key and the problem (`ConfigError`).
"""

from id_monitor.config.http import DEFAULT_SPAN_ATTRIBUTES, HttpSpec, UserSourceSpec
from id_monitor.config.loader import (
    ENV_PREFIX,
    Config,
    ConfigError,
    FieldSpec,
    KafkaSpec,
    LimitsSpec,
    MappingSpec,
    MappingStateSpec,
    MappingTableSpec,
    MessageSpec,
    MetricsSpec,
    OwnerSpec,
    PolicySpec,
    UnknownShapesSpec,
    RevisionSpec,
    ViolationsSpec,
    default_fields,
    load_config,
)

__all__ = [
    "DEFAULT_SPAN_ATTRIBUTES", "ENV_PREFIX", "Config", "ConfigError", "FieldSpec", "HttpSpec", "KafkaSpec",
    "LimitsSpec", "MappingSpec", "MappingStateSpec", "MappingTableSpec", "MessageSpec", "MetricsSpec", "OwnerSpec",
    "PolicySpec", "RevisionSpec", "UnknownShapesSpec", "UserSourceSpec",
    "ViolationsSpec", "default_fields", "load_config",
]
