"""What the agent's run loop drives: the interface every source implements, and the one Kafka
sources add for committing.

The loop (`agent.loop.Agent`) is written against these protocols only, so it does not know whether
it reads a stream or a consumer group, nor which Kafka client holds that group
(`sources.kafka_client.open_kafka_source` picks one from `kafka.client`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from id_monitor.sources.batch import Batch
from id_monitor.sources.pending_commit import PendingCommit


@runtime_checkable
class Source(Protocol):
    """Batches of records, until `eof` (a consumer group never ends)."""

    eof: bool
    # What the last round trip to the source found; /readyz reports it. A plain read from any thread.
    reachable: bool

    def poll_batch(self, timeout_ms: int) -> Batch | None:
        """The next batch, or None when nothing arrived within `timeout_ms` (or at end of input)."""
        ...

    def assigned(self) -> frozenset[Any]:
        """The partitions this process owns now (a stream owns none). Safe from any thread."""
        ...

    def close(self, timeout_ms: int = 3000) -> None: ...


@runtime_checkable
class CommittingSource(Source, Protocol):
    """A consumer group member: the loop commits a batch's offsets once its results are recorded.

    Partitions are keys with `.topic` and `.partition` that compare equal across a batch's
    `offsets`, `assigned()`, `lag()` and `on_revoked`."""

    # Called with the partitions a rebalance takes away, before the new owner may read them.
    on_revoked: Callable[[set[Any]], None] | None

    def commit_async(self, offsets: dict[Any, int], timeout_ms: int = 5000) -> PendingCommit | None:
        """Send a commit of the next offsets per partition without waiting; None when it could not
        be sent (the caller keeps the offsets and tries again)."""
        ...

    def settle(self, pending: PendingCommit, timeout_ms: int) -> bool:
        """Wait for a sent commit's answer; True when the broker took the offsets."""
        ...

    def commit(self, offsets: dict[Any, int], timeout_ms: int = 5000) -> bool:
        """Commit and wait (shutdown); False when the broker did not take the offsets."""
        ...

    def pause(self) -> None:
        """Hand out no records until `resume()` (the loop cannot record them while a commit is
        owed), yet keep serving the group in `poll_batch`: heartbeats, rebalances. Records fetched
        and not handed out are fetched again, from where the last batch handed out ended; a
        partition assigned meanwhile is paused too."""
        ...

    def resume(self) -> None:
        """Hand out records again."""
        ...

    def lag(self, timeout_ms: int = 1000) -> dict[Any, int] | None:
        """Messages behind the end, per assigned partition; None when the broker did not answer."""
        ...
