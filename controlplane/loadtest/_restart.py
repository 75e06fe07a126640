"""The control plane's second life in a load test: the restart on the same data directory, and the
fail-over of a killed replica's clusters to the survivors."""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import psutil

from . import _prom
from ._clients import AdminClient
from ._phase import LoadTestError, progress
from ._procs import Child, ProcessError
from ._replicas import leases_expire, replica_id, status_seqs
from ._sampler import PREFIXES, cpu_seconds, ticks_seen

if TYPE_CHECKING:
    from ._run import Run


async def restart(run: Run, http: aiohttp.ClientSession, sim_url: str, expected: int) -> None:
    progress(f"restarting the control plane on the same data dir; waiting for {expected:,} ticks")
    began = time.monotonic()
    cps, admins = await run.start_replicas(http, "controlplane-2", sim_url)
    ready = time.monotonic() - began
    # A restart reconciles every cluster once and ticks it once: bounded by the remaining time.
    limit = min(run.remaining(), run.opts.initial_spread + 60 + expected / 25)
    while True:
        seen = 0.0
        for admin in admins:
            text, _, _ = await admin.metrics()
            seen += ticks_seen(_prom.parse(text, PREFIXES))
        if seen >= expected:
            break
        if time.monotonic() - began > limit:
            raise LoadTestError(f"restart: only {seen:,.0f}/{expected:,} ticks after {limit:.0f}s")
        for cp in cps:
            if not cp.alive():
                raise ProcessError(f"restarted control plane exited; see {cp.log_path}")
        await asyncio.sleep(0.1)
    elapsed = time.monotonic() - began
    run.result["restart_to_ready_seconds"] = ready
    run.result["restart_to_first_tick_seconds"] = elapsed
    run.result["restart_admin_ready_seconds"] = run.admin_ready_seconds
    run.result["restart_all_ticked_seconds"] = elapsed
    # The steady-state cost of holding the fleet: a process that loaded every cluster from the store
    # and refreshed each once, without the heap high-water mark the import left in the first one.
    await asyncio.sleep(1.0)
    rss = sum(int(psutil.Process(cp.pid).memory_info().rss) for cp in cps)
    idle = run.result.get("rss_bytes_idle")
    run.result["rss_bytes_restarted"] = rss
    if isinstance(idle, int | float) and expected:
        run.result["rss_bytes_per_cluster_after_import"] = run.result.get("rss_bytes_per_cluster")
        run.result["rss_bytes_per_cluster"] = max(0, rss - idle) / expected
    progress(f"restart: admin API after {ready:.2f}s, every cluster ticked after {elapsed:.2f}s")
    for cp in cps:
        await cp.stop()


