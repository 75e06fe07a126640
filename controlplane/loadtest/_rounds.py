"""The measured rounds of a load test: the harness calibration, the rounds with their admin, list,
watch and churn load alongside, and the figures the rounds give (``result.json``)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from typing import TYPE_CHECKING

from . import _prom
from ._api_bench import WatcherProcess, summary_page
from ._churn import Churn
from ._clients import AdminClient, SimClient, calls_delta
from ._pgstore import PgWatch, pg_figures
from ._phase import progress
from ._report import percentile
from ._sampler import Sample, Sampler

if TYPE_CHECKING:
    from ._run import Run

CALIBRATION_SCRAPES = 20
CALIBRATION_GETS = 200


async def calibrate(run: Run, admin: AdminClient, sampler: Sampler) -> None:
    """CPU the harness itself costs the control plane (one /metrics scrape, one admin GET), measured
    while no round runs, so the per-refresh figure can be given net of the harness too."""
    await asyncio.sleep(1.0)
    cpu0 = sampler.cpu_seconds()
    for _ in range(CALIBRATION_SCRAPES):
        await admin.metrics()
    cpu1 = sampler.cpu_seconds()
    rng = random.Random(3)
    for _ in range(CALIBRATION_GETS):
        await admin.timed_get(f"/v1/clusters/{rng.choice(run.alive)}")
    cpu2 = sampler.cpu_seconds()
    run.result["harness_cpu_seconds_per_scrape"] = (cpu1 - cpu0) / CALIBRATION_SCRAPES
    run.result["harness_cpu_seconds_per_admin_get"] = (cpu2 - cpu1) / CALIBRATION_GETS
    progress(
        f"calibration: {(cpu1 - cpu0) / CALIBRATION_SCRAPES * 1000:.1f} ms CPU per /metrics scrape, "
        f"{(cpu2 - cpu1) / CALIBRATION_GETS * 1000:.2f} ms per admin GET"
    )


async def measure_rounds(run: Run, admin: AdminClient, sim: SimClient, sampler: Sampler) -> None:
    o = run.opts
    # The measurement starts at the change of the setting: the first round fires within a period;
    # until then the process is idle (only the sampler's scrapes, which the net figure removes).
    await admin.set_refresh_cron(o.cron)
    start = await sampler.sample()
    calls0 = await sim.calls()
    pg = PgWatch(run.store_url) if run.store_url is not None else None
    pg0 = await pg.counters() if pg is not None else None
    run.marks.append((start.t, "measure"))
    progress(f"measuring {o.rounds} rounds at {o.cron}")
    churn = Churn(admin, o, run.alive)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    limit = (o.rounds + 1) * o.period * 2.0 + 30.0
    round_durations: list[float] = []
    first: Sample | None = None
    watchers = WatcherProcess(admin.url, admin.token, o.watchers)
    stop_watching = asyncio.Event()
    list_times: list[float] = []
    async with asyncio.TaskGroup() as tg:
        load: list[asyncio.Task[None]] = []
        admin_load: asyncio.Task[None] | None = None
        list_load: asyncio.Task[None] | None = None
        prev = start
        while prev.rounds < start.rounds + o.rounds and prev.t - start.t < limit:
            # A round that ends after the next firing is never observed by the service's round
            # metric; the window then closes after the rounds' worth of periods.
            if first is not None and prev.t - first.t >= o.rounds * o.period + 0.05 * o.period:
                break
            run.remaining()
            s = await sampler.next_sample()
            if first is None and s.ticks > start.ticks:
                # The first round has begun: admin GETs and churn run while the rounds do.
                first = s
                run.marks.append((s.t, "first tick"))
                load.append(tg.create_task(churn.run()))
                admin_load = tg.create_task(_admin_load(run, admin, latencies, statuses))
                if o.watchers:
                    tg.create_task(watchers.run(stop_watching))
                if o.list_requests:
                    gap = o.rounds * o.period * 0.8 / o.list_requests
                    list_load = tg.create_task(_list_load(run, admin, list_times, gap))
            done = s.rounds - prev.rounds
            if done > 0:
                each = (s.round_sum - prev.round_sum) / done
                round_durations.extend([each] * int(done))
                n = int(s.rounds - start.rounds)
                run.marks.append((s.t, f"round {n}"))
                lag99 = _prom.quantile(0.99, _prom.delta_buckets(s.lag, start.lag))
                refreshed = s.refreshed - start.refreshed
                progress(
                    f"  round {n}/{o.rounds} done in {each:.2f}s; refreshed {refreshed:,.0f}"
                    f", lag p99 so far {lag99:.3f}s"
                )
            elif first is not None and int(s.t - first.t) // o.period > int(prev.t - first.t) // o.period:
                refreshed = s.refreshed - start.refreshed
                progress(
                    f"  {int(s.t - first.t) // o.period:.0f} period(s) since the first tick; "
                    f"refreshed {refreshed:,.0f}; no round completion observed"
                )
            prev = s
        for task in load:
            task.cancel()
        stop_watching.set()
        for paced in (admin_load, list_load):
            if paced is not None:
                # The requests are paced over the rounds; the last ones may still be out when the
                # rounds end (they finish earlier than a full period each): let them finish, bounded.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(paced), timeout=o.period)
                paced.cancel()
    end = prev
    calls1 = await sim.calls()
    if pg is not None and pg0 is not None:
        run.result |= pg_figures(pg0, await pg.counters(), end.cpu - start.cpu)
    run.result["churn"] = churn.counts
    run.result["list_summary_requests"] = len(list_times)
    if list_times:
        run.result["list_summary_p50_seconds"] = percentile(list_times, 0.50)
        run.result["list_summary_p99_seconds"] = percentile(list_times, 0.99)
    if o.watchers:
        run.result |= watchers.figures()
    run.result["admin_requests"] = len(latencies)
    if latencies:
        run.result["admin_p99_seconds"] = percentile(latencies, 0.99)
        run.result["admin_p50_seconds"] = percentile(latencies, 0.50)
        run.result["admin_statuses"] = {str(k): v for k, v in sorted(statuses.items())}
    _round_figures(
        run, start=start, end=end, durations=round_durations, calls1=calls1, calls0=calls0, sampler=sampler
    )
    run.result["refreshes_per_period"] = _per_period(list(sampler.samples), first, end, o.period)


def _round_figures(
    run: Run,
    *,
    start: Sample,
    end: Sample,
    durations: list[float],
    calls1: dict[str, dict[str, int]],
    calls0: dict[str, dict[str, int]],
    sampler: Sampler,
) -> None:
    r = run.result
    refreshed = end.refreshed - start.refreshed
    lag = _prom.delta_buckets(end.lag, start.lag)
    r["rounds_completed"] = int(end.rounds - start.rounds)
    r["ticks_skipped_overrun"] = end.overrun - start.overrun
    r["refreshes_measured"] = refreshed
    r["measured_seconds"] = end.t - start.t
    r["round_seconds_all"] = durations
    r["round_seconds_p50"] = percentile(durations, 0.5) if durations else None
    r["round_seconds_p99"] = percentile(durations, 0.99) if durations else None
    r["round_seconds_max"] = max(durations) if durations else None
    r["tick_lag_seconds_p50"] = _nan_none(_prom.quantile(0.5, lag))
    r["tick_lag_seconds_p99"] = _nan_none(_prom.quantile(0.99, lag))
    r["tick_lag_seconds_max"] = _nan_none(_prom.max_bound(lag))
    r["tick_lag_max_is_bucket_bound"] = True
    cpu = end.cpu - start.cpu
    r["cpu_seconds_measured"] = cpu
    r["cpu_utilisation"] = cpu / (end.t - start.t) if end.t > start.t else None
    delta = calls_delta(calls1, calls0)
    r["aws_calls_by_operation"] = delta
    scrapes = sum(1 for s in sampler.samples if start.t < s.t <= end.t)
    harness = scrapes * r.get("harness_cpu_seconds_per_scrape", 0.0) + r.get("admin_requests", 0) * r.get(
        "harness_cpu_seconds_per_admin_get", 0.0
    )
    r["harness_cpu_seconds_measured"] = harness
    if refreshed > 0:
        r["cpu_seconds_per_1000_refreshes"] = cpu / refreshed * 1000
        r["cpu_seconds_per_1000_refreshes_net"] = max(0.0, cpu - harness) / refreshed * 1000
        # Net of the admin API's threads, by the process's own count (0 where it has no /proc): what the
        # actors, the scheduler, the AWS client and the actors' store cost, the part the floors compare.
        admin_cpu = end.admin_cpu - start.admin_cpu
        r["admin_cpu_seconds_measured"] = admin_cpu
        r["cpu_seconds_per_1000_refreshes_fleet"] = max(0.0, cpu - admin_cpu) / refreshed * 1000
        r["aws_calls_per_refresh"] = sum(delta.values()) / refreshed
        reads = ("DescribeCluster", "ListNodegroups", "DescribeNodegroup", "DescribeAddon")
        r["aws_refresh_reads_per_refresh"] = sum(delta.get(f"eks:{op}", 0) for op in reads) / refreshed
    window = [s for s in sampler.samples if start.t <= s.t <= end.t] or [end]
    r["metrics_scrape_seconds"] = max(s.scrape_seconds for s in window)
    r["metrics_scrape_seconds_max"] = max(s.scrape_seconds for s in sampler.samples)
    r["loop_lag_seconds_max"] = max(s.loop_lag_max for s in sampler.samples)
    r["metrics_scrape_seconds_p50"] = percentile([s.scrape_seconds for s in window], 0.5)
    r["metrics_bytes"] = end.scrape_bytes


async def _list_load(run: Run, admin: AdminClient, times: list[float], gap: float) -> None:
    """Summary pages of 500 paced over the rounds (appended as they complete: a cancelled run keeps
    what it measured)."""
    token = ""
    while len(times) < run.opts.list_requests:
        seconds, token = await summary_page(admin, token)
        times.append(seconds)
        await asyncio.sleep(gap)


async def _admin_load(run: Run, admin: AdminClient, latencies: list[float], statuses: dict[int, int]) -> None:
    """``admin_requests`` GETs of random live clusters, paced to spread over the measured rounds."""
    o = run.opts
    rng = random.Random(7)
    per_worker = math.ceil(o.admin_requests / o.admin_concurrency)
    gap = min(1.0, o.rounds * o.period * 0.8 / max(1, per_worker))
    issued = 0

    async def worker() -> None:
        nonlocal issued
        for _ in range(per_worker):
            if issued >= o.admin_requests:  # counted before the await: workers run concurrently
                return
            issued += 1
            name = rng.choice(run.alive)
            target = admin if len(run.admins) == 1 else rng.choice(run.admins)
            seconds, status = await target.timed_get(f"/v1/clusters/{name}")
            latencies.append(seconds)
            statuses[status] = statuses.get(status, 0) + 1
            await asyncio.sleep(gap * rng.random() * 2)

    await asyncio.gather(*(worker() for _ in range(o.admin_concurrency)))


def _per_period(samples: list[Sample], first: Sample | None, end: Sample, period: float) -> list[float]:
    """Refreshes in each whole period after the first tick (from the samples nearest the boundaries):
    whether the fleet is refreshed once per period even when the round metric cannot say it."""
    if first is None:
        return []
    out: list[float] = []
    k = 1
    prior = first
    for s in samples:
        if s.t > end.t + 1e-9:
            break
        if s.t >= first.t + k * period:
            out.append(s.refreshed - prior.refreshed)
            prior, k = s, k + 1
    return out


def _nan_none(x: float) -> float | None:
    return None if math.isnan(x) else x
