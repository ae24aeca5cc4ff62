"""Read IDs (one per line) or JSON Lines messages from a byte stream and mine their shapes.

Lines that are not UTF-8 (or, with messages, not a JSON object) are counted and skipped; blank
lines are skipped. Only `unknown` IDs are mined unless `all_ids` is set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from id_monitor.discover.shapes import ShapeMiner
from id_monitor.discover.tracker import ShapeTracker

CLI_CAPACITY = 1024


@dataclass
class MineResult:
    tracker: ShapeTracker
    ids: int = 0  # IDs read (strings)
    mined: int = 0  # IDs whose shape was counted
    undecodable: int = 0  # lines skipped
    statuses: dict[str, int] = field(default_factory=dict)


def mine_ids(lines: Iterable[bytes], classify, *, all_ids: bool, min_support: int,
             capacity: int = CLI_CAPACITY) -> MineResult:
    """One ID per line; `classify(str) -> IdInfo`."""
    tracker = ShapeTracker(fields=["id"], min_support=min_support, capacity=capacity)
    miner: ShapeMiner = tracker._miner("id")  # one field: skip the per-call lock in the hot loop
    result = MineResult(tracker)
    statuses = result.statuses
    observe = miner.observe
    ids = mined = bad = 0
    for raw in lines:
        try:
            value = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            bad += 1
            continue
        if not value:
            continue
        ids += 1
        info = classify(value)
        status = info.status
        statuses[status] = statuses.get(status, 0) + 1
        if status == "unknown" or all_ids:
            observe(value, info)
            mined += 1
    result.ids, result.mined, result.undecodable = ids, mined, bad
    return result


def mine_messages(lines: Iterable[bytes], classify, extractor, *, fields: Iterable[str], all_ids: bool,
                  min_support: int, max_bytes: int, max_depth: int, capacity: int = CLI_CAPACITY) -> MineResult:
    """JSON Lines messages; IDs are the values at the configured fields' paths."""
    from id_monitor.extract import MalformedMessage, decode_message

    tracker = ShapeTracker(fields=fields, min_support=min_support, capacity=capacity)
    result = MineResult(tracker)
    statuses = result.statuses
    for raw in lines:
        if not raw.strip():
            continue
        try:
            message = decode_message(raw, max_bytes, max_depth)
        except MalformedMessage:
            result.undecodable += 1
            continue
        values = extractor.collect(message)[0]
        for name, found in values.items():
            for value in found:
                if type(value) is not str or not value:
                    continue
                result.ids += 1
                info = classify(value)
                statuses[info.status] = statuses.get(info.status, 0) + 1
                if info.status == "unknown" or all_ids:
                    tracker.observe(name, value, info)
                    result.mined += 1
    return result
