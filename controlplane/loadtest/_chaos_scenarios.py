"""The eight scenarios: each injects its fault while the scenario's changes (creates, updates, deletes)
go through the admin API, lifts it (``run.lift()``), and returns what it observed beyond the common
figures. Settling and judging are common (``_chaos.run_scenario``)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from ._chaos_check import cluster_error
from ._chaos_env import DiskFiller, hold_sqlite_lock
from ._chaos_fleet import KEYS, Plan, apply
from ._chaos_run import ChaosRun

Scenario = Callable[[ChaosRun, Plan], Awaitable[dict[str, Any]]]

LATENCY_MEDIAN = 0.195
LATENCY_SIGMA = 1.0
"""Lognormal latency with a p99 of 2 s: 0.195 s x exp(2.326 x 1.0) = 2.0 s."""
RANCHER_CREDENTIAL_PREFIXES = (
    "[Syncing error: syncing failed]",
    "cannot access EKS, check cloud credential:",
)
CREDENTIAL_WORDS = (
    "AccessDenied",
    "ExpiredToken",
    "not authorized",
    "security token",
    "Unauthorized",
    "AuthFailure",
)


async def _changes(run: ChaosRun, plan: Plan, spread: float) -> None:
    await apply(run.client, plan.ops(run.rng), spread=spread, rng=run.rng)


async def throttling(run: ChaosRun, plan: Plan) -> dict[str, Any]:
    """20% of AWS calls throttled for a whole round: EKS answers 429 TooManyRequestsException for the first
    half and ThrottlingException for the second; EC2 RequestLimitExceeded, CloudFormation and IAM
    Throttling, STS Throttling (each service's own code)."""
    period = run.opts.period
    await run.set_faults({"throttle_probability": 0.2, "throttle_code": "TooManyRequestsException"})
    run.mark("20% throttled (TooManyRequestsException)")
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_changes(run, plan, period * 0.8))
        await asyncio.sleep(period / 2)
        await run.set_faults({"throttle_probability": 0.2, "throttle_code": "ThrottlingException"})
        run.mark("20% throttled (ThrottlingException)")
        await asyncio.sleep(period / 2)
        await run.set_faults({})
        run.lift()
    return {"fault_seconds": period}


async def server_errors(run: ChaosRun, plan: Plan) -> dict[str, Any]:
    """5% of AWS calls answered 5xx (500 for half the round, 503 for the other half) and 2% of the
    connections reset, for a whole round."""
    period = run.opts.period
    faults = {"error_probability": 0.05, "reset_probability": 0.02}
    await run.set_faults({**faults, "error_status": 500})
    run.mark("5% 5xx, 2% resets")
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_changes(run, plan, period * 0.8))
        await asyncio.sleep(period / 2)
        await run.set_faults({**faults, "error_status": 503})
        await asyncio.sleep(period / 2)
        await run.set_faults({})
        run.lift()
    return {"fault_seconds": period}


async def latency(run: ChaosRun, plan: Plan) -> dict[str, Any]:
    """AWS latency with a p99 of 2 s (lognormal, median 195 ms) for 60 s."""
    window = run.opts.window(60.0)
    await run.set_faults(
        {
            "latency": "lognormal",
            "latency_seconds": LATENCY_MEDIAN,
            "latency_sigma": LATENCY_SIGMA,
            "latency_max_seconds": 10.0,
        }
    )
    run.mark("latency p99 2 s")
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_changes(run, plan, window * 0.8))
        await asyncio.sleep(window)
        await run.set_faults({})
        run.lift()
    return {"fault_seconds": window}


async def simulator_restart(run: ChaosRun, plan: Plan) -> dict[str, Any]:
    """The simulator stopped mid-round (it saves its EKS and moto state) and started again on the same
    port: in-flight calls fail, new ones are refused until it is back."""
    period = run.opts.period
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_changes(run, plan, period * 0.6))
        await asyncio.sleep(period * 0.3)
        began = time.monotonic()
        await run.restart_sim()
        down = time.monotonic() - began
        run.lift()
    return {"fault_seconds": down}


async def controlplane_kill(run: ChaosRun, plan: Plan) -> dict[str, Any]:
    """The control plane SIGKILLed twice while the scenario's creates, updates and deletes are in flight
    (stacks being created, node groups being scaled, clusters being deleted), restarted each time on the
    same data directory."""
    period = run.opts.period
    kills = 0
    down = 0.0
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_changes(run, plan, period * 0.4))
        for delay in (period * 0.15, period * 0.25):
            await asyncio.sleep(delay)
            began = time.monotonic()
            await run.kill_cp()
            kills += 1
            await run.start_cp()
            down += time.monotonic() - began
            run.mark("control plane restarted")
        run.lift()
    return {"fault_seconds": down, "kills": kills}


async def store_unavailable(run: ChaosRun, plan: Plan) -> dict[str, Any]:
    """Another process holds SQLite's write lock for 30 s: every write waits, then fails and is retried.
    The service must stay up and must not act on what it could not persist."""
    window = run.opts.window(30.0)
    crashes = run.crashes
    db = run.data_dir / "controlplane.db"
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_changes(run, plan, window))
        run.mark("SQLite write lock taken by another process")
        held = await hold_sqlite_lock(db, window, run.out / "sqlite-locker.log")
        run.lift()
    return {"fault_seconds": held, "crashed": run.crashes - crashes, "store": "sqlite (write lock)"}


