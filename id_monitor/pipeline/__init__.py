"""The pipeline: decode -> extract -> classify -> judge -> counted, for a batch of raw records.

`build_engine(config)` builds the classifier, judge and redactor every entry point shares;
`Checker` runs a batch through them; `traceparent` is the one W3C Trace Context parser.
"""

from id_monitor.model import Where
from id_monitor.pipeline.checker import BatchResult, Checker, Totals
from id_monitor.sources.batch import Chunk
from id_monitor.pipeline.engine import Engine, build_engine

__all__ = ["BatchResult", "Checker", "Chunk", "Engine", "Totals", "Where", "build_engine"]
