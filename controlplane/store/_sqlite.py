"""The embedded SQLite store (stdlib ``sqlite3``, WAL, file mode 0600).

Threads: one writer connection on its own thread (every write, including status batches) and
``sqlite_readers`` read-only connections on threads of their own (WAL lets reads run beside writes and
beside each other; a read goes to the least busy reader). Nothing touches SQLite on the event loop.

Status writes are coalesced and batched by the shared ``StatusBatcher`` (see ``_batcher``); a batch is one
transaction on the writer's thread.

Durability: WAL + ``synchronous=NORMAL`` by default. A process crash (SIGKILL) loses nothing committed
and never corrupts; a power loss may roll back the newest commits. Durable status writes commit with
``synchronous=FULL`` (an fsync of the WAL), which also covers every commit before them, so whatever the
cluster actor persisted durably before acting on AWS survives a power loss, with the specs it acted on.

Secrets at rest: credential and ``secrets`` rows are sealed (AES-GCM, see ``_crypto``); the key is checked
(or set up, sealing rows written before encryption existed) inside the migration transaction at open.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import anyio
import msgspec
from anyio.abc import TaskGroup

from controlplane.api import Cluster, ClusterSpec, ClusterStatus, Credential, Event, Phase
from controlplane.metrics import STORE_OPERATION_SECONDS

from . import _sqlite_bulk as bulk
from . import _sqlite_feed as feed
from . import _sqlite_list as listing
from . import _sqlite_ops as ops
from ._batcher import State, StatusBatcher, StatusRow
from ._codec import ENCODE as _ENCODE
from ._copy import ClusterImport
from ._crypto import SecretBox
from ._errors import StoreClosed, StoreError
from ._paging import C, Decode, PagedLists
from ._query import ClusterQuery, FleetTotals
from ._records import Change, Fence, Lease, RawCluster, ReplicaRecord
from ._settings import StoreSettings
from ._sqlite_conn import Connection, Readers, connect_reader, connect_writer
from ._sqlite_secrets import ensure_key

logger = logging.getLogger(__name__)

T = TypeVar("T")

_ALL_EVENTS = -1  # SQLite's LIMIT -1: no limit
DEFAULT_KEY_FILE = "secret.key"
"""The key file's name beside the database when ``[store] secret_key_file`` is not set."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the store -----------------------------------------------------------------------------------------
class SQLiteStore(PagedLists):
    """The ``Store`` on a local SQLite file. Use as ``async with SQLiteStore(path) as store: ...``.

    Credentials and secrets are sealed with the key in ``secret_key_file`` (default: the settings' file,
    else ``secret.key`` beside the database), generated owner-only when absent.
    """

    def __init__(
        self,
        path: str | Path,
        settings: StoreSettings | None = None,
        *,
        shards: int = 256,
        secret_key_file: str | Path | None = None,
    ) -> None:
        if shards < 1:
            raise ValueError(f"shards must be >= 1, got {shards}")
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        """Where it is, as a store URL."""
        self.settings = settings or StoreSettings()
        self.shards = shards
        self.secret_key_file = Path(
            secret_key_file or self.settings.secret_key_file or self.path.parent / DEFAULT_KEY_FILE
        )
        self._state = State.NEW
        self._writer = Connection("store-writer")
        self._reader = Readers("store-reader", self.settings.sqlite_readers)
        self._task_group: TaskGroup | None = None
        self._box: SecretBox | None = None
        self._batcher = StatusBatcher(self.settings, self._commit_statuses, self._notify_changed)
        self._changed = anyio.Event()  # set (and replaced) when this process appended to the change feed

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r}, {self._state.name.lower()})"

    # --- lifecycle ---------------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        if self._state is not State.NEW:
            raise StoreClosed(f"store {self.path} is {self._state.value}; a store opens once")
        self._state = State.CLOSING  # unusable until fully open
        try:
            await self._writer.open(partial(connect_writer, self.path, self.settings, then=self._keyed))
            await self._reader.open(partial(connect_reader, self.path, self.settings))
            self._batcher.start_after(await self._writer.call(ops.max_status_seq))
            await self._writer.call(partial(feed.assign_shards, shards=self.shards))
            task_group = anyio.create_task_group()
            await task_group.__aenter__()
            self._task_group = task_group
            task_group.start_soon(self._batcher.run)
            task_group.start_soon(self._trimmer)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._reader.close()
                await self._writer.close()
            self._state = State.CLOSED
            raise
        self._state = State.OPEN
        logger.info("store open: %s", self.url)
        return self

    def _keyed(self, conn: sqlite3.Connection) -> None:
        # On the writer's thread, inside the migration transaction (see ``connect_writer``).
        self._box = ensure_key(conn, self.secret_key_file, f"SQLite database {self.path}")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state is not State.OPEN:
            raise StoreClosed(f"store {self.path} is {self._state.value}; cannot close it")
        self._state = State.CLOSING
        task_group, self._task_group = self._task_group, None
        assert task_group is not None
        try:
            # The final flush runs even if the caller is being cancelled: it is what close promises.
            with anyio.CancelScope(shield=True):
                await self._batcher.drain()
        finally:
            try:
                task_group.cancel_scope.cancel()
                await task_group.__aexit__(None, None, None)
            finally:
                with anyio.CancelScope(shield=True):
                    await self._release()

    async def _release(self) -> None:
        self._batcher.release(StoreClosed(f"store {self.path} closed before the flush"))
        try:
            await self._reader.close()
        finally:
            await self._writer.close()
            self._state = State.CLOSED

    def _check_open(self) -> None:
        if self._state is not State.OPEN:
            raise StoreClosed(f"store {self.path} is {self._state.value}")

    @property
    def _key(self) -> SecretBox:
        self._check_open()
        assert self._box is not None  # set at open, before the store is usable
        return self._box

    async def _read(self, operation: str, fn: partial[T]) -> T:
        self._check_open()
        with STORE_OPERATION_SECONDS.labels(operation).time():
            return await self._reader.call(fn)

    async def _write(self, operation: str, fn: partial[T]) -> T:
        self._check_open()
        with STORE_OPERATION_SECONDS.labels(operation).time():
            return await self._writer.call(fn)

    async def _membership(self, operation: str, fn: partial[T], *, write: bool = True) -> T:
        """A heartbeat or lease operation: ahead of the ordinary calls waiting for the connection."""
        self._check_open()
        with STORE_OPERATION_SECONDS.labels(operation).time():
            return await (self._writer if write else self._reader).call(fn, urgent=True)

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
            partial(ops.insert_cluster, cluster=stored, seq=self._batcher.next_seq(), shards=self.shards),
        )
        return msgspec.json.decode(_ENCODE(stored), type=Cluster)

    async def get_cluster(self, name: str) -> Cluster | None:
        entry = self._batcher.latest(name)
        found = await self._read("get_cluster", partial(ops.get_cluster, name=name))
        return None if found is None else self._batcher.overlay(found[0], found[1], entry)

    async def list_clusters(self, *, phase: Phase | None = None) -> list[Cluster]:
        overlay = self._batcher.snapshot()
        wanted = None if phase is None else phase.value
        extra = [] if wanted is None else [name for name, entry in overlay.items() if entry.phase == wanted]
        rows = await self._read("list_clusters", partial(ops.list_clusters, phase=wanted, extra_names=extra))
        clusters = [
            self._batcher.overlay(cluster, seq, overlay.get(cluster.metadata.name)) for cluster, seq in rows
        ]
        if phase is None:
            return clusters
        return [cluster for cluster in clusters if cluster.status.phase == phase]

    async def list_cluster_names(self) -> list[str]:
        return await self._read("list_cluster_names", partial(ops.list_cluster_names))

    async def list_clusters_in_shards(self, shards: Collection[int]) -> list[Cluster]:
        overlay = self._batcher.snapshot()
        rows = await self._read(
            "list_clusters_in_shards", partial(ops.list_clusters_in_shards, shards=sorted(set(shards)))
        )
        return [
            self._batcher.overlay(cluster, seq, overlay.get(cluster.metadata.name)) for cluster, seq in rows
        ]

    async def list_raw_clusters_in_shards(self, shards: Collection[int]) -> list[RawCluster]:
        overlay = self._batcher.snapshot()
        rows = await self._read(
            "list_raw_clusters_in_shards",
            partial(ops.list_raw_clusters_in_shards, shards=sorted(set(shards))),
        )
        return self._batcher.raw(rows, overlay)

    async def _scan(
        self, operation: str, query: ClusterQuery, after: str, limit: int, *, decode: Decode[C]
    ) -> list[tuple[C, int]]:
        return await self._read(
            operation, partial(listing.scan_page, query=query, after=after, limit=limit, decode=decode)
        )

    async def get_clusters(self, names: Collection[str]) -> dict[str, Cluster]:
        if not names:
            return {}
        overlay = self._batcher.snapshot()
        rows = await self._read("get_clusters", partial(listing.get_clusters, names=sorted(set(names))))
        return {
            cluster.metadata.name: self._batcher.overlay(cluster, seq, overlay.get(cluster.metadata.name))
            for cluster, seq in rows
        }

    async def fleet_totals(self, *, sync_older_than: Collection[int] = ()) -> FleetTotals:
        return await self._read(
            "fleet_totals",
            partial(listing.fleet_totals, now=time.time(), thresholds=sorted(set(sync_older_than))),
        )

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
        entry = self._batcher.latest(name)
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
        return self._batcher.overlay(cluster, seq, entry)

    async def mark_deleting(self, name: str) -> Cluster:
        entry = self._batcher.latest(name)
        cluster, seq = await self._write_change(
            "mark_deleting", partial(ops.mark_deleting, name=name, now=_now())
        )
        return self._batcher.overlay(cluster, seq, entry)

    async def delete_cluster(self, name: str, *, fence: Fence | None = None) -> bool:
        self._check_open()
        deleted = await self._write_change(
            "delete_cluster", partial(ops.delete_cluster, name=name, fence=fence)
        )
        self._batcher.forget(name)  # the status of a deleted cluster is dropped, as documented
        return deleted

    # --- status --------------------------------------------------------------------------------------------
    async def write_status(
        self, name: str, status: ClusterStatus, *, durable: bool = False, fence: Fence | None = None
    ) -> None:
        self._check_open()
        await self._batcher.write(name, status, durable=durable, fence=fence, check_open=self._check_open)

    async def flush(self) -> None:
        self._check_open()
        await self._batcher.flush()

    async def _commit_statuses(self, rows: list[StatusRow], durable: bool) -> list[str]:
        # A durable batch fsyncs (FULL) unless every commit does already.
        fsync = durable and self.settings.synchronous != "full"
        fenced: list[str] = await self._writer.call(partial(ops.write_statuses, rows=rows, fsync=fsync))
        return fenced

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
        return await self._write_change(
            "put_credential", partial(ops.put_credential, cred=cred, now=_now(), box=self._key)
        )

    async def get_credential(self, namespace: str, name: str) -> Credential | None:
        return await self._read(
            "get_credential", partial(ops.get_credential, namespace=namespace, name=name, box=self._key)
        )

    async def list_credentials(self) -> list[Credential]:
        return await self._read("list_credentials", partial(ops.list_credentials, box=self._key))

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
        await self._write(
            "put_secret", partial(ops.put_secret, name=name, data=_ENCODE(data), fence=fence, box=self._key)
        )

    async def get_secret(self, name: str) -> dict[str, str] | None:
        return await self._read("get_secret", partial(ops.get_secret, name=name, box=self._key))

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

    # --- whole-fleet export and import (store copy) ------------------------------------------------------
    async def counts(self) -> dict[str, int]:
        return await self._read("counts", partial(bulk.counts))

    async def list_secrets(self) -> dict[str, dict[str, str]]:
        return await self._read("list_secrets", partial(bulk.list_secrets, box=self._key))

    async def export_events(self, name: str) -> list[Event]:
        return await self._read("list_events", partial(ops.list_events, name=name, limit=_ALL_EVENTS))

    async def import_clusters(self, items: Sequence[ClusterImport]) -> None:
        seqs = [self._batcher.next_seq() for _ in items]
        await self._write_change(
            "import_clusters", partial(bulk.import_clusters, items=items, seqs=seqs, shards=self.shards)
        )

    async def import_credentials(self, creds: Sequence[Credential]) -> None:
        await self._write_change(
            "import_credentials", partial(bulk.import_credentials, creds=creds, box=self._key)
        )

    # --- replicas and leases -----------------------------------------------------------------------------
    async def heartbeat(self, replica_id: str, address: str, *, started: float) -> float:
        return await self._membership(
            "heartbeat", partial(feed.heartbeat, replica_id=replica_id, address=address, started=started)
        )

    async def list_replicas(self) -> list[ReplicaRecord]:
        return await self._membership("list_replicas", partial(feed.list_replicas), write=False)

    async def remove_replica(self, replica_id: str) -> None:
        await self._write("remove_replica", partial(feed.remove_replica, replica_id=replica_id))

    async def list_leases(self) -> list[Lease]:
        return await self._membership("list_leases", partial(feed.list_leases), write=False)

    async def acquire_leases(self, owner: str, shards: Collection[int], duration: float) -> list[Lease]:
        return await self._membership(
            "acquire_leases",
            partial(feed.acquire_leases, owner=owner, shards=sorted(set(shards)), duration=duration),
        )

    async def renew_leases(self, owner: str, held: Mapping[int, int], duration: float) -> list[Lease]:
        return await self._membership(
            "renew_leases", partial(feed.renew_leases, owner=owner, held=dict(held), duration=duration)
        )

    async def release_leases(self, owner: str, shards: Collection[int]) -> None:
        await self._membership(
            "release_leases", partial(feed.release_leases, owner=owner, shards=sorted(set(shards)))
        )
