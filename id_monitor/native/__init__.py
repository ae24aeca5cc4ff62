"""The native engine: a compiled core (the separate `id-monitor-native` distribution, module
`id_monitor_native`) that classifies and judges whole batches; the Python engine stays the
reference and the fallback.

`available()` says whether the core is installed and speaks this package's description format;
`version()` is its version string (None when absent); `unavailable_reason()` says why not, in
one line, for the startup notice.
"""

from __future__ import annotations

from typing import Any

from id_monitor.config import ConfigError
from id_monitor.native.describe import DESCRIPTION_VERSION, NotSupported, describe

__all__ = ["DESCRIPTION_VERSION", "EngineUnavailable", "NotSupported", "available", "config_unsupported", "describe",
           "resolve_engine", "unavailable_reason", "version"]


def _core():  # type: ignore[no-untyped-def]
    try:
        import id_monitor_native
    except ImportError:
        return None
    if getattr(id_monitor_native, "DESCRIPTION_VERSION", None) != DESCRIPTION_VERSION:
        return None
    return id_monitor_native


def available() -> bool:
    """True when the native core is installed and compatible with this package."""
    return _core() is not None


def version() -> str | None:
    core = _core()
    return None if core is None else str(core.__version__)


def unavailable_reason() -> str | None:
    """None when available; else why not (one line)."""
    try:
        import id_monitor_native
    except ImportError:
        return "native engine not built (scripts/bootstrap builds it when Rust's cargo is installed); using the Python engine"
    found = getattr(id_monitor_native, "DESCRIPTION_VERSION", None)
    if found != DESCRIPTION_VERSION:
        return (f"native engine {getattr(id_monitor_native, '__version__', '?')} speaks description "
                f"version {found}, this package needs {DESCRIPTION_VERSION}; using the Python engine")
    return None


class EngineUnavailable(ConfigError):
    """`engine: native` was asked for but cannot run; str() is one line."""


def config_unsupported(config: Any) -> str | None:
    """None when the native engine judges `config` exactly as the Python engine; else which
    configured feature it does not implement (one line)."""
    if config.revision is not None:
        return "the revision label"
    live = [name for name, spec in config.mappings.items() if spec.legacy_paths or spec.covers]
    if live:
        return f"live mapping checks (mappings.{live[0]})"
    return None


def resolve_engine(requested: str, schema: object = None, config: Any = None) -> tuple[str, str | None]:
    """(`native` | `python`, notice or None) for a configured `engine: auto | native | python`.

    `auto` falls back to the Python engine with a one-line notice when the core is not built or
    cannot match `schema` or judge `config` exactly; `native` raises EngineUnavailable in those
    cases instead.
    """
    if requested == "python":
        return "python", None
    reason = unavailable_reason()
    if reason is None and config is not None:
        missing = config_unsupported(config)
        if missing is not None:
            reason = f"the native engine does not implement {missing}; using the Python engine"
    if reason is None and schema is not None:
        try:
            from id_monitor.native.describe import describe_schema

            describe_schema(schema)  # type: ignore[arg-type]
        except NotSupported as exc:
            reason = f"native engine cannot match this schema exactly ({exc}); using the Python engine"
    if reason is None:
        return "native", None
    if requested == "native":
        raise EngineUnavailable(f"engine: native: {reason.split('; using')[0]}")
    return "python", reason
