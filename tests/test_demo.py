"""`id-monitor demo`: the README's first command. Its summary is read back from the agent's
metrics, so it must agree with the traffic generator's ground truth."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter

from id_monitor.traffic import ID_FIELDS, Mix, generate


def test_demo_summary_matches_the_generated_traffic() -> None:
    n, seed = 3000, 11
    proc = subprocess.run(
        [sys.executable, "-m", "id_monitor", "demo", "-n", str(n), "--seed", str(seed),
         "--listen", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "120"},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(rf"^{n} messages in [\d.]+ s .*: ok {n}$", out, re.M), out

    kinds: Counter[tuple[str, str]] = Counter()
    breaches = 0
    for _, truth in generate(n, seed=seed, mix=Mix(breach=0.01)):
        kinds.update(truth.kinds.items())
        breaches += truth.breach
    for field in ID_FIELDS:
        row = re.search(rf"│ {field}\s+│\s+(\d+) │\s+(\d+) │\s+(\d+) │\s+([\d.]+)% │", out)
        assert row, (field, out)
        target, legacy, unknown = (int(row.group(i)) for i in (1, 2, 3))
        assert (target, legacy, unknown) == (
            kinds[(field, "target")], kinds[(field, "legacy")], kinds[(field, "unknown")]
        )
        assert float(row.group(4)) == round(100 * target / n, 1)
    breach_row = re.search(r"│ isolation_breach\s+│ violation\s+│\s+(\d+) │", out)
    assert breaches > 0 and breach_row and int(breach_row.group(1)) == breaches


def test_demo_refuses_a_port_in_use_with_a_clear_message() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "id_monitor", "demo", "-n", "10", "--listen", f"127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=60,
        )
    assert proc.returncode == 2
    assert "cannot listen on" in proc.stderr and "Traceback" not in proc.stderr
