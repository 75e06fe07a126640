"""The SQL of paged, filtered cluster lists and of the fleet's aggregate counts (PostgreSQL).

The same plan as ``_sqlite_list``: keyset pages over the primary key (``name > last ORDER BY name
LIMIT n``), filters pushed into the query with PostgreSQL's JSON operators on the stored documents
(``convert_from(bytea, 'UTF8')::jsonb``), every row re-checked by ``_query.matches``. Names are ordered
by the database's collation (the primary key's, so a page is an index range scan).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from controlplane.api import Cluster

from ._codec import CLUSTER_COLUMNS, decode_clusters
from ._paging import C, Decode
from ._pg_schema import Connection
from ._query import CONFLICT_CONDITION, ClusterQuery, FleetTotals, LabelOp

_SELECT = f"SELECT {CLUSTER_COLUMNS} FROM clusters AS c JOIN cluster_status AS s ON s.name = c.name"
_META = "convert_from(c.metadata, 'UTF8')::jsonb"
_STATUS = "convert_from(s.status, 'UTF8')::jsonb"
_CONFLICT = (
    f"EXISTS (SELECT 1 FROM jsonb_array_elements(COALESCE({_STATUS} -> 'conditions', '[]'::jsonb)) AS j"
    f" WHERE j ->> 'type' = '{CONFLICT_CONDITION}' AND j ->> 'status' = 'True')"
)
_FAILING = f"COALESCE({_STATUS} ->> 'failureMessage', '') <> ''"


class _Params:
    """``$n`` placeholders, numbered as values are added."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def where(query: ClusterQuery, after: str, p: _Params) -> str:
    """The WHERE clause selecting a superset of ``query`` after name ``after`` (values added to ``p``)."""
    clauses = [f"c.name > {p(after)}"]
    if query.name_prefix:
        clauses.append(f"starts_with(c.name, {p(query.name_prefix)})")
    if query.phase is not None:
        clauses.append(f"s.phase = {p(query.phase.value)}")
    if query.conflict:
        clauses.append(_CONFLICT)
    if query.failing:
        clauses.append(_FAILING)
    for req in query.labels:
        label = f"({_META} -> 'labels' ->> {p(req.key)})"
        if req.op is LabelOp.EXISTS:
            clauses.append(f"{label} IS NOT NULL")
        elif req.op is LabelOp.NOT_EXISTS:
            clauses.append(f"{label} IS NULL")
        elif req.op in (LabelOp.EQUALS, LabelOp.IN):
            clauses.append(f"{label} = ANY({p(list(req.values))}::text[])")
        else:
            clauses.append(f"({label} IS NULL OR NOT {label} = ANY({p(list(req.values))}::text[]))")
    return " AND ".join(clauses)


async def scan_page(
    conn: Connection,
    query: ClusterQuery,
    after: str,
    limit: int,
    decode: Decode[C],
) -> list[tuple[C, int]]:
    """Up to ``limit`` clusters after ``after`` that may match ``query``, ordered by name, each with its
    row's status sequence number (for the pending-status overlay), decoded by ``decode`` (whole
    clusters, or ``decode_digests``)."""
    p = _Params()
    clause = where(query, after, p)
    rows = await conn.fetch(f"{_SELECT} WHERE {clause} ORDER BY c.name LIMIT {p(limit)}", *p.values)
    return decode(rows)


async def get_clusters(conn: Connection, names: Collection[str]) -> list[tuple[Cluster, int]]:
    rows = await conn.fetch(f"{_SELECT} WHERE c.name = ANY($1::text[])", list(names))
    return decode_clusters(rows)


_VERSION = (
    "COALESCE(convert_from(c.spec, 'UTF8')::jsonb -> 'eksConfig' ->> 'kubernetesVersion',"
    f" {_STATUS} -> 'eksStatus' -> 'upstreamSpec' ->> 'kubernetesVersion', '')"
)


async def fleet_totals(conn: Connection, now: float, thresholds: Collection[int]) -> FleetTotals:
    """Every count in one read-only snapshot, by aggregate queries only."""
    ordered = sorted(set(thresholds))
    joined = "FROM clusters AS c JOIN cluster_status AS s ON s.name = c.name"
    older = "".join(
        f", count(*) FILTER (WHERE last IS NOT NULL"
        f" AND extract(epoch FROM last::timestamptz)::float8 < $1::float8 - ${i + 2}::float8)"
        for i in range(len(ordered))
    )
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        totals = FleetTotals(total=int(await conn.fetchval("SELECT count(*) FROM clusters")))
        by_phase = await conn.fetch("SELECT phase, count(*) FROM cluster_status GROUP BY phase")
        totals.by_phase = {str(r[0]): int(r[1]) for r in by_phase}
        by_version = await conn.fetch(f"SELECT {_VERSION} AS v, count(*) {joined} GROUP BY v")
        totals.by_version = {str(r[0]): int(r[1]) for r in by_version}
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE conflict), count(*) FILTER (WHERE failing),"
            f" count(*) FILTER (WHERE last IS NULL), min(last){older}"
            f" FROM (SELECT {_CONFLICT} AS conflict, {_FAILING} AS failing,"
            f" {_STATUS} ->> 'lastSyncTime' AS last {joined}) AS x",
            now,
            *[float(t) for t in ordered],
        )
    assert row is not None  # an aggregate without GROUP BY always answers one row
    totals.conflict, totals.failing, totals.never_synced = int(row[0]), int(row[1]), int(row[2])
    totals.oldest_sync = str(row[3] or "")
    totals.sync_older_than = {t: int(n) for t, n in zip(ordered, list(row)[4:], strict=True)}
    return totals
