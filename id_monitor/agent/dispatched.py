"""A batch the run loop has handed to its executor and not recorded yet, and what a rebalance does
to it.

A rebalance that takes a partition away makes its consumer (whoever gets it, this process too)
fetch it again from the last committed offset, and a batch not recorded yet was never committed.
So its records of that partition will be checked again: recording them here as well would count
them twice, while dropping them loses nothing. A batch all of whose partitions were taken is
dropped; one that keeps some is checked again with only the chunks of the partitions it keeps
(its results cover the whole batch and cannot be split), because those records will not be
fetched again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Dispatched:
    """One polled batch in the executor's hands: `handle` to collect its results, the `offsets`
    to commit once they are recorded, the `chunks` it was checked from (kept so a partly revoked
    batch can be checked again) and when it was observed."""

    handle: Any
    offsets: dict[Any, int]
    chunks: Sequence[Any]
    observed_ms: int
    revoked: bool = False  # a rebalance took some of its partitions since it was polled
    dropped: int = 0  # messages of those partitions, left to their new owner

    def revoke(self, partitions: Iterable[Any]) -> None:
        """The partitions a rebalance took away: they leave the batch's offsets and chunks."""
        # Partition keys of every client compare equal as (topic, partition) tuples
        # (`sources.source.CommittingSource`), so a chunk's pair finds them too.
        taken = set(partitions)
        if taken.isdisjoint(self.offsets):
            return
        self.revoked = True
        self.offsets = {tp: off for tp, off in self.offsets.items() if tp not in taken}
        kept = [chunk for chunk in self.chunks if (chunk.topic, chunk.partition) not in taken]
        self.dropped += sum(len(chunk.records) for chunk in self.chunks) - sum(len(chunk.records) for chunk in kept)
        self.chunks = kept
