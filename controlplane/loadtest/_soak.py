"""``controlplane load --soak MINUTES``: the fleet refreshed, churned and throttled for a long time, watched
for anything that only grows.

After the import, rounds run at the period for MINUTES with the run's churn (a share of the fleet created,
updated and deleted every round) and throttling. Every ``SOAK_SAMPLE_SECONDS`` the harness records the
control plane's RSS, open file descriptors and threads (psutil), its asyncio tasks and mailbox depths
(/metrics), and the size of the store file and its WAL. The report: the RSS slope in bytes per hour after a
warm-up (a least-squares line; a leak shows as a steady positive slope), the counts at the start and at the
end, the mailbox maxima, and how the store grew. Figures go to ``result.json`` under ``soak`` and to
``DIR/soak.png``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import psutil

from . import _prom
from ._churn import Churn
from ._clients import AdminClient, SimClient
from ._phase import progress

if TYPE_CHECKING:
    from ._run import Run
    from ._sampler import Sampler

SOAK_SAMPLE_SECONDS = 10.0
"""Seconds between two samples of a soak (shorter for a soak under five minutes)."""
WARMUP_SHARE = 1 / 3
WARMUP_MAX_SECONDS = 600.0
_PREFIXES = (
    "controlplane_actor_mailbox_depth",
    "controlplane_event_loop_tasks",
    "controlplane_actors_running",
    "controlplane_actor_restarts_total",
    "controlplane_actor_gave_up_total",
    "controlplane_event_loop_lag_max_seconds",
    "controlplane_store_pending_status_writes",
    "controlplane_clusters",
)


class SoakPoint(msgspec.Struct, array_like=True):
    t: float
    """Seconds since the soak began."""
    rss: int
    fds: int
    threads: int
    tasks: float
    actors: float
    clusters: float
    mailbox: dict[str, float]
    """Mailbox depth per actor kind."""
    db_bytes: int
    wal_bytes: int
    pending_writes: float


def warmup_seconds(duration: float) -> float:
    """The part of a soak left out of the RSS slope: heaps and caches fill up first."""
    return min(WARMUP_MAX_SECONDS, duration * WARMUP_SHARE)


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per hour; None with fewer than 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mt) * (v - mv) for t, v in points)
    return cov / var * 3600.0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


async def _point(t: float, proc: psutil.Process, admin: AdminClient, db: Path) -> SoakPoint:
    text, _, _ = await admin.metrics()
    series = _prom.parse(text, _PREFIXES)
    mailbox: dict[str, float] = {}
    for (name, labels), value in series.items():
        if name == "controlplane_actor_mailbox_depth":
            kind = dict(labels).get("kind", "")
            mailbox[kind] = mailbox.get(kind, 0.0) + value
    return SoakPoint(
        t=t,
        rss=int(proc.memory_info().rss),
        fds=proc.num_fds(),
        threads=proc.num_threads(),
        tasks=_prom.value(series, "controlplane_event_loop_tasks"),
        actors=_prom.value(series, "controlplane_actors_running"),
        clusters=_prom.value(series, "controlplane_clusters"),
        mailbox=mailbox,
        db_bytes=_size(db),
        wal_bytes=_size(db.with_name(db.name + "-wal")),
        pending_writes=_prom.value(series, "controlplane_store_pending_status_writes"),
    )


def figures(points: list[SoakPoint], duration: float) -> dict[str, Any]:
    """The soak's report from its samples (pure)."""
    if not points:
        return {}
    first, last = points[0], points[-1]
    warm = warmup_seconds(duration)
    after = [(p.t, float(p.rss)) for p in points if p.t >= warm]
    kinds = sorted({k for p in points for k in p.mailbox})
    return {
        "minutes": duration / 60.0,
        "samples": len(points),
        "warmup_seconds": warm,
        "rss_slope_bytes_per_hour": slope_per_hour(after),
        "rss_bytes_start": first.rss,
        "rss_bytes_end": last.rss,
        "rss_bytes_max": max(p.rss for p in points),
        "fds_start": first.fds,
        "fds_end": last.fds,
        "fds_max": max(p.fds for p in points),
        "threads_start": first.threads,
        "threads_end": last.threads,
        "tasks_start": first.tasks,
        "tasks_end": last.tasks,
        "tasks_max": max(p.tasks for p in points),
        "actors_start": first.actors,
        "actors_end": last.actors,
        "clusters_start": first.clusters,
        "clusters_end": last.clusters,
        "mailbox_depth_max": {k: max(p.mailbox.get(k, 0.0) for p in points) for k in kinds},
        "store_bytes_start": first.db_bytes,
        "store_bytes_end": last.db_bytes,
        "wal_bytes_start": first.wal_bytes,
        "wal_bytes_end": last.wal_bytes,
        "wal_bytes_max": max(p.wal_bytes for p in points),
        "pending_status_writes_max": max(p.pending_writes for p in points),
    }


