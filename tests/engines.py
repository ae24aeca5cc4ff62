"""Which engine the engine-dependent tests (marker `engine`) run on.

`scripts/test` runs the suite once with the configured default (`auto`: the native engine when
scripts/bootstrap built it) and then the `engine`-marked tests again with `ID_MONITOR_ENGINE=python`.
Tests that start id-monitor in a subprocess with an environment of their own pass `ENGINE_ENV`
on, so the second pass really checks on the Python engine; `expected_engine()` is what such a
process must report (startup log line `engine=`).
"""

from __future__ import annotations

import os

from id_monitor import native

ENGINE_ENV = {"ID_MONITOR_ENGINE": os.environ["ID_MONITOR_ENGINE"]} if "ID_MONITOR_ENGINE" in os.environ else {}


def expected_engine() -> str:
    if os.environ.get("ID_MONITOR_ENGINE") == "python" or not native.available():
        return "python"
    return "native"
