"""The classify stage: any value -> IdInfo against a compiled schema, with a bounded cache.

`Classifier` is the Python engine (the reference); the schema's templates are compiled into a
`Matcher` (routing plus one alternation per route). `BoundedCache` is the one memo type of the
project.
"""

from id_monitor.classify.cache import BoundedCache
from id_monitor.classify.classifier import EMPTY, ERROR, NOT_A_STRING, TOO_LONG, Classifier
from id_monitor.classify.matcher import NO_MATCH, Matcher

__all__ = ["EMPTY", "ERROR", "NOT_A_STRING", "NO_MATCH", "TOO_LONG", "BoundedCache", "Classifier", "Matcher"]
