"""The PostgreSQL store: several replicas share one fleet through one database.

Driver: asyncpg. It speaks PostgreSQL's binary protocol natively in asyncio (JSON documents travel as
``bytea`` with no text round trip, arrays bind directly for the ``unnest`` batch statements), prepares and
caches statements per connection, ships its own bounded pool, and supports LISTEN/NOTIFY. psycopg 3 is the
other well-kept choice; its async mode is a layer over a sync core, and the batch writes here want arrays
bound in binary, which asyncpg does by default.

Connections: a pool of at most ``pool_size`` for every read and write, plus one connection of its own that
LISTENs for change-feed notifications (a hint only: followers still poll every ``feed_poll_interval``).
Nothing blocks the event loop; rows are decoded on it (as the SQLite backend decodes on its threads).

Semantics are the SQLite backend's (see ``Store``), with these PostgreSQL specifics:
- Status writes are batched by the shared ``StatusBatcher``; a batch is one ``UPDATE ... FROM unnest(...)``
  statement that also appends its feed rows, after a share lock on the batch's fence leases.
- The change feed's sequence comes from a one-row counter updated last in each writing transaction, so
  sequence numbers commit in order (see ``_pg_schema``).
- Leases, heartbeats, fences and feed trimming use the database's clock.
- Migrations run at open under an advisory lock; the secret key is checked in the same transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Concatenate, ParamSpec, Self, TypeVar

import anyio
import msgspec
from anyio.abc import TaskGroup

from controlplane.api import Cluster, ClusterSpec, ClusterStatus, Credential, Event, Phase

from . import _pg_bulk as bulk
from . import _pg_feed as feed
from . import _pg_list as listing
from . import _pg_ops as ops
from ._batcher import State, StatusBatcher, StatusRow
from ._codec import ENCODE
from ._copy import ClusterImport
from ._crypto import KEY_CHECK, KEY_HELP, SecretBox, read_key_file
from ._errors import StoreClosed, StoreError
from ._paging import C, Decode, PagedLists
from ._pg_conn import PgConnections
from ._pg_schema import Connection, migrate
from ._query import ClusterQuery, FleetTotals
from ._records import Change, Fence, Lease, RawCluster, ReplicaRecord
from ._settings import StoreSettings
from ._url import redact_url

logger = logging.getLogger("controlplane.store")

T = TypeVar("T")
P = ParamSpec("P")
_ALL_EVENTS = 2**62


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PostgresStore(PagedLists):
    """The ``Store`` on a PostgreSQL database. ``async with PostgresStore(url, settings) as store: ...``.

    ``secret_key_file`` (default: the settings' ``secret_key_file``) is required, and must be the same
    file on every replica; a key that does not match the database's is refused at open.
    """

    def __init__(
        self,
        url: str,
        settings: StoreSettings | None = None,
        *,
        shards: int = 256,
        secret_key_file: str | Path | None = None,
    ) -> None:
        if shards < 1:
            raise ValueError(f"shards must be >= 1, got {shards}")
        self.url = redact_url(url)
        """The URL without its password: safe to print."""
        self.settings = settings or StoreSettings()
        self._db = PgConnections(url, self.url, self.settings)
        self.shards = shards
        key_file = secret_key_file or self.settings.secret_key_file
        self.secret_key_file = Path(key_file) if key_file else None
        self._state = State.NEW
        self._task_group: TaskGroup | None = None
        self._box: SecretBox | None = None
        self._batcher = StatusBatcher(self.settings, self._commit_statuses, self._notify_changed)
        self._changed = anyio.Event()  # set (and replaced) on a change here or a notification

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r}, {self._state.name.lower()})"

    # --- lifecycle ---------------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        if self._state is not State.NEW:
            raise StoreClosed(f"store {self.url} is {self._state.value}; a store opens once")
        self._state = State.CLOSING  # unusable until fully open
        try:
            box = await self._load_key()
            with self._db.errors("open"):
                conn = await self._db.connect()
                try:
                    await migrate(conn, then=lambda c: self._prepare(c, box))
                finally:
                    await conn.close()
                await self._db.open_pool()
            async with self._db.acquire("open", timed=False) as pooled:
                self._batcher.start_after(await ops.max_status_seq(pooled))
            self._box = box
            task_group = anyio.create_task_group()
            await task_group.__aenter__()
            self._task_group = task_group
            task_group.start_soon(self._batcher.run)
            task_group.start_soon(self._trimmer)
            task_group.start_soon(self._db.listen, self._notify_changed)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._db.close()
            self._state = State.CLOSED
            raise
        self._state = State.OPEN
        logger.info("store open: %s", self.url)
        return self

    async def _load_key(self) -> SecretBox:
        path = self.secret_key_file
        if path is None:
            raise StoreError(
                "the PostgreSQL store needs [store] secret_key_file (CONTROLPLANE_STORE_SECRET_KEY_FILE): "
                f"the same key file on every replica, holding {KEY_HELP}"
            )
        box = await anyio.to_thread.run_sync(read_key_file, path)
        if box is None:
            raise StoreError(
                f"secret key file {path} does not exist: the PostgreSQL store needs {KEY_HELP}, "
                "the same file on every replica"
            )
        return box

    async def _prepare(self, conn: Connection, box: SecretBox) -> None:
        """In the migration transaction: check (or record) the key, then assign shards."""
        check = await conn.fetchval("SELECT value FROM meta WHERE key = $1", KEY_CHECK)
        if check is None:
            await conn.execute("INSERT INTO meta (key, value) VALUES ($1, $2)", KEY_CHECK, box.key_check())
        else:
            box.verify(str(check), f"PostgreSQL database {self.url}")
        await feed.assign_shards(conn, self.shards)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state is not State.OPEN:
            raise StoreClosed(f"store {self.url} is {self._state.value}; cannot close it")
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
                    self._batcher.release(StoreClosed(f"store {self.url} closed before the flush"))
                    await self._db.close()
                    self._state = State.CLOSED

    def _check_open(self) -> None:
        if self._state is not State.OPEN:
            raise StoreClosed(f"store {self.url} is {self._state.value}")

    @property
    def _key(self) -> SecretBox:
        self._check_open()
        assert self._box is not None  # set at open, before the store is usable
        return self._box

    async def _run(
        self,
        operation: str,
        fn: Callable[Concatenate[Connection, P], Awaitable[T]],
        *a: P.args,
        **kw: P.kwargs,
    ) -> T:
        self._check_open()
        async with self._db.acquire(operation) as conn:
            return await fn(conn, *a, **kw)

    async def _run_membership(
        self,
        operation: str,
        fn: Callable[Concatenate[Connection, P], Awaitable[T]],
        *a: P.args,
        **kw: P.kwargs,
    ) -> T:
        """A heartbeat or lease operation, on connections no actor pass queues for."""
        self._check_open()
        async with self._db.acquire(operation, membership=True) as conn:
            return await fn(conn, *a, **kw)

    async def _run_change(
        self,
        operation: str,
        fn: Callable[Concatenate[Connection, P], Awaitable[T]],
        *a: P.args,
        **kw: P.kwargs,
    ) -> T:
        """A write that appends to the change feed: wake this process's followers once it committed."""
        try:
            return await self._run(operation, fn, *a, **kw)
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
        stored = msgspec.json.decode(ENCODE(cluster), type=Cluster)
        stored.metadata.resource_version = "1"
        stored.metadata.generation = 1
        stored.metadata.creation_timestamp = _now()
        stored.metadata.deletion_timestamp = ""
        await self._run_change(
            "create_cluster", ops.insert_cluster, stored, self._batcher.next_seq(), self.shards
        )
        return msgspec.json.decode(ENCODE(stored), type=Cluster)

    async def get_cluster(self, name: str) -> Cluster | None:
        entry = self._batcher.latest(name)
        found = await self._run("get_cluster", ops.get_cluster, name)
        return None if found is None else self._batcher.overlay(found[0], found[1], entry)

    async def list_clusters(self, *, phase: Phase | None = None) -> list[Cluster]:
        overlay = self._batcher.snapshot()
        wanted = None if phase is None else phase.value
        extra = [] if wanted is None else [name for name, entry in overlay.items() if entry.phase == wanted]
        rows = await self._run("list_clusters", ops.list_clusters, wanted, extra)
        clusters = [self._batcher.overlay(c, seq, overlay.get(c.metadata.name)) for c, seq in rows]
        return clusters if phase is None else [c for c in clusters if c.status.phase == phase]

    async def list_cluster_names(self) -> list[str]:
        return await self._run("list_cluster_names", ops.list_cluster_names)

    async def list_clusters_in_shards(self, shards: Collection[int]) -> list[Cluster]:
        overlay = self._batcher.snapshot()
        rows = await self._run("list_clusters_in_shards", ops.list_clusters_in_shards, sorted(set(shards)))
        return [self._batcher.overlay(c, seq, overlay.get(c.metadata.name)) for c, seq in rows]

    async def list_raw_clusters_in_shards(self, shards: Collection[int]) -> list[RawCluster]:
        overlay = self._batcher.snapshot()
        rows = await self._run(
            "list_raw_clusters_in_shards", ops.list_raw_clusters_in_shards, sorted(set(shards))
        )
        return self._batcher.raw(rows, overlay)

    async def _scan(
        self, operation: str, query: ClusterQuery, after: str, limit: int, *, decode: Decode[C]
    ) -> list[tuple[C, int]]:
        return await self._run(operation, listing.scan_page, query, after, limit, decode)

    async def get_clusters(self, names: Collection[str]) -> dict[str, Cluster]:
        if not names:
            return {}
        overlay = self._batcher.snapshot()
        rows = await self._run("get_clusters", listing.get_clusters, sorted(set(names)))
        return {
            c.metadata.name: self._batcher.overlay(c, seq, overlay.get(c.metadata.name)) for c, seq in rows
        }

    async def fleet_totals(self, *, sync_older_than: Collection[int] = ()) -> FleetTotals:
        return await self._run(
            "fleet_totals", listing.fleet_totals, time.time(), sorted(set(sync_older_than))
        )

    async def count_clusters_by_shard(self) -> dict[int, int]:
        return await self._run("count_clusters_by_shard", feed.count_clusters_by_shard)

    async def find_identity(self, display_name: str, region: str) -> dict[str, str]:
        return await self._run("find_identity", ops.find_identity, display_name, region)

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
        cluster, seq = await self._run_change(
            "update_spec",
            ops.update_spec,
            name=name,
            spec_json=ENCODE(spec),
            labels=None if labels is None else dict(labels),
            annotations=None if annotations is None else dict(annotations),
            expected=expected_resource_version,
            fence=fence,
        )
        return self._batcher.overlay(cluster, seq, entry)

    async def mark_deleting(self, name: str) -> Cluster:
        entry = self._batcher.latest(name)
        cluster, seq = await self._run_change("mark_deleting", ops.mark_deleting, name, _now())
        return self._batcher.overlay(cluster, seq, entry)

    async def delete_cluster(self, name: str, *, fence: Fence | None = None) -> bool:
        deleted = await self._run_change("delete_cluster", ops.delete_cluster, name, fence)
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
        async with self._db.acquire("write_statuses", timed=False) as conn:
            return await ops.write_statuses(conn, rows, durable, self.settings.synchronous)

    # --- events ----------------------------------------------------------------------------------------
    async def append_event(self, name: str, event: Event, *, fence: Fence | None = None) -> None:
        if not event.cluster:
            event = msgspec.structs.replace(event, cluster=name)
        keep = self.settings.events_per_cluster
        await self._run("append_event", ops.append_event, name, ENCODE(event), keep, fence)

    async def list_events(self, name: str, *, limit: int | None = None) -> list[Event]:
        keep = self.settings.events_per_cluster
        limit = keep if limit is None else max(0, min(limit, keep))
        return await self._run("list_events", ops.list_events, name, limit)

    # --- credentials, settings, secrets ------------------------------------------------------------------
    async def put_credential(self, cred: Credential) -> Credential:
        return await self._run_change("put_credential", ops.put_credential, cred, _now(), self._key)

    async def get_credential(self, namespace: str, name: str) -> Credential | None:
        return await self._run("get_credential", ops.get_credential, namespace, name, self._key)

    async def list_credentials(self) -> list[Credential]:
        return await self._run("list_credentials", ops.list_credentials, self._key)

    async def delete_credential(self, namespace: str, name: str) -> bool:
        return await self._run_change("delete_credential", ops.delete_credential, namespace, name)

    async def get_setting(self, name: str) -> str | None:
        return await self._run("get_setting", ops.get_setting, name)

    async def put_setting(self, name: str, value: str) -> None:
        await self._run_change("put_setting", ops.put_setting, name, value)

    async def list_settings(self) -> dict[str, str]:
        return await self._run("list_settings", ops.list_settings)

    async def put_secret(self, name: str, data: dict[str, str], *, fence: Fence | None = None) -> None:
        await self._run("put_secret", ops.put_secret, name, ENCODE(data), fence, self._key)

    async def get_secret(self, name: str) -> dict[str, str] | None:
        return await self._run("get_secret", ops.get_secret, name, self._key)

    async def delete_secret(self, name: str, *, fence: Fence | None = None) -> bool:
        return await self._run("delete_secret", ops.delete_secret, name, fence)

    # --- the change feed ---------------------------------------------------------------------------------
    async def request_sync(self, name: str) -> None:
        await self._run_change("request_sync", ops.request_sync, name)

    async def head(self) -> int:
        return await self._run("head", feed.head)

    async def changes_since(self, after: int, *, limit: int = 1000) -> list[Change]:
        return await self._run("changes_since", feed.changes_since, after, limit)

    async def wait_for_change(self, after: int) -> int:
        """Wait until the feed has a change after ``after``; returns the head then. Changes of this
        process wake it at once, other processes' on their NOTIFY, or within ``feed_poll_interval``
        if a notification is lost. Bound the wait with the caller's cancel scope."""
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
                async with self._db.acquire("trim_changes") as conn:
                    await feed.trim_changes(conn, retention)
            except StoreError as exc:
                logger.warning("trimming the change feed failed (retrying later): %s", exc)

    # --- whole-fleet export and import (store copy) ------------------------------------------------------
    async def counts(self) -> dict[str, int]:
        return await self._run("counts", bulk.counts)

    async def list_secrets(self) -> dict[str, dict[str, str]]:
        return await self._run("list_secrets", bulk.list_secrets, self._key)

    async def export_events(self, name: str) -> list[Event]:
        return await self._run("list_events", ops.list_events, name, _ALL_EVENTS)

    async def import_clusters(self, items: Sequence[ClusterImport]) -> None:
        seqs = [self._batcher.next_seq() for _ in items]
        await self._run_change("import_clusters", bulk.import_clusters, items, seqs, self.shards)

    async def import_credentials(self, creds: Sequence[Credential]) -> None:
        await self._run_change("import_credentials", bulk.import_credentials, creds, self._key)

    # --- replicas and leases -----------------------------------------------------------------------------
    async def heartbeat(self, replica_id: str, address: str, *, started: float) -> float:
        return await self._run_membership("heartbeat", feed.heartbeat, replica_id, address, started)

    async def list_replicas(self) -> list[ReplicaRecord]:
        return await self._run_membership("list_replicas", feed.list_replicas)

    async def remove_replica(self, replica_id: str) -> None:
        await self._run("remove_replica", feed.remove_replica, replica_id)

    async def list_leases(self) -> list[Lease]:
        return await self._run_membership("list_leases", feed.list_leases)

    async def acquire_leases(self, owner: str, shards: Collection[int], duration: float) -> list[Lease]:
        return await self._run_membership(
            "acquire_leases", feed.acquire_leases, owner, sorted(set(shards)), duration
        )

    async def renew_leases(self, owner: str, held: Mapping[int, int], duration: float) -> list[Lease]:
        return await self._run_membership("renew_leases", feed.renew_leases, owner, dict(held), duration)

    async def release_leases(self, owner: str, shards: Collection[int]) -> None:
        await self._run_membership("release_leases", feed.release_leases, owner, sorted(set(shards)))
