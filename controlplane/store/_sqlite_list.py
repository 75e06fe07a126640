"""The SQL of paged, filtered cluster lists and of the fleet's aggregate counts (SQLite).

Pages are keyset scans (``name > last ORDER BY name LIMIT n``) over the primary key, so a page costs the
same at the start and at the end of 100,000 clusters and holds at most ``n`` decoded clusters. Filters
are pushed into the query with SQLite's JSON functions (labels live in the metadata JSON, status fields
in the status JSON); ``_query.matches`` re-checks every row, so the pushdown only has to be a superset.
Plain functions run on a connection's thread, like ``_sqlite_ops``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Any

from controlplane.api import Cluster

from ._codec import CLUSTER_COLUMNS, ENCODE, decode_clusters
from ._paging import C, Decode
from ._query import CONFLICT_CONDITION, ClusterQuery, FleetTotals, LabelOp, prefix_upper_bound

_SELECT = f"SELECT {CLUSTER_COLUMNS} FROM clusters AS c JOIN cluster_status AS s ON s.name = c.name"
_CONFLICT = (
    "EXISTS (SELECT 1 FROM json_each(s.status, '$.conditions') AS j"
    f" WHERE json_extract(j.value, '$.type') = '{CONFLICT_CONDITION}'"
    " AND json_extract(j.value, '$.status') = 'True')"
)
_FAILING = "COALESCE(json_extract(s.status, '$.failureMessage'), '') <> ''"
_LAST_SYNC = "json_extract(s.status, '$.lastSyncTime')"
_VERSION = (
    "COALESCE(json_extract(c.spec, '$.eksConfig.kubernetesVersion'),"
    " json_extract(s.status, '$.eksStatus.upstreamSpec.kubernetesVersion'), '')"
)


def _label_path(key: str) -> str:
    # Keys passed the selector grammar (letters, digits, '-', '_', '.', one '/'): no quote to escape.
    return f'$.labels."{key}"'


def where(query: ClusterQuery, after: str) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) selecting a superset of ``query`` after name ``after``."""
    clauses = ["c.name > ?"]
    params: list[Any] = [after]
    if query.name_prefix:
        clauses.append("c.name >= ?")
        params.append(query.name_prefix)
        upper = prefix_upper_bound(query.name_prefix)
        if upper is not None:
            clauses.append("c.name < ?")
            params.append(upper)
    if query.phase is not None:
        clauses.append("s.phase = ?")
        params.append(query.phase.value)
    if query.conflict:
        clauses.append(_CONFLICT)
    if query.failing:
        clauses.append(_FAILING)
    for req in query.labels:
        value = "json_extract(c.metadata, ?)"
        path = _label_path(req.key)
        marks = ", ".join("?" * len(req.values))
        if req.op is LabelOp.EXISTS:
            clauses.append("json_type(c.metadata, ?) IS NOT NULL")
            params.append(path)
        elif req.op is LabelOp.NOT_EXISTS:
            clauses.append("json_type(c.metadata, ?) IS NULL")
            params.append(path)
        elif req.op in (LabelOp.EQUALS, LabelOp.IN):
            clauses.append(f"{value} IN ({marks})")
            params += [path, *req.values]
        else:
            clauses.append(f"({value} IS NULL OR {value} NOT IN ({marks}))")
            params += [path, path, *req.values]
    return " AND ".join(clauses), params


def scan_page(
    conn: sqlite3.Connection,
    query: ClusterQuery,
    after: str,
    limit: int,
    decode: Decode[C],
) -> list[tuple[C, int]]:
    """Up to ``limit`` clusters after ``after`` that may match ``query``, ordered by name, each with its
    row's status sequence number (for the pending-status overlay), decoded by ``decode`` (whole
    clusters, or ``decode_digests``)."""
    clause, params = where(query, after)
    rows = conn.execute(f"{_SELECT} WHERE {clause} ORDER BY c.name LIMIT ?", (*params, limit)).fetchall()
    return decode(rows)


def get_clusters(conn: sqlite3.Connection, names: Collection[str]) -> list[tuple[Cluster, int]]:
    """The named clusters that exist (one query for a batch of names), in no particular order."""
    rows = conn.execute(
        f"{_SELECT} WHERE c.name IN (SELECT value FROM json_each(?))", (ENCODE(list(names)),)
    ).fetchall()
    return decode_clusters(rows)


def fleet_totals(conn: sqlite3.Connection, now: float, thresholds: Collection[int]) -> FleetTotals:
    """Every count in one read transaction (a consistent snapshot), by aggregate queries only."""
    conn.execute("BEGIN")
    try:
        totals = FleetTotals()
        totals.total = int(conn.execute("SELECT COUNT(*) FROM clusters").fetchone()[0])
        totals.by_phase = {
            str(p): int(n)
            for p, n in conn.execute("SELECT phase, COUNT(*) FROM cluster_status GROUP BY phase")
        }
        joined = "FROM clusters AS c JOIN cluster_status AS s ON s.name = c.name"
        totals.by_version = {
            str(v): int(n) for v, n in conn.execute(f"SELECT {_VERSION} AS v, COUNT(*) {joined} GROUP BY v")
        }
        ordered = sorted(set(thresholds))
        age = f"(? - CAST(strftime('%s', {_LAST_SYNC}) AS INTEGER))"
        older = "".join(f", COALESCE(SUM({_LAST_SYNC} IS NOT NULL AND {age} > ?), 0)" for _ in ordered)
        older_params = [p for t in ordered for p in (now, t)]
        row = conn.execute(
            f"SELECT COALESCE(SUM({_CONFLICT}), 0), COALESCE(SUM({_FAILING}), 0),"
            f" COALESCE(SUM({_LAST_SYNC} IS NULL), 0), MIN({_LAST_SYNC}){older} {joined}",
            older_params,
        ).fetchone()
    finally:
        conn.execute("COMMIT")
    totals.conflict, totals.failing, totals.never_synced = int(row[0]), int(row[1]), int(row[2])
    totals.oldest_sync = str(row[3] or "")
    totals.sync_older_than = {t: int(n) for t, n in zip(ordered, row[4:], strict=True)}
    return totals
