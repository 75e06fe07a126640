"""Periodic samples of the control plane (/metrics, CPU, RSS) and the simulator (/_sim/calls).

One sample per interval while the sampler runs; kept in a bounded deque (a run is bounded in time, the
bound only guards against a mistake). Phases read the latest sample or the whole series afterwards.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time

import aiohttp
import msgspec
import psutil

from . import _prom
from ._clients import AdminClient, SimClient, total_calls

PREFIXES = (
    "controlplane_sync_",
    "controlplane_clusters",
    "controlplane_reconcile_seconds_count",
    "controlplane_event_loop_lag_max_seconds",
    "controlplane_thread_cpu_seconds_total",
)
ADMIN_THREAD = "admin-api"
"""The admin API's thread, and the prefix of the threads of its store (``admin-api/store-reader``)."""
MAX_SAMPLES = 50_000


class Sample(msgspec.Struct, kw_only=True):
    t: float
    """Seconds since the sampler started."""
    rss: int
    cpu: float
    """User + system CPU seconds of the control plane so far."""
    refreshed: float
    ticks: float
    """Ticks that reached a cluster: refreshed + skipped_busy + skipped_fresh + error."""
    active: float
    clusters: float
    rounds: float
    round_sum: float
    overrun: float
    reconciles: float
    """Reconcile passes so far (all phases): the import is finished when this stops moving."""
    lag: list[tuple[float, float]]
    aws_calls: int
    scrape_seconds: float
    scrape_bytes: int
    loop_lag_max: float = 0.0
    """The worst event-loop stall the process saw so far (seconds)."""
    admin_cpu: float = 0.0
    """CPU seconds so far of the admin API's threads (its server and its store connections), which serve
    the harness's GETs, summary pages, watches and scrapes: ``cpu`` less this is the fleet's own work."""


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU seconds of ``processes`` so far."""
    return sum(float(t.user + t.system) for t in (p.cpu_times() for p in processes))


def admin_cpu_seconds(series: _prom.Series) -> float:
    return sum(
        v
        for (name, labels), v in series.items()
        if name == "controlplane_thread_cpu_seconds_total"
        and dict(labels).get("thread", "").partition("/")[0] == ADMIN_THREAD
    )


def ticks_seen(series: _prom.Series) -> float:
    outcomes = ("refreshed", "skipped_busy", "skipped_fresh", "error")
    return sum(_prom.value(series, "controlplane_sync_ticks_total", outcome=o) for o in outcomes)


def take(
    series: _prom.Series, *, t: float, rss: int, cpu: float, calls: int, seconds: float, size: int
) -> Sample:
    return Sample(
        t=t,
        rss=rss,
        cpu=cpu,
        refreshed=_prom.value(series, "controlplane_sync_ticks_total", outcome="refreshed"),
        ticks=ticks_seen(series),
        active=_prom.value(series, "controlplane_clusters", phase="active"),
        clusters=_prom.value(series, "controlplane_clusters"),
        rounds=_prom.value(series, "controlplane_sync_round_seconds_count"),
        round_sum=_prom.value(series, "controlplane_sync_round_seconds_sum"),
        overrun=_prom.value(series, "controlplane_sync_ticks_total", outcome="skipped_overrun"),
        reconciles=_prom.value(series, "controlplane_reconcile_seconds_count"),
        lag=_prom.buckets(series, "controlplane_sync_tick_lag_seconds"),
        aws_calls=calls,
        scrape_seconds=seconds,
        scrape_bytes=size,
        loop_lag_max=_prom.value(series, "controlplane_event_loop_lag_max_seconds"),
        admin_cpu=admin_cpu_seconds(series),
    )


def combine(parts: list[Sample]) -> Sample:
    """One sample of a fleet run by several replicas: counts, CPU, RSS and histograms add up; a round is
    complete when every replica completed it (the fewest rounds, and their mean duration)."""
    if len(parts) == 1:
        return parts[0]
    lag: dict[float, float] = {}
    for part in parts:
        for bound, count in part.lag:
            lag[bound] = lag.get(bound, 0.0) + count
    rounds = min(p.rounds for p in parts)
    return Sample(
        t=max(p.t for p in parts),
        rss=sum(p.rss for p in parts),
        cpu=sum(p.cpu for p in parts),
        refreshed=sum(p.refreshed for p in parts),
        ticks=sum(p.ticks for p in parts),
        active=sum(p.active for p in parts),
        clusters=sum(p.clusters for p in parts),
        rounds=rounds,
        round_sum=sum(p.round_sum / p.rounds * rounds for p in parts if p.rounds) / len(parts),
        overrun=sum(p.overrun for p in parts),
        reconciles=sum(p.reconciles for p in parts),
        lag=sorted(lag.items()),
        aws_calls=parts[0].aws_calls,
        scrape_seconds=max(p.scrape_seconds for p in parts),
        scrape_bytes=sum(p.scrape_bytes for p in parts),
        loop_lag_max=max(p.loop_lag_max for p in parts),
        admin_cpu=sum(p.admin_cpu for p in parts),
    )


class Sampler:
    """``async with Sampler(...)`` samples every ``interval`` seconds in a task it owns. With several
    replicas (``admins`` and ``pids`` in the same order) a sample is their sum (``combine``)."""

    def __init__(self, admins: list[AdminClient], sim: SimClient, pids: list[int], interval: float) -> None:
        if not admins or len(admins) != len(pids):
            raise ValueError("one admin client per control-plane process")
        self.admins = admins
        self.admin = admins[0]
        self.sim = sim
        self.processes = [psutil.Process(pid) for pid in pids]
        self.interval = interval
        self.samples: collections.deque[Sample] = collections.deque(maxlen=MAX_SAMPLES)
        self.errors = 0
        self.rss_peak = 0
        self.origin = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._new = asyncio.Event()

    async def __aenter__(self) -> Sampler:
        await self.sample()
        self._task = asyncio.create_task(self._loop(), name="load-sampler")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def latest(self) -> Sample:
        return self.samples[-1]

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.processes)

    def rss(self) -> int:
        rss = sum(int(p.memory_info().rss) for p in self.processes)
        self.rss_peak = max(self.rss_peak, rss)
        return rss

    async def sample(self) -> Sample:
        scrapes = await asyncio.gather(*(admin.metrics() for admin in self.admins))
        calls = total_calls(await self.sim.calls())
        t = time.monotonic() - self.origin
        parts = [
            take(
                _prom.parse(text, PREFIXES),
                t=t,
                rss=int(proc.memory_info().rss),
                cpu=cpu_seconds([proc]),
                calls=calls,
                seconds=seconds,
                size=size,
            )
            for (text, seconds, size), proc in zip(scrapes, self.processes, strict=True)
        ]
        s = combine(parts)
        self.rss_peak = max(self.rss_peak, s.rss)
        self.samples.append(s)
        self._new.set()
        self._new = asyncio.Event()
        return s

    async def _loop(self) -> None:
        next_at = time.monotonic()
        while True:
            next_at += self.interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            try:
                await self.sample()
            except (aiohttp.ClientError, OSError, psutil.Error):
                self.errors += 1  # the child may be between lives; the phase that needs it will notice

    async def next_sample(self) -> Sample:
        await self._new.wait()
        return self.latest
