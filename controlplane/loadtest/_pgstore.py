"""``controlplane load --store postgresql``: the fleet on a throwaway PostgreSQL server, and what the server
did during the measured rounds (commits and rows written per second, and its share of the CPU)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import msgspec
import psutil

from controlplane.store._crypto import new_key, write_key_file

from ._postgres import execute, throwaway_server, with_database

DATABASE = "controlplane"


class PgCounters(msgspec.Struct, frozen=True):
    """What PostgreSQL has done so far, at one instant."""

    t: float
    commits: int
    rows_written: int
    cpu_seconds: float


@contextlib.asynccontextmanager
async def fleet_database(out: Path) -> AsyncIterator[dict[str, str]]:
    """A throwaway server (PostgreSQL's durable defaults: the figures are a production store's), one
    database for the fleet, and the key every replica shares; yields the control plane's environment.
    (Starting and stopping the server blocks for a moment: the run has nothing else going on then.)"""
    with throwaway_server(durable=True) as server_url:
        await execute(server_url, f'CREATE DATABASE "{DATABASE}" TEMPLATE template0')
        key = out / "store.key"
        write_key_file(key, new_key())
        url = with_database(server_url, DATABASE)
        yield {"CONTROLPLANE_STORE_URL": url, "CONTROLPLANE_STORE_SECRET_KEY_FILE": str(key)}


def _server_cpu(postmaster: psutil.Process) -> float:
    """CPU seconds of the postmaster, its live children and the children it has reaped."""
    total = 0.0
    with contextlib.suppress(psutil.Error):
        t = postmaster.cpu_times()
        total += t.user + t.system + t.children_user + t.children_system
    for child in postmaster.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            c = child.cpu_times()
            total += c.user + c.system
    return total


class PgWatch:
    """Reads the fleet database's counters (``pg_stat_database``) and the server's CPU."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._postmaster: psutil.Process | None = None

    async def counters(self) -> PgCounters:
        conn = await asyncpg.connect(self.url)
        try:
            if self._postmaster is None:
                backend = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()"))
                self._postmaster = backend.parent() or backend
            # The statistics are a snapshot per transaction: clear it so that this read is current.
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            row = await conn.fetchrow(
                "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted AS written "
                "FROM pg_stat_database WHERE datname = current_database()"
            )
        finally:
            await conn.close()
        assert row is not None
        return PgCounters(
            t=time.monotonic(),
            commits=int(row["xact_commit"]),
            rows_written=int(row["written"]),
            cpu_seconds=_server_cpu(self._postmaster),
        )


def pg_figures(before: PgCounters, after: PgCounters, control_plane_cpu_seconds: float) -> dict[str, float]:
    """The server's work between two readings: per second, and its share of the CPU the store and the
    control plane used together (and of the whole machine)."""
    seconds = max(after.t - before.t, 1e-9)
    pg_cpu = after.cpu_seconds - before.cpu_seconds
    both = pg_cpu + control_plane_cpu_seconds
    cores = psutil.cpu_count() or 1
    return {
        "postgres_commits_per_second": (after.commits - before.commits) / seconds,
        "postgres_rows_written_per_second": (after.rows_written - before.rows_written) / seconds,
        "postgres_cpu_seconds": pg_cpu,
        "postgres_cpu_share": pg_cpu / both if both > 0 else 0.0,
        "postgres_machine_share": pg_cpu / (seconds * cores),
    }
