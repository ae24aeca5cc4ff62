"""The extract stage: raw bytes -> a decoded message (`decode`) -> ID values by field (`paths`)."""

from id_monitor.extract.decode import DEFAULT_MAX_DEPTH, MALFORMED_REASONS, MalformedMessage, decode_message
from id_monitor.extract.paths import Extraction, Extractor

__all__ = ["DEFAULT_MAX_DEPTH", "MALFORMED_REASONS", "Extraction", "Extractor", "MalformedMessage", "decode_message"]
