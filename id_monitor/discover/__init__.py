"""Shapes of IDs the schema does not know: tokenise, count in bounded memory, propose formats.

`id-monitor discover` (id_monitor.commands.discover) mines a file or stream of IDs;
`ShapeTracker` does the same per field, live, for the agent. Both keep a bounded top-K of shapes
(space-saving) and show a literal word only when enough distinct IDs share it, so a shape never
carries one user's value. See docs/discover.md.
"""

from id_monitor.discover.shapes import ShapeMiner, ShapeRow
from id_monitor.discover.tracker import ShapeTracker

__all__ = ["ShapeMiner", "ShapeRow", "ShapeTracker"]
