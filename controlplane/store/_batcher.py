"""Coalesced, batched status writes with read-your-writes: the part of a store every backend shares.

``write`` encodes the status and puts it in a per-cluster pending map (the latest wins). ``run`` (the
flusher, a task in the store's task group) commits the map in batches through the backend's ``commit``,
``flush_interval`` after the first pending write, or at once when a durable write, ``flush()`` or
backpressure asks. Every status write gets a sequence number that the backend also stores in the row
(``status_seq``): reads overlay a pending status only if it is newer than the row, and a batch never
overwrites a newer row (e.g. a cluster deleted and re-created under the same name).

Sequence numbers are a hybrid clock, ``max(last + 1, time_ns())``: always above the previous one here, and
never below wall-clock nanoseconds, so they keep growing across processes that take over each other's
clusters (a per-process counter would not).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import Enum
from itertools import islice

import anyio

from controlplane.api import Cluster, ClusterDigest, ClusterStatus
from controlplane.metrics import STORE_BATCH_SIZE, STORE_FLUSH_SECONDS, STORE_PENDING_WRITES

from ._codec import DIGEST_STATUS, ENCODE, STATUS, RawRow, compose
from ._errors import Fenced, StoreError
from ._records import Fence, RawCluster
from ._settings import StoreSettings

logger = logging.getLogger("controlplane.store")

StatusRow = tuple[bytes, str, int, str, Fence | None]
"""One pending status: (status JSON, phase, sequence number, cluster name, fence or None)."""
Commit = Callable[[list[StatusRow], bool], Awaitable[list[str]]]
"""Commits the rows in one transaction (the flag: sync to stable storage); returns the names refused by a
fence. Raises ``StoreError`` if nothing was committed."""
_MAX_FLUSH_BACKOFF = 5.0


class State(Enum):
    """A store's lifecycle (the values complete "store ... is ...")."""

    NEW = "not open yet (use `async with store`)"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class _Waiter:
    """A durable writer waiting for the commit of the batch holding its status."""

    __slots__ = ("error", "event")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.error: BaseException | None = None


class Pending:
    """The latest status of one cluster not yet committed, and the durable writers waiting for it."""

    __slots__ = ("data", "fence", "phase", "seq", "waiters")

    def __init__(
        self, seq: int, phase: str, data: bytes, waiters: list[_Waiter], fence: Fence | None
    ) -> None:
        self.seq = seq
        self.phase = phase
        self.data = data
        self.waiters = waiters
        self.fence = fence


def _notify(waiters: list[_Waiter], error: BaseException | None) -> None:
    for waiter in waiters:
        waiter.error = error
        waiter.event.set()