async def disk_full(run: ChaosRun, plan: Plan) -> dict[str, Any]:
    """The data directory's file system (a size-limited tmpfs) filled to the last byte for 30 s, then
    freed: writes fail cleanly and are retried; nothing committed before is lost (the ledger of every
    accepted change since the start is checked), and the database passes an integrity check."""
    if run.tmpfs_error:
        return {"skipped": run.tmpfs_error}
    window = run.opts.window(30.0)
    crashes = run.crashes
    filler = DiskFiller(run.data_dir)
    async with asyncio.TaskGroup() as tg:
        try:
            written = await filler.fill()
            run.mark(f"disk full ({written / 2**20:.0f} MiB filler)")
            tg.create_task(_changes(run, plan, window * 0.8))  # retried by the client past the window
            await asyncio.sleep(window)
        finally:
            filler.release()
        run.lift()
    return {
        "fault_seconds": window,
        "crashed": run.crashes - crashes,
        "filesystem": f"tmpfs size={run.opts.tmpfs_size}",
        "filler_bytes": written,
        "integrity": await asyncio.to_thread(_integrity, run.data_dir / "controlplane.db"),
    }


def _integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def _credential_error(message: str) -> bool:
    return message.startswith(RANCHER_CREDENTIAL_PREFIXES) and any(w in message for w in CREDENTIAL_WORDS)


def _synced_since(cluster: dict[str, Any], wall: float) -> bool:
    text = str((cluster.get("status") or {}).get("lastSyncTime") or "")
    if not text:
        return False
    with contextlib.suppress(ValueError):
        # lastSyncTime has whole seconds: a refresh in the same second as ``wall`` reads as before it.
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() >= math.floor(wall)
    return False


STATUS_VISIBLE = 1.0
"""Seconds from a refresh until the API shows it: the status batch's commit, and lastSyncTime's one-second
resolution (a tiny run's 3.6-s window otherwise missed clusters refreshed near its end)."""


async def isolation(run: ChaosRun, since_wall: float, touched: set[str]) -> dict[str, Any]:
    """Whether only the revoked credential's clusters show the error (in Rancher's words) and the rest of
    the fleet was refreshed since the revocation."""
    items = await run.client.list_all()
    b_total = b_shown = a_shown = a_stale = 0
    examples: list[str] = []
    for c in items:
        name = c["metadata"]["name"]
        if name in touched or (c.get("status") or {}).get("phase") != "active":
            continue
        shown = _credential_error(cluster_error(c))
        if name in run.credential_b:
            b_total += 1
            b_shown += shown
            if shown and len(examples) < 2:
                examples.append(cluster_error(c)[:200])
        else:
            a_shown += shown
            a_stale += not _synced_since(c, since_wall)
    return {
        "revoked_clusters": b_total,
        "revoked_clusters_showing_it": b_shown,
        "other_clusters_showing_it": a_shown,
        "other_clusters_not_refreshed": a_stale,
        "examples": examples,
        "ok": b_total > 0 and b_shown == b_total and a_shown == 0 and a_stale == 0,
    }


async def credentials_revoked(run: ChaosRun, plan: Plan) -> dict[str, Any]:
    """The simulator refuses one credential (AccessDenied for a round, then ExpiredToken for a round):
    only that credential's clusters show the error, in Rancher's words, and the rest go on. Changes made
    meanwhile to those clusters are applied once the credential works again."""
    period = run.opts.period
    key = KEYS["chaos-b"][0]
    touched = set(plan.create) | set(plan.update) | set(plan.delete)
    checks: dict[str, Any] = {}
    async with asyncio.TaskGroup() as tg:
        since = time.time()
        await run.set_faults({"revoked_access_keys": {key: "AccessDenied"}})
        run.mark("credential chaos-b: AccessDenied")
        tg.create_task(_changes(run, plan, period * 1.5))
        await asyncio.sleep(period * 1.2 + STATUS_VISIBLE)
        checks["AccessDenied"] = await isolation(run, since, touched)
        since = time.time()
        await run.set_faults({"revoked_access_keys": {key: "ExpiredToken"}})
        run.mark("credential chaos-b: ExpiredToken")
        await asyncio.sleep(period * 1.2 + STATUS_VISIBLE)
        checks["ExpiredToken"] = await isolation(run, since, touched)
        await run.set_faults({})
        run.lift()
    ok = all(c["ok"] for c in checks.values())
    return {"fault_seconds": period * 2.4 + 2 * STATUS_VISIBLE, "isolation": checks, "isolation_ok": ok}


SCENARIO_FUNCTIONS: dict[str, Scenario] = {
    "throttling": throttling,
    "server-errors": server_errors,
    "latency": latency,
    "simulator-restart": simulator_restart,
    "controlplane-kill": controlplane_kill,
    "store-unavailable": store_unavailable,
    "disk-full": disk_full,
    "credentials-revoked": credentials_revoked,
}
