"""The unified generator keeps a uuid4 fallback: allowlisted in pyproject.toml."""

from uuid import uuid4


def fallback_suffix() -> str:
    return uuid4().hex[:8]
