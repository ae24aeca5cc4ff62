"""`id-monitor scan`: where uuid4 is still generated in code, per service, with a ratchet.

Pipeline: walk (files + skip reasons) -> read (size cap, byte prefilter) -> detect (AST, pure)
-> results (service / scope grouping) -> baseline comparison -> outputs (table, JSON, SARIF,
Prometheus textfile). `run_scan` is the entry point for programs; the CLI is a thin layer on it.
`id_monitor.scan.detect.detect(data, targets)` analyses one source in memory.
"""

from id_monitor.scan.config import ScanConfig, load_scan_config
from id_monitor.scan.detect import Site
from id_monitor.scan.runner import run_scan
from id_monitor.scan.targets import Targets

__all__ = ["ScanConfig", "Site", "Targets", "load_scan_config", "run_scan"]
