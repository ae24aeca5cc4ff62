"""Legacy <-> target mapping verification: pairs stay 1:1, well-formed and owned.

`PairCheck` judges one (legacy, target, owner) pair the same way wherever it comes from: a live
message (fed by the judge), or a row of a mapping table (`TableCheck`, fed by
`id-monitor mapping check`). What must be remembered across pairs (which target a legacy ID had,
which legacy ID a target had) lives in a bounded `PairStore` on a local SQLite file, so it
survives a restart. docs/mapping.md describes the rules, the state and its capacity.
"""

from id_monitor.mapping.checks import PairCheck, PairRules, pair_findings
from id_monitor.mapping.state import PairStore, id_key
from id_monitor.mapping.table import TableCheck, TableReport

__all__ = ["PairCheck", "PairRules", "PairStore", "TableCheck", "TableReport", "id_key", "pair_findings"]