async def failover(run: Run, cps: list[Child], admins: list[AdminClient]) -> list[Child]:
    """SIGKILL the last replica; time until a survivor refreshed every cluster it ran (their status
    names the survivor). Returns the survivors."""
    victim_index = len(cps) - 1
    victim, victim_id = cps[victim_index], replica_id(victim_index)
    meter = _CpuMeter(
        survivors=[psutil.Process(cp.pid) for cp in cps[:victim_index]],
        simulators=[psutil.Process(c.pid) for c in run.children if c.name == "simulator"],
    )
    survivors = admins[:victim_index]
    taken_before = await _takeovers(survivors)
    progress(f"fail-over: SIGKILL {victim_id} (pid {victim.pid})")
    victim.kill_now()
    began, killed_at = time.monotonic(), time.time()
    # Which clusters the victim ran, and the number of each one's last status: once the victim is
    # dead, only a survivor can raise it. Polling the numbers reads no status, so the measurement does
    # not take the survivors' CPU: decoding every status each time cost PostgreSQL 1.6 s at 50,000.
    left = await status_seqs(run.data_dir, run.store_url, victim_id)
    orphans = len(left)
    # Read after the kill: a renewal the victim sent just before it still counts.
    expires = await leases_expire(run.data_dir, run.store_url, victim_id)
    progress(f"fail-over: {victim_id} ran {orphans:,} clusters")
    limit = min(run.remaining(), 600.0)
    took, first, cpu = 0.0, None, meter.read()
    while left:
        await asyncio.sleep(0.25)
        now = await status_seqs(run.data_dir, run.store_url)
        before = len(left)
        left = {name: seq for name, seq in left.items() if now.get(name) == seq}
        if first is None and len(left) < before:
            first = time.monotonic() - began
        if not left:
            took, cpu = time.monotonic() - began, meter.read()
            # A commit the victim had in flight at the kill could land after the first reading: those
            # statuses still name it, and a survivor has yet to refresh them.
            left = await status_seqs(run.data_dir, run.store_url, victim_id)
        if time.monotonic() - began > limit:
            raise LoadTestError(f"fail-over: {len(left):,} clusters still last written by {victim_id}")
    run.result["failover_clusters"] = orphans
    run.result["failover_seconds"] = took
    # Until a survivor's first write for an orphan: the lease's expiry and its detection; the rest of
    # failover_seconds is the take-over itself.
    run.result["failover_first_refresh_seconds"] = first
    # Where the take-over's time went: the victim's leases ran out this long after the kill, and each
    # shard's actors ran on a survivor this long after that (the survivors' fail-over histogram).
    run.result["failover_leases_expired_seconds"] = None if expires is None else expires - killed_at
    shards, mean, worst = _delta_takeovers(await _takeovers(survivors), taken_before)
    run.result["failover_shards_taken"] = shards
    run.result["failover_shard_running_seconds_mean"] = mean
    run.result["failover_shard_running_seconds_max"] = worst
    # Where the machine's CPU went meanwhile: a take-over is bounded by the survivors' CPU and the
    # simulator's, which share this machine's cores.
    (
        run.result["failover_survivors_cpu_seconds"],
        run.result["failover_simulator_cpu_seconds"],
        run.result["failover_machine_busy"],
    ) = cpu
    progress(
        f"fail-over: every orphaned cluster refreshed by a survivor after {took:.1f}s "
        f"(the first after {first or 0.0:.1f}s)"
    )
    return cps[:victim_index]


_TAKEOVER = "controlplane_replica_failover_seconds"


async def _takeovers(admins: list[AdminClient]) -> _prom.Series:
    """The fail-over histograms of these replicas, summed."""
    total: _prom.Series = {}
    for admin in admins:
        text, _, _ = await admin.metrics()
        for key, value in _prom.parse(text, (_TAKEOVER,)).items():
            total[key] = total.get(key, 0.0) + value
    return total


def _delta_takeovers(after: _prom.Series, before: _prom.Series) -> tuple[int, float | None, float | None]:
    """Shards taken over between two readings, the mean seconds from a lease's expiry until its shard's
    actors ran, and an upper bound of the worst (the bucket it fell in)."""
    count = _prom.value(after, f"{_TAKEOVER}_count") - _prom.value(before, f"{_TAKEOVER}_count")
    if count <= 0:
        return 0, None, None
    seconds = _prom.value(after, f"{_TAKEOVER}_sum") - _prom.value(before, f"{_TAKEOVER}_sum")
    cumulative = _prom.delta_buckets(_prom.buckets(after, _TAKEOVER), _prom.buckets(before, _TAKEOVER))
    worst = _prom.max_bound(cumulative)
    return int(count), seconds / count, worst if math.isfinite(worst) else None  # past the last bucket


class _CpuMeter:
    """CPU used since its creation by the survivors and by the simulator, and the share of the machine
    that was busy."""

    def __init__(self, *, survivors: list[psutil.Process], simulators: list[psutil.Process]) -> None:
        self._survivors, self._simulators = survivors, simulators
        self._survivors0, self._simulators0 = cpu_seconds(survivors), cpu_seconds(simulators)
        self._machine0 = psutil.cpu_times()

    def read(self) -> tuple[float, float, float | None]:
        machine = psutil.cpu_times()
        busy = _busy(machine) - _busy(self._machine0)
        total = sum(machine) - sum(self._machine0)
        return (
            cpu_seconds(self._survivors) - self._survivors0,
            cpu_seconds(self._simulators) - self._simulators0,
            busy / total if total > 0 else None,
        )


def _busy(times: Any) -> float:
    """CPU time the machine spent on anything but waiting (all cores)."""
    return float(sum(times)) - float(times.idle) - float(getattr(times, "iowait", 0.0))
