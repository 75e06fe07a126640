"""The SQL of the SQLite store's coordination tables: the change feed, replicas, shard leases, fences
and shard assignment. Plain functions run on a connection's thread, like ``_sqlite_ops``.

Time is this machine's wall clock (``time.time``): with SQLite every process sharing the file runs on
the same machine, so lease expiry is judged by one clock.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Collection, Iterable, Mapping

from ._errors import ChangesExpired, Fenced
from ._records import Change, ChangeKind, Fence, Lease, ReplicaRecord, shard_of

_TRIMMED_THROUGH = "changes.trimmed_through"
_PUT_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_SHARDS = "shards"

FENCE_HOLDS = "EXISTS (SELECT 1 FROM leases WHERE shard = ? AND owner = ? AND epoch = ? AND expires > ?)"
"""SQL condition: the fence's lease is still held (bind: shard, owner, epoch, now)."""


def now() -> float:
    return time.time()


def fence_args(fence: Fence, at: float) -> tuple[int, str, int, float]:
    return fence.shard, fence.owner, fence.epoch, at


def check_fence(conn: sqlite3.Connection, fence: Fence | None, at: float) -> None:
    """Inside a write transaction: raise ``Fenced`` unless ``fence`` (if any) still holds."""
    if fence is None:
        return
    if conn.execute(f"SELECT {FENCE_HOLDS}", fence_args(fence, at)).fetchone()[0] != 1:
        raise Fenced(
            f"lease of shard {fence.shard} at epoch {fence.epoch} is no longer held by {fence.owner}"
        )


# --- the change feed ------------------------------------------------------------------------------------
def append_change(conn: sqlite3.Connection, kind: ChangeKind, name: str, at: float) -> None:
    conn.execute("INSERT INTO changes (kind, name, at) VALUES (?, ?, ?)", (kind.value, name, at))


def append_changes(conn: sqlite3.Connection, kind: ChangeKind, names: Iterable[str], at: float) -> None:
    conn.executemany(
        "INSERT INTO changes (kind, name, at) VALUES (?, ?, ?)", [(kind.value, n, at) for n in names]
    )


def head(conn: sqlite3.Connection) -> int:
    """The newest sequence number ever assigned (0 for a new store), trimmed or not."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    return 0 if row is None else int(row[0])


def _trimmed_through(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_TRIMMED_THROUGH,)).fetchone()
    return 0 if row is None else int(row[0])


def changes_since(conn: sqlite3.Connection, after: int, limit: int) -> list[Change]:
    """Up to ``limit`` changes with ``seq > after``, oldest first; ``ChangesExpired`` if some of them
    were trimmed already (read in one snapshot, so a concurrent trim cannot slip between the checks)."""
    conn.execute("BEGIN")
    try:
        trimmed = _trimmed_through(conn)
        if after < trimmed:
            raise ChangesExpired(after, trimmed)
        rows = conn.execute(
            "SELECT seq, kind, name, at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        ).fetchall()
    finally:
        conn.execute("COMMIT")
    return [Change(int(seq), ChangeKind(kind), str(name), float(at)) for seq, kind, name, at in rows]


def trim_changes(conn: sqlite3.Connection, older_than: float) -> int:
    """Delete changes committed before ``older_than``; returns how many."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT MAX(seq) FROM changes WHERE at < ?", (older_than,)).fetchone()
        cut = row[0]
        deleted = 0
        if cut is not None:
            deleted = conn.execute("DELETE FROM changes WHERE seq <= ?", (cut,)).rowcount
            conn.execute(_PUT_META, (_TRIMMED_THROUGH, str(cut)))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return deleted