class StatusBatcher:
    """Pending status writes of one store, and their flusher. ``commit`` is the backend's batch write;
    ``committed`` is called after every batch (the store wakes its change-feed followers)."""

    def __init__(self, settings: StoreSettings, commit: Commit, committed: Callable[[], None]) -> None:
        self.settings = settings
        self._commit = commit
        self._committed = committed
        self._seq = 0
        self._pending: dict[str, Pending] = {}
        self._inflight: dict[str, Pending] = {}
        self._flush_lock = anyio.Lock()
        self._work = anyio.Event()  # set while something is pending
        self._urgent = anyio.Event()  # set to flush now instead of after flush_interval
        self._space = anyio.Event()  # set (and replaced) whenever the pending map shrinks

    # --- sequence numbers and read-your-writes ----------------------------------------------------------
    def start_after(self, seq: int) -> None:
        """Number the next writes above ``seq`` (the highest stored one, read at open)."""
        self._seq = max(self._seq, seq)

    def next_seq(self) -> int:
        self._seq = max(self._seq + 1, time.time_ns())
        return self._seq

    def latest(self, name: str) -> Pending | None:
        """The newest uncommitted status of ``name``; capture it *before* reading the row: the row read
        afterwards is at least as new as any flush that completed first, and the sequence numbers decide."""
        return self._pending.get(name) or self._inflight.get(name)

    def snapshot(self) -> dict[str, Pending]:
        """Every uncommitted status (for a list), captured before the read like ``latest``."""
        return {**self._inflight, **self._pending} if (self._pending or self._inflight) else {}

    @staticmethod
    def overlay(cluster: Cluster, row_seq: int, entry: Pending | None) -> Cluster:
        if entry is not None and entry.seq > row_seq:
            cluster.status = STATUS.decode(entry.data)
        return cluster

    @staticmethod
    def overlay_digest(digest: ClusterDigest, row_seq: int, entry: Pending | None) -> ClusterDigest:
        if entry is not None and entry.seq > row_seq:
            digest.status = DIGEST_STATUS.decode(entry.data)
        return digest

    @staticmethod
    def raw(rows: Sequence[RawRow], overlay: Mapping[str, Pending]) -> list[RawCluster]:
        """Encoded clusters from ``raw_cluster`` rows, a newer uncommitted status taking the row's place."""
        out: list[RawCluster] = []
        for name, phase, head, status, seq in rows:
            entry = overlay.get(name)
            if entry is not None and entry.seq > seq:
                out.append(RawCluster(name, entry.phase, compose(head, entry.data)))
            else:
                out.append(RawCluster(name, phase, compose(head, status)))
        return out

    # --- writes -------------------------------------------------------------------------------------------
    async def write(
        self,
        name: str,
        status: ClusterStatus,
        *,
        durable: bool,
        fence: Fence | None,
        check_open: Callable[[], None],
    ) -> None:
        # Encode now: the caller may mutate its struct after this returns.
        data = ENCODE(status)
        while name not in self._pending and len(self._pending) >= self.settings.max_pending:
            space = self._space
            self._urgent.set()
            await space.wait()
            check_open()
        previous = self._pending.get(name)
        waiters = previous.waiters if previous is not None else []
        self._pending[name] = Pending(self.next_seq(), status.phase.value, data, waiters, fence)
        STORE_PENDING_WRITES.set(len(self._pending))
        self._work.set()
        if not durable:
            return
        waiter = _Waiter()
        waiters.append(waiter)
        self._urgent.set()
        await waiter.event.wait()
        if isinstance(waiter.error, Fenced):
            raise waiter.error
        if waiter.error is not None:
            raise StoreError(f"durable status write of cluster {name!r} failed") from waiter.error

    def forget(self, name: str) -> None:
        """Drop the pending status of a deleted cluster (its durable writers return, as documented)."""
        entry = self._pending.pop(name, None)
        if entry is not None:
            STORE_PENDING_WRITES.set(len(self._pending))
            _notify(entry.waiters, None)

    async def flush(self) -> None:
        """Commit everything pending now."""
        async with self._flush_lock:
            # Entries leave the map from the front and new ones join at the back, so this many batches
            # cover everything pending now, however fast new writes arrive.
            for _ in range(math.ceil(len(self._pending) / self.settings.max_batch)):
                await self._flush_batch()

    async def drain(self) -> None:
        """The final flush at close: until nothing is pending (runs shielded by the caller)."""
        async with self._flush_lock:
            while self._pending:
                await self._flush_batch()

    def release(self, error: StoreError) -> None:
        """At close, after the final flush: whatever is still pending is lost; its durable writers learn."""
        for entry in self._pending.values():
            _notify(entry.waiters, error)
        self._pending.clear()
        STORE_PENDING_WRITES.set(0)
        self._space.set()

    async def run(self) -> None:
        """The flusher: commits pending statuses; retries a failed batch with a capped backoff."""
        failures = 0
        while True:
            await self._work.wait()
            with anyio.move_on_after(self.settings.flush_interval):
                await self._urgent.wait()
            self._urgent = anyio.Event()
            try:
                await self.flush()
            except StoreError as exc:
                failures += 1
                delay = min(self.settings.flush_interval * 2**failures, _MAX_FLUSH_BACKOFF)
                logger.warning("store status flush failed (retrying in %.2fs): %s", delay, exc)
                await anyio.sleep(delay)
                continue
            failures = 0
            if not self._pending:
                self._work = anyio.Event()

    async def _flush_batch(self) -> None:
        """Commit up to ``max_batch`` pending statuses in one transaction. Caller holds the flush lock."""
        if not self._pending:
            return
        if len(self._pending) <= self.settings.max_batch:
            batch = list(self._pending.items())
            self._pending = {}
        else:
            batch = list(islice(self._pending.items(), self.settings.max_batch))
            for name, _ in batch:
                del self._pending[name]
        self._inflight.update(batch)
        STORE_PENDING_WRITES.set(len(self._pending))
        self._space.set()
        self._space = anyio.Event()
        waiters = [waiter for _, entry in batch for waiter in entry.waiters]
        rows = [(entry.data, entry.phase, entry.seq, name, entry.fence) for name, entry in batch]
        error: StoreError | None = None
        fenced: list[str] = []
        started = time.perf_counter()
        # Shielded: once handed to the backend the batch is committed or not, and the bookkeeping below
        # must follow either way (a cancelled flusher must not strand statuses in ``_inflight``).
        with anyio.CancelScope(shield=True):
            try:
                fenced = await self._commit(rows, bool(waiters))
            except StoreError as exc:
                error = exc
        self._committed()
        for name, entry in batch:
            if self._inflight.get(name) is entry:
                del self._inflight[name]
        if error is None:
            STORE_FLUSH_SECONDS.observe(time.perf_counter() - started)
            STORE_BATCH_SIZE.observe(len(batch))
        else:
            # Retry later, unless a newer status arrived meanwhile; the durable writers learn it failed.
            for name, entry in batch:
                if name not in self._pending:
                    self._pending[name] = Pending(entry.seq, entry.phase, entry.data, [], entry.fence)
            STORE_PENDING_WRITES.set(len(self._pending))
        if fenced:
            # Never retried: the lease is gone, and whoever holds it now writes this cluster's status.
            lost = set(fenced)
            for name, entry in batch:
                if name in lost:
                    _notify(entry.waiters, Fenced(f"status of cluster {name!r} refused: lease lost"))
            waiters = [w for name, entry in batch if name not in lost for w in entry.waiters]
        _notify(waiters, error)
        if error is not None:
            raise error