async def run_soak(run: Run, admin: AdminClient, sim: SimClient, sampler: Sampler, pid: int) -> None:
    """The soak phase of ``run`` (after the import): churn for ``opts.soak`` minutes, sampled."""
    o = run.opts
    duration = o.soak * 60.0
    rounds = max(1, math.ceil(duration / o.period))
    every = min(SOAK_SAMPLE_SECONDS, max(0.5, duration / 30))  # a short (test) soak gets points too
    await admin.set_refresh_cron(o.cron)
    proc = psutil.Process(pid)
    db = run.data_dir / "controlplane.db"
    begin = time.monotonic()
    run.marks.append((begin - sampler.origin, "soak"))
    start_sample = await sampler.sample()
    progress(
        f"soak: {o.soak:g} min at {o.cron}, churn {o.churn_percent:g}%/round, "
        f"throttle {o.throttle_percent:g}%"
    )
    churn = Churn(admin, msgspec.structs.replace(o, rounds=rounds), run.alive)
    points: list[SoakPoint] = []
    churner = asyncio.create_task(churn.run(), name="soak-churn")
    try:
        next_at = begin
        last_report = begin
        while True:
            now = time.monotonic()
            if now - begin >= duration:
                break
            run.remaining()
            points.append(await _point(now - begin, proc, admin, db))
            if now - last_report >= 60.0:
                last_report = now
                p = points[-1]
                progress(
                    f"  soak {p.t / 60:.1f} min: RSS {p.rss / 2**20:.0f} MiB, fds {p.fds}, "
                    f"tasks {p.tasks:.0f}, clusters {p.clusters:.0f}, WAL {p.wal_bytes / 2**20:.1f} MiB"
                )
            next_at += every
            await asyncio.sleep(max(0.0, min(next_at, begin + duration) - time.monotonic()))
        points.append(await _point(time.monotonic() - begin, proc, admin, db))
    finally:
        churner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await churner
    end_sample = sampler.latest
    result = figures(points, duration)
    lag = _prom.delta_buckets(end_sample.lag, start_sample.lag)
    result["tick_lag_seconds_p99"] = _nan_none(_prom.quantile(0.99, lag))
    result["tick_lag_seconds_max"] = _nan_none(_prom.max_bound(lag))
    result["rounds_completed"] = int(end_sample.rounds - start_sample.rounds)
    result["ticks_skipped_overrun"] = end_sample.overrun - start_sample.overrun
    result["refreshes"] = end_sample.refreshed - start_sample.refreshed
    result["churn"] = churn.counts
    result["points"] = [msgspec.to_builtins(p) for p in points]
    run.result["soak"] = result
    with contextlib.suppress(Exception):
        draw_soak(points, run.out / "soak.png", title=f"soak: {o.clusters:,} clusters, {o.soak:g} min")
    progress(summary(result))


def _nan_none(x: float) -> float | None:
    return None if math.isnan(x) else x


def _mib(x: Any) -> str:
    return f"{x / 2**20:,.1f} MiB" if isinstance(x, int | float) else "-"


def summary(r: dict[str, Any]) -> str:
    slope = r.get("rss_slope_bytes_per_hour")
    mailbox = ", ".join(f"{k} {v:,.0f}" for k, v in (r.get("mailbox_depth_max") or {}).items()) or "-"

    def trio(key: str, fmt: Any = str) -> str:
        return " / ".join(
            fmt(r.get(f"{key}_{end}")) for end in ("start", "end", "max") if f"{key}_{end}" in r
        )

    rows = [
        ("RSS slope after warm-up", "-" if slope is None else f"{slope / 2**20:+,.1f} MiB/h"),
        ("RSS start / end / max", trio("rss_bytes", _mib)),
        ("open fds start / end / max", trio("fds")),
        ("asyncio tasks start / end / max", trio("tasks", lambda x: f"{x:,.0f}")),
        ("threads start / end", trio("threads")),
        ("clusters start / end", trio("clusters", lambda x: f"{x:,.0f}")),
        ("mailbox depth max", mailbox),
        ("store file start / end", trio("store_bytes", _mib)),
        ("WAL start / end / max", trio("wal_bytes", _mib)),
        ("rounds / overrun ticks", f"{r.get('rounds_completed')} / {r.get('ticks_skipped_overrun')}"),
        ("churn", str(r.get("churn"))),
    ]
    width = max(len(k) for k, _ in rows)
    return "soak figures:\n" + "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


def draw_soak(points: list[SoakPoint], path: Path, *, title: str) -> None:
    import matplotlib  # noqa: PLC0415 - heavy; only when drawing

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    t = [p.t / 60 for p in points]
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(10, 8))
    try:
        axes[0].plot(t, [p.rss / 2**20 for p in points], label="RSS (MiB)")
        axes[0].set_title(title)
        axes[1].plot(t, [p.fds for p in points], label="open fds")
        axes[1].plot(t, [p.tasks / 100 for p in points], label="asyncio tasks / 100")
        axes[2].plot(t, [p.db_bytes / 2**20 for p in points], label="store file (MiB)")
        axes[2].plot(t, [p.wal_bytes / 2**20 for p in points], label="WAL (MiB)")
        axes[2].set_xlabel("minutes since the soak began")
        for ax in axes:
            ax.legend(loc="upper left")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
