"""Which revision of the producing service a message belongs to, for the `revision` label.

`RevisionOf(spec)` reads it from a Kafka header, else a message field (a dotted path), else the
process's own revision. The result is always one of the configured values or `other`: a header or
field value outside the set is never a label (docs/rollout.md).
"""

from __future__ import annotations

from typing import Any

from id_monitor.config import RevisionSpec

OTHER = "other"


class RevisionOf:
    """Callable `(headers, message) -> revision label`, built once per configuration."""

    __slots__ = ("_by_bytes", "_by_text", "_fallback", "_header", "_path")

    def __init__(self, spec: RevisionSpec) -> None:
        self._by_text = {value: value for value in spec.values}
        self._by_bytes = {value.encode(): value for value in spec.values}
        self._header = spec.header
        self._path = tuple(spec.field.split(".")) if spec.field else ()
        self._fallback = spec.own or OTHER

    def __call__(self, headers: Any, message: Any) -> str:
        if self._header is not None and headers:
            for key, value in headers:
                if key == self._header:
                    if isinstance(value, bytes):
                        return self._by_bytes.get(value, OTHER)
                    return self._by_text.get(value, OTHER) if isinstance(value, str) else OTHER
        if self._path:
            node = message
            for part in self._path:
                if not isinstance(node, dict):
                    node = None
                    break
                node = node.get(part)
            if node is not None:
                return self._by_text.get(node, OTHER) if isinstance(node, str) else OTHER
        return self._fallback
