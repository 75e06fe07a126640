"""The embedded SQLite store (stdlib ``sqlite3``, WAL, file mode 0600).

Threads: one writer connection on its own thread (every write, including status batches) and one reader
connection on another (WAL lets reads run beside writes). Nothing touches SQLite on the event loop.

Status writes: ``write_status`` encodes the status and puts it in a per-cluster pending map (the latest
wins). A flusher task, owned by the store's task group, commits the map in batches, one transaction per
batch, ``flush_interval`` after the first pending write, or at once when a durable write, ``flush()`` or
backpressure asks. Every status write gets a sequence number, also stored in the row (``status_seq``):
reads overlay a pending status only if it is newer than the row, and a batch never overwrites a newer row
(e.g. a cluster deleted and re-created under the same name).

Durability: WAL + ``synchronous=NORMAL`` by default. A process crash (SIGKILL) loses nothing committed
and never corrupts; a power loss may roll back the newest commits. Durable status writes commit with
``synchronous=FULL`` (an fsync of the WAL), which also covers every commit before them, so whatever the
cluster actor persisted durably before acting on AWS survives a power loss, with the specs it acted on.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from enum import Enum
from functools import partial
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import anyio
import msgspec
from anyio.abc import TaskGroup

from controlplane.api import Cluster, ClusterSpec, ClusterStatus, Credential, Event, Phase
from controlplane.metrics import (
    STORE_BATCH_SIZE,
    STORE_FLUSH_SECONDS,
    STORE_OPERATION_SECONDS,
    STORE_PENDING_WRITES,
)

from . import _sqlite_feed as feed
from . import _sqlite_ops as ops
from ._errors import Fenced, StoreClosed, StoreError
from ._records import Change, Fence, Lease, RawCluster, ReplicaRecord
from ._settings import StoreSettings
from ._sqlite_conn import Connection, connect_reader, connect_writer

logger = logging.getLogger(__name__)

T = TypeVar("T")

_ENCODE = ops.ENCODE
_MAX_FLUSH_BACKOFF = 5.0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _State(Enum):
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


class _Pending:
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


# --- the store -----------------------------------------------------------------------------------------
class SQLiteStore:
    """The ``Store`` on a local SQLite file. Use as ``async with SQLiteStore(path) as store: ...``."""

    def __init__(self, path: str | Path, settings: StoreSettings | None = None, *, shards: int = 256) -> None:
        if shards < 1:
            raise ValueError(f"shards must be >= 1, got {shards}")
        self.path = Path(path)
        self.settings = settings or StoreSettings()
        self.shards = shards
        self._state = _State.NEW
        self._writer = Connection("store-writer")
        self._reader = Connection("store-reader")
        self._task_group: TaskGroup | None = None
        self._seq = 0
        self._pending: dict[str, _Pending] = {}
        self._inflight: dict[str, _Pending] = {}
        self._flush_lock = anyio.Lock()
        self._work = anyio.Event()  # set while something is pending
        self._urgent = anyio.Event()  # set to flush now instead of after flush_interval
        self._space = anyio.Event()  # set (and replaced) whenever the pending map shrinks
        self._changed = anyio.Event()  # set (and replaced) when this process appended to the change feed

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r}, {self._state.name.lower()})"

    # --- lifecycle ---------------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        if self._state is not _State.NEW:
            raise StoreClosed(f"store {self.path} is {self._state.value}; a store opens once")
        self._state = _State.CLOSING  # unusable until fully open
        try:
            await self._writer.open(partial(connect_writer, self.path, self.settings))
            await self._reader.open(partial(connect_reader, self.path, self.settings))
            self._seq = await self._writer.call(ops.max_status_seq)
            await self._writer.call(partial(feed.assign_shards, shards=self.shards))
            task_group = anyio.create_task_group()
            await task_group.__aenter__()
            self._task_group = task_group
            task_group.start_soon(self._flusher)
            task_group.start_soon(self._trimmer)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._reader.close()
                await self._writer.close()
            self._state = _State.CLOSED
            raise
        self._state = _State.OPEN
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state is not _State.OPEN:
            raise StoreClosed(f"store {self.path} is {self._state.value}; cannot close it")
        self._state = _State.CLOSING
        task_group, self._task_group = self._task_group, None
        assert task_group is not None
        try:
            # The final flush runs even if the caller is being cancelled: it is what close promises.
            with anyio.CancelScope(shield=True):
                async with self._flush_lock:
                    while self._pending:
                        await self._flush_batch()
        finally:
            try:
                task_group.cancel_scope.cancel()
                await task_group.__aexit__(None, None, None)
            finally:
                with anyio.CancelScope(shield=True):
                    await self._release()

    async def _release(self) -> None:
        for entry in self._pending.values():
            _notify(entry.waiters, StoreClosed(f"store {self.path} closed before the flush"))
        self._pending.clear()
        STORE_PENDING_WRITES.set(0)
        self._space.set()
        try:
            await self._reader.close()
        finally:
            await self._writer.close()
            self._state = _State.CLOSED

    def _check_open(self) -> None:
        if self._state is not _State.OPEN:
            raise StoreClosed(f"store {self.path} is {self._state.value}")

    async def _read(self, operation: str, fn: partial[T]) -> T:
        self._check_open()
        with STORE_OPERATION_SECONDS.labels(operation).time():
            return await self._reader.call(fn)

    async def _write(self, operation: str, fn: partial[T]) -> T:
        self._check_open()
        with STORE_OPERATION_SECONDS.labels(operation).time():
            return await self._writer.call(fn)

    def _next_seq(self) -> int:
        # A hybrid clock: never below wall-clock nanoseconds, so sequence numbers keep growing across
        # processes that take over each other's clusters (a per-process counter would not), and always
        # above the previous one here.
        self._seq = max(self._seq + 1, time.time_ns())
        return self._seq

    async def _write_change(self, operation: str, fn: partial[T]) -> T:
        """A write that appends to the change feed: wake this process's followers once it committed."""
        try:
            return await self._write(operation, fn)
        finally:
            self._notify_changed()

    def _notify_changed(self) -> None:
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    # --- clusters ----------------------------------------------------------------------------------------
    def _overlay(self, cluster: Cluster, row_seq: int, entry: _Pending | None) -> Cluster:
        if entry is not None and entry.seq > row_seq:
            cluster.status = ops.decode_status(entry.data)
        return cluster

    def _latest(self, name: str) -> _Pending | None:
        return self._pending.get(name) or self._inflight.get(name)

    async def create_cluster(self, cluster: Cluster) -> Cluster:
        self._check_open()
        name = cluster.metadata.name
        if not name:
            raise ValueError("a cluster needs metadata.name")
        # A private copy (the caller's struct stays theirs), with the store-owned metadata set.
        stored = msgspec.json.decode(_ENCODE(cluster), type=Cluster)
        stored.metadata.resource_version = "1"
        stored.metadata.generation = 1
        stored.metadata.creation_timestamp = _now()
        stored.metadata.deletion_timestamp = ""
        # The row's status_seq outranks any status still pending for an earlier cluster of this name.
        await self._write_change(
            "create_cluster",
            partial(ops.insert_cluster, cluster=stored, seq=self._next_seq(), shards=self.shards),
        )
        return msgspec.json.decode(_ENCODE(stored), type=Cluster)

    async def get_cluster(self, name: str) -> Cluster | None:
        # Capture the pending status before reading: the row read afterwards is at least as new as any
        # flush that completed first, and the sequence numbers decide which one is newer.
        entry = self._latest(name)
        found = await self._read("get_cluster", partial(ops.get_cluster, name=name))
        return None if found is None else self._overlay(found[0], found[1], entry)

    async def list_clusters(self, *, phase: Phase | None = None) -> list[Cluster]:
        overlay = {**self._inflight, **self._pending} if (self._pending or self._inflight) else {}
        wanted = None if phase is None else phase.value
        extra = [] if wanted is None else [name for name, entry in overlay.items() if entry.phase == wanted]
        rows = await self._read("list_clusters", partial(ops.list_clusters, phase=wanted, extra_names=extra))
        clusters = [self._overlay(cluster, seq, overlay.get(cluster.metadata.name)) for cluster, seq in rows]
        if phase is None:
            return clusters
        return [cluster for cluster in clusters if cluster.status.phase == phase]

    async def list_cluster_names(self) -> list[str]:
        return await self._read("list_cluster_names", partial(ops.list_cluster_names))

    async def list_clusters_in_shards(self, shards: Collection[int]) -> list[Cluster]:
        overlay = {**self._inflight, **self._pending} if (self._pending or self._inflight) else {}
        rows = await self._read(
            "list_clusters_in_shards", partial(ops.list_clusters_in_shards, shards=sorted(set(shards)))
        )
        return [self._overlay(cluster, seq, overlay.get(cluster.metadata.name)) for cluster, seq in rows]

    async def list_raw_clusters_in_shards(self, shards: Collection[int]) -> list[RawCluster]:
        overlay = {**self._inflight, **self._pending} if (self._pending or self._inflight) else {}
        rows = await self._read(
            "list_raw_clusters_in_shards",
            partial(ops.list_raw_clusters_in_shards, shards=sorted(set(shards))),
        )
        out: list[RawCluster] = []
        for name, phase, data, seq in rows:
            entry = overlay.get(name)
            if entry is not None and entry.seq > seq:
                cluster = msgspec.json.decode(data, type=Cluster)
                out.append(
                    RawCluster(
                        name,
                        entry.phase,
                        ops.compose(_ENCODE(cluster.metadata), _ENCODE(cluster.spec), entry.data),
                    )
                )
            else:
                out.append(RawCluster(name, phase, data))
        return out

    async def count_clusters_by_shard(self) -> dict[int, int]:
        return await self._read("count_clusters_by_shard", partial(feed.count_clusters_by_shard))

    async def find_identity(self, display_name: str, region: str) -> dict[str, str]:
        return await self._read(
            "find_identity", partial(ops.find_identity, display_name=display_name, region=region)
        )

    async def update_spec(
        self,
        name: str,
        spec: ClusterSpec,
        *,
        expected_resource_version: str | None,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        fence: Fence | None = None,
    ) -> Cluster:
        entry = self._latest(name)
        cluster, seq = await self._write_change(
            "update_spec",
            partial(
                ops.update_spec,
                name=name,
                spec_json=_ENCODE(spec),
                labels=None if labels is None else dict(labels),
                annotations=None if annotations is None else dict(annotations),
                expected=expected_resource_version,
                fence=fence,
            ),
        )
        return self._overlay(cluster, seq, entry)

    async def mark_deleting(self, name: str) -> Cluster:
        entry = self._latest(name)
        cluster, seq = await self._write_change(
            "mark_deleting", partial(ops.mark_deleting, name=name, now=_now())
        )
        return self._overlay(cluster, seq, entry)

    async def delete_cluster(self, name: str, *, fence: Fence | None = None) -> bool:
        self._check_open()
        deleted = await self._write_change(
            "delete_cluster", partial(ops.delete_cluster, name=name, fence=fence)
        )
        entry = self._pending.pop(name, None)
        if entry is not None:
            STORE_PENDING_WRITES.set(len(self._pending))
            _notify(entry.waiters, None)  # the status of a deleted cluster is dropped, as documented
        return deleted

    # --- status --------------------------------------------------------------------------------------------
    async def write_status(
        self, name: str, status: ClusterStatus, *, durable: bool = False, fence: Fence | None = None
    ) -> None:
        self._check_open()
        # Encode now: the caller may mutate its struct after this returns.
        data = _ENCODE(status)
        while name not in self._pending and len(self._pending) >= self.settings.max_pending:
            space = self._space
            self._urgent.set()
            await space.wait()
            self._check_open()
        previous = self._pending.get(name)
        waiters = previous.waiters if previous is not None else []
        self._pending[name] = _Pending(self._next_seq(), status.phase.value, data, waiters, fence)
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

    async def flush(self) -> None:
        self._check_open()
        async with self._flush_lock:
            # Entries leave the map from the front and new ones join at the back, so this many batches
            # cover everything pending now, however fast new writes arrive.
            for _ in range(math.ceil(len(self._pending) / self.settings.max_batch)):
                await self._flush_batch()

    async def _flusher(self) -> None:
        failures = 0
        while True:
            await self._work.wait()
            with anyio.move_on_after(self.settings.flush_interval):
                await self._urgent.wait()
            self._urgent = anyio.Event()
            try:
                async with self._flush_lock:
                    for _ in range(math.ceil(len(self._pending) / self.settings.max_batch)):
                        await self._flush_batch()
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
        fsync = bool(waiters) and self.settings.synchronous != "full"
        rows = [(entry.data, entry.phase, entry.seq, name, entry.fence) for name, entry in batch]
        error: StoreError | None = None
        fenced: list[str] = []
        started = time.perf_counter()
        # Shielded: once handed to the writer thread the batch is committed or not, and the bookkeeping
        # below must follow either way (a cancelled flusher must not strand statuses in ``_inflight``).
        with anyio.CancelScope(shield=True):
            try:
                fenced = await self._writer.call(partial(ops.write_statuses, rows=rows, fsync=fsync))
            except StoreError as exc:
                error = exc
        self._notify_changed()
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
                    self._pending[name] = _Pending(entry.seq, entry.phase, entry.data, [], entry.fence)
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

    # --- events ----------------------------------------------------------------------------------------
    async def append_event(self, name: str, event: Event, *, fence: Fence | None = None) -> None:
        if not event.cluster:
            event = msgspec.structs.replace(event, cluster=name)
        await self._write(
            "append_event",
            partial(
                ops.append_event,
                name=name,
                data=_ENCODE(event),
                keep=self.settings.events_per_cluster,
                fence=fence,
            ),
        )

    async def list_events(self, name: str, *, limit: int | None = None) -> list[Event]:
        keep = self.settings.events_per_cluster
        limit = keep if limit is None else max(0, min(limit, keep))
        return await self._read("list_events", partial(ops.list_events, name=name, limit=limit))

    # --- credentials -----------------------------------------------------------------------------------
    async def put_credential(self, cred: Credential) -> Credential:
        return await self._write_change("put_credential", partial(ops.put_credential, cred=cred, now=_now()))

    async def get_credential(self, namespace: str, name: str) -> Credential | None:
        return await self._read("get_credential", partial(ops.get_credential, namespace=namespace, name=name))

    async def list_credentials(self) -> list[Credential]:
        return await self._read("list_credentials", partial(ops.list_credentials))

    async def delete_credential(self, namespace: str, name: str) -> bool:
        return await self._write_change(
            "delete_credential", partial(ops.delete_credential, namespace=namespace, name=name)
        )

    # --- settings --------------------------------------------------------------------------------------
    async def get_setting(self, name: str) -> str | None:
        return await self._read("get_setting", partial(ops.get_setting, name=name))

    async def put_setting(self, name: str, value: str) -> None:
        await self._write_change("put_setting", partial(ops.put_setting, name=name, value=value))

    async def list_settings(self) -> dict[str, str]:
        return await self._read("list_settings", partial(ops.list_settings))

    # --- secrets ---------------------------------------------------------------------------------------
    async def put_secret(self, name: str, data: dict[str, str], *, fence: Fence | None = None) -> None:
        await self._write("put_secret", partial(ops.put_secret, name=name, data=_ENCODE(data), fence=fence))

    async def get_secret(self, name: str) -> dict[str, str] | None:
        return await self._read("get_secret", partial(ops.get_secret, name=name))

    async def delete_secret(self, name: str, *, fence: Fence | None = None) -> bool:
        return await self._write("delete_secret", partial(ops.delete_secret, name=name, fence=fence))

    # --- the change feed ---------------------------------------------------------------------------------
    async def request_sync(self, name: str) -> None:
        await self._write_change("request_sync", partial(ops.request_sync, name=name))

    async def head(self) -> int:
        return await self._read("head", partial(feed.head))

    async def changes_since(self, after: int, *, limit: int = 1000) -> list[Change]:
        return await self._read("changes_since", partial(feed.changes_since, after=after, limit=limit))

    async def wait_for_change(self, after: int) -> int:
        """Wait until the feed has a change after ``after``; returns the head then. Changes of this
        process wake it at once, other processes' within ``feed_poll_interval``. Bound the wait with
        the caller's cancel scope (``anyio.move_on_after``)."""
        while True:
            changed = self._changed
            latest = await self.head()
            if latest > after:
                return latest
            with anyio.move_on_after(self.settings.feed_poll_interval):
                await changed.wait()

    async def _trimmer(self) -> None:
        retention = self.settings.change_retention
        while True:
            await anyio.sleep(min(max(retention / 10, 0.01), 30.0))
            try:
                await self._writer.call(partial(feed.trim_changes, older_than=time.time() - retention))
            except StoreError as exc:
                logger.warning("trimming the change feed failed (retrying later): %s", exc)

    # --- replicas and leases -----------------------------------------------------------------------------
    async def heartbeat(self, replica_id: str, address: str, *, started: float) -> float:
        return await self._write(
            "heartbeat", partial(feed.heartbeat, replica_id=replica_id, address=address, started=started)
        )

    async def list_replicas(self) -> list[ReplicaRecord]:
        return await self._read("list_replicas", partial(feed.list_replicas))

    async def remove_replica(self, replica_id: str) -> None:
        await self._write("remove_replica", partial(feed.remove_replica, replica_id=replica_id))

    async def list_leases(self) -> list[Lease]:
        return await self._read("list_leases", partial(feed.list_leases))

    async def acquire_leases(self, owner: str, shards: Collection[int], duration: float) -> list[Lease]:
        return await self._write(
            "acquire_leases",
            partial(feed.acquire_leases, owner=owner, shards=sorted(set(shards)), duration=duration),
        )

    async def renew_leases(self, owner: str, held: Mapping[int, int], duration: float) -> list[Lease]:
        return await self._write(
            "renew_leases", partial(feed.renew_leases, owner=owner, held=dict(held), duration=duration)
        )

    async def release_leases(self, owner: str, shards: Collection[int]) -> None:
        await self._write(
            "release_leases", partial(feed.release_leases, owner=owner, shards=sorted(set(shards)))
        )
