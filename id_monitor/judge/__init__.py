"""The judge stage: classified IDs plus their message's context -> findings.

`Judge` applies the configured policy; its rules (`judge.rules`) are small units that each own
their cannot-fire guard; `OwnerCollisions` is the one piece of state that looks across messages.
"""

from id_monitor.judge.judge import Judge
from id_monitor.judge.owners import OwnerCollisions
from id_monitor.judge.report import Report
from id_monitor.model import ISOLATION_OUTCOMES, MESSAGE_FIELD, RULES

__all__ = ["ISOLATION_OUTCOMES", "MESSAGE_FIELD", "RULES", "Judge", "OwnerCollisions", "Report"]