# --- shards ---------------------------------------------------------------------------------------------
def assign_shards(conn: sqlite3.Connection, shards: int) -> int:
    """Give every cluster its shard for ``shards`` shards (all rows if the count changed since the last
    open, else only rows not assigned yet). Returns how many rows were (re)assigned."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (_SHARDS,)).fetchone()
        where = "" if row is None or int(row[0]) != shards else " WHERE shard < 0"
        names = [str(r[0]) for r in conn.execute(f"SELECT name FROM clusters{where}")]
        conn.executemany(
            "UPDATE clusters SET shard = ? WHERE name = ?", [(shard_of(n, shards), n) for n in names]
        )
        conn.execute(_PUT_META, (_SHARDS, str(shards)))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(names)


def count_clusters_by_shard(conn: sqlite3.Connection) -> dict[int, int]:
    return {int(s): int(n) for s, n in conn.execute("SELECT shard, COUNT(*) FROM clusters GROUP BY shard")}


# --- replicas -------------------------------------------------------------------------------------------
def heartbeat(conn: sqlite3.Connection, replica_id: str, address: str, started: float) -> float:
    at = now()
    conn.execute(
        "INSERT INTO replicas (id, address, started, heartbeat) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET address = excluded.address, heartbeat = excluded.heartbeat",
        (replica_id, address, started, at),
    )
    return at


def list_replicas(conn: sqlite3.Connection) -> list[ReplicaRecord]:
    rows = conn.execute("SELECT id, address, started, heartbeat FROM replicas ORDER BY id").fetchall()
    return [ReplicaRecord(str(i), str(a), float(s), float(h)) for i, a, s, h in rows]


def remove_replica(conn: sqlite3.Connection, replica_id: str) -> None:
    conn.execute("DELETE FROM replicas WHERE id = ?", (replica_id,))


# --- leases ---------------------------------------------------------------------------------------------
_LEASE_COLUMNS = "shard, owner, epoch, renewed, expires"


def _lease(row: tuple[int, str, int, float, float]) -> Lease:
    return Lease(int(row[0]), str(row[1]), int(row[2]), float(row[3]), float(row[4]))


def list_leases(conn: sqlite3.Connection) -> list[Lease]:
    return [_lease(r) for r in conn.execute(f"SELECT {_LEASE_COLUMNS} FROM leases ORDER BY shard")]


def acquire_leases(
    conn: sqlite3.Connection, owner: str, shards: Collection[int], duration: float
) -> list[Lease]:
    """Take every shard of ``shards`` that is free, expired or already ours; a change of owner bumps
    the epoch. Returns the leases now held by ``owner`` among ``shards``."""
    at = now()
    out: list[Lease] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for shard in shards:
            row = conn.execute(f"SELECT {_LEASE_COLUMNS} FROM leases WHERE shard = ?", (shard,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO leases (shard, owner, epoch, renewed, expires) VALUES (?, ?, 1, ?, ?)",
                    (shard, owner, at, at + duration),
                )
                out.append(Lease(shard, owner, 1, at, at + duration))
                continue
            lease = _lease(row)
            if lease.owner != owner and lease.owner and lease.expires > at:
                continue  # held by a live owner
            epoch = lease.epoch if lease.owner == owner else lease.epoch + 1
            conn.execute(
                "UPDATE leases SET owner = ?, epoch = ?, renewed = ?, expires = ? WHERE shard = ?",
                (owner, epoch, at, at + duration, shard),
            )
            out.append(Lease(shard, owner, epoch, at, at + duration))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return out


def renew_leases(
    conn: sqlite3.Connection, owner: str, held: Mapping[int, int], duration: float
) -> list[Lease]:
    """Extend the leases ``owner`` still holds at the given epochs (shard -> epoch), expired or not, as
    long as nobody took them meanwhile. Returns the renewed ones; a missing shard was lost."""
    at = now()
    # Two statements whatever the number of shards: each statement gives the GIL up and waits to take it
    # back from the busy event loop, and 256 of them made a renewal take seconds at 50,000 clusters.
    wanted = json.dumps({str(shard): epoch for shard, epoch in held.items()})
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "UPDATE leases SET renewed = ?, expires = ? WHERE owner = ? AND (shard, epoch) IN "
            "(SELECT CAST(key AS INTEGER), value FROM json_each(?))",
            (at, at + duration, owner, wanted),
        )
        found = conn.execute(
            "SELECT json_group_array(shard) FROM leases WHERE owner = ? AND renewed = ? AND expires = ?",
            (owner, at, at + duration),
        ).fetchone()[0]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    renewed = set(json.loads(found))
    return [
        Lease(shard, owner, epoch, at, at + duration) for shard, epoch in held.items() if shard in renewed
    ]


def release_leases(conn: sqlite3.Connection, owner: str, shards: Collection[int]) -> None:
    """Give shards up at once (a graceful hand-over): free, expired now, epoch kept for the next owner."""
    at = now()
    conn.executemany(
        "UPDATE leases SET owner = '', expires = ? WHERE shard = ? AND owner = ?",
        [(at, shard, owner) for shard in shards],
    )
