"""One load test run: the phases in order, every child stopped at the end whatever happens."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import psutil

from . import _prom
from ._api_bench import Watchers, summary_page
from ._baselines import BaselineResult
from ._clients import AdminClient, SimClient, calls_delta, create_manifest, import_manifest, update_patch
from ._options import LoadOptions
from ._pgstore import PgWatch, fleet_database, pg_figures
from ._plot import draw
from ._procs import Child, ProcessError, free_port, serve_argv, sim_argv
from ._replicas import count_written_by, replica_id, wait_balanced
from ._report import RESULT_KEYS, percentile, table
from ._sampler import PREFIXES, Sample, Sampler, ticks_seen

PREFIX = "load-"
ADMIN_LINE = r"admin API (http://\S+)"
SIM_LINE = r"listening on (http://\S+)"
BATCH = 2000
IDLE_CRON = "@every 24h"
CALIBRATION_SCRAPES = 20
CALIBRATION_GETS = 200

_PROFILE_CODE = (
    "import cProfile, sys\n"
    "from controlplane.cli import main\n"
    "prof = cProfile.Profile()\n"
    "code = prof.runcall(main, sys.argv[1:])\n"
    "prof.dump_stats({path!r})\n"
    "sys.exit(code)\n"
)


class LoadTestError(RuntimeError):
    """A phase could not complete; the message names the phase (result.json holds what was measured)."""


def progress(message: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def config_toml(opts: LoadOptions) -> str:
    """Service config of the run: client-side limits sized for a load test (the defaults are sized for
    ~1,000 clusters every 300 s and would make a 10,000-cluster round impossible by design)."""
    eks = "max_in_flight = 32\n"
    if opts.eks_rate > 0:
        eks += f"rate = {opts.eks_rate}\nburst = {max(1, int(opts.eks_rate))}\n"
    return (
        "[aws]\npool_size = 32\n"
        f"[aws.limits.eks]\n{eks}"
        "[aws.limits.ec2]\nmax_in_flight = 16\n"
        "[aws.limits.sts]\nmax_in_flight = 16\n"
        "[aws.limits.cloudformation]\nmax_in_flight = 8\n"
        "[aws.limits.iam]\nmax_in_flight = 8\n"
    )


def faults(opts: LoadOptions) -> dict[str, Any]:
    out: dict[str, Any] = {"seed": 1}
    if opts.latency_ms > 0:
        median = opts.latency_ms / 1000.0
        out |= {
            "latency": "lognormal",
            "latency_seconds": median,
            "latency_sigma": opts.latency_sigma,
            "latency_max_seconds": median * 20,
        }
    if opts.throttle_percent > 0:
        out["throttle_probability"] = opts.throttle_percent / 100.0
    return out


class Run:
    def __init__(self, opts: LoadOptions) -> None:
        self.opts = opts
        self.out = Path(opts.out)
        self.data_dir = self.out / "data"
        self.result: dict[str, Any] = dict.fromkeys(RESULT_KEYS)
        self.result |= {"clusters": opts.clusters, "nodegroups": opts.nodegroups, "rounds": opts.rounds}
        self.result["replicas"] = opts.replicas
        self.children: list[Child] = []
        self.alive: list[str] = [f"{PREFIX}{i:05d}" for i in range(opts.clusters)]
        self.marks: list[tuple[float, str]] = []
        self.started = time.monotonic()
        self.admins: list[AdminClient] = []
        self.admin_ready_seconds = 0.0
        self.store_env: dict[str, str] = {}
        """The store's URL and key file for every control-plane process (empty: SQLite under data_dir)."""

    # --- children ------------------------------------------------------------------------------------

    def _child(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        child = Child(name, argv, self.out / f"{name}.log", env)
        self.children.append(child)
        child.start()
        return child

    def _cp_env(self) -> dict[str, str]:
        o = self.opts
        return {
            "CONTROLPLANE_TIME_SCALE": repr(o.time_scale),
            # The service multiplies the spread by the time scale; ask for the spread the user gave.
            "CONTROLPLANE_SYNC_INITIAL_ROUND_SPREAD": repr(o.initial_spread / o.time_scale),
            # No rounds during the import and the calibration; the admin API sets the period afterwards
            # (a stored setting beats this default, so the restarted process uses the period).
            "CONTROLPLANE_SYNC_REFRESH_CRON": IDLE_CRON,
            "CONTROLPLANE_SERVICE_LOG_FORMAT": "json",
        } | self.store_env

    @property
    def store_url(self) -> str | None:
        return self.store_env.get("CONTROLPLANE_STORE_URL")

    async def _start_cp(
        self, name: str, sim_url: str, *, profile: Path | None = None, replica: str = ""
    ) -> tuple[Child, str]:
        port = free_port()
        argv = serve_argv(self.out / "controlplane.toml", self.data_dir, sim_url, self.opts.log_level, port)
        if profile is not None:
            argv = [argv[0], "-c", _PROFILE_CODE.format(path=str(profile)), *argv[3:]]
        env = self._cp_env()
        if replica:
            env["CONTROLPLANE_REPLICA_ID"] = replica
        started = time.monotonic()
        child = self._child(name, argv, env)
        # The admin API answers before the process has started every actor (it runs on its own loop):
        # how soon it does is a figure of its own; the admin line comes once the replica joined.
        url = f"http://127.0.0.1:{port}"
        self.admin_ready_seconds = await _first_answer(url, child, within=60) - started
        found = await child.wait_for_line(ADMIN_LINE, within=600)
        return child, found.group(1)

    async def _start_replicas(
        self, http: aiohttp.ClientSession, name: str, sim_url: str, *, profile: Path | None = None
    ) -> tuple[list[Child], list[AdminClient]]:
        """Every replica of the run (one unless ``--replicas``); with several, until the split is even."""
        n = self.opts.replicas
        children: list[Child] = []
        urls: list[str] = []
        for i in range(n):
            replica = replica_id(i) if n > 1 else ""
            child, url = await self._start_cp(
                name if n == 1 else f"{name}-{replica}",
                sim_url,
                profile=profile if i == 0 else None,
                replica=replica,
            )
            children.append(child)
            urls.append(url)
        token = (self.data_dir / "admin-token").read_text().strip()
        admins = [AdminClient(http, url, token) for url in urls]
        if n > 1:
            await wait_balanced(admins[0], n, within=min(self.remaining(), 120.0))
        return children, admins

    async def _stop_all(self) -> None:
        for child in reversed(self.children):
            await child.stop()

    def remaining(self) -> float:
        left = self.opts.deadline - (time.monotonic() - self.started)
        if left <= 0:
            raise LoadTestError(f"overall deadline of {self.opts.deadline:.0f}s reached")
        return left

    # --- phases --------------------------------------------------------------------------------------

    async def execute(self) -> dict[str, Any]:
        o = self.opts
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "controlplane.toml").write_text(config_toml(o))
        progress(
            f"{o.clusters:,} clusters x {o.nodegroups} node groups, {o.rounds} rounds at {o.cron}, "
            f"out {self.out}"
        )
        async with contextlib.AsyncExitStack() as stack:
            if o.store == "postgresql":
                self.store_env = await stack.enter_async_context(fleet_database(self.out))
                progress("store: a throwaway PostgreSQL server (durable defaults)")
            try:
                timeout = aiohttp.ClientTimeout(total=60)
                connector = aiohttp.TCPConnector(limit=64)
                async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
                    await self._phases(http)
            finally:
                await self._stop_all()
        return self.result

    async def _phases(self, http: aiohttp.ClientSession) -> None:
        o = self.opts
        sim_child = self._child("simulator", sim_argv(o.time_scale))
        sim_url = (await sim_child.wait_for_line(SIM_LINE, within=60)).group(1)
        sim = SimClient(http, sim_url)
        await sim.register_credential()
        prof = self.out / "controlplane.prof" if o.profile else None
        cps, admins = await self._start_replicas(http, "controlplane-1", sim_url, profile=prof)
        admin = admins[0]
        self.admins = admins
        progress(
            f"simulator {sim_url}, control plane {', '.join(a.url for a in admins)} "
            f"(pid {', '.join(str(cp.pid) for cp in cps)})"
        )

        await asyncio.sleep(1.0)  # let the idle process settle before its baseline RSS
        idle_rss = sum(psutil.Process(cp.pid).memory_info().rss for cp in cps)
        for start in range(0, o.clusters, BATCH):
            await sim.create_batch(
                min(BATCH, o.clusters - start),
                PREFIX,
                o.nodegroups,
                start=start,
                private=o.endpoint_access == "private",
            )
        await sim.set_faults(faults(o))
        progress(f"simulator holds {o.clusters:,} clusters; faults {faults(o)}")
        await admin.put_credential()

        async with Sampler(admins, sim, [cp.pid for cp in cps], o.sample_interval) as sampler:
            await self._import(admin, sampler)
            rss_after = sampler.rss()
            self.result["rss_bytes_idle"] = idle_rss
            self.result["rss_bytes_after_import"] = rss_after
            self.result["rss_bytes_per_cluster"] = max(0, rss_after - idle_rss) / o.clusters
            if o.soak:
                from ._soak import run_soak  # noqa: PLC0415 - the soak phase replaces the rounds

                await run_soak(self, admin, sim, sampler, cps[0].pid)
            else:
                await self._calibrate(admin, sampler)
                await self._rounds(admin, sim, sampler)
            self.result["rss_bytes_after_rounds"] = sampler.rss()
            self.result["rss_bytes_peak"] = sampler.rss_peak
            self.result["sampler_errors"] = sampler.errors
            samples = list(sampler.samples)
        final_clusters = int(samples[-1].clusters)
        self.result["clusters_at_end"] = final_clusters
        if o.failover:
            cps = await self._failover(cps, admins)
        shutdown = max([await cp.stop(grace=60) for cp in cps])
        self.result["shutdown_seconds"] = shutdown
        progress(f"control plane stopped in {shutdown:.2f}s (SIGTERM)")
        if prof is not None:
            _write_profile(prof, self.out / "profile.txt")
        with contextlib.suppress(Exception):
            draw(
                samples,
                self.out / "tick-lag.png",
                title=f"{o.clusters:,} clusters x {o.nodegroups} node groups, {o.cron}",
                marks=self.marks,
            )
        if not o.skip_baselines:
            await self._baselines(sim_url)
        if not o.skip_restart:
            await self._restart(http, sim_url, final_clusters)

    async def _import(self, admin: AdminClient, sampler: Sampler) -> None:
        o = self.opts
        began = time.monotonic()
        self.marks.append((began - sampler.origin, "import"))
        queue = iter(self.alive)

        done = 0

        async def worker(i: int) -> None:
            nonlocal done
            # Spread over the replicas: any replica accepts any write (the owner learns of it by the feed).
            target = self.admins[i % len(self.admins)]
            for name in queue:
                await target.create(import_manifest(name))
                done += 1

        async def report() -> None:
            while True:
                await asyncio.sleep(5)
                elapsed = time.monotonic() - began
                progress(f"  posted {done:,}/{o.clusters:,} ({done / elapsed:,.0f}/s)")

        async with asyncio.TaskGroup() as tg:
            reporter = tg.create_task(report())
            await asyncio.gather(*(worker(i) for i in range(min(o.import_concurrency, o.clusters))))
            reporter.cancel()
        posted = time.monotonic() - began
        self.result["import_clusters_per_second"] = o.clusters / posted if posted > 0 else None
        progress(
            f"imported {o.clusters:,} clusters through the admin API in {posted:.1f}s "
            f"({o.clusters / posted:,.0f}/s); waiting for active"
        )
        last = 0.0
        # With throttling, a few clusters are always retrying a call that ran out of retries (phase
        # updating, as the operator does it): then 99.5% active is imported.
        enough = o.clusters if o.throttle_percent == 0 else math.ceil(o.clusters * 0.995)
        while True:
            s = await self._poll(sampler)
            if s.active >= enough:
                break
            if time.monotonic() - last > 10:
                last = time.monotonic()
                progress(f"  active {s.active:,.0f}/{o.clusters:,}")
        elapsed = time.monotonic() - began
        self.result["time_to_all_active_seconds"] = elapsed
        self.marks.append((time.monotonic() - sampler.origin, "all active"))
        progress(f"all {o.clusters:,} clusters active after {elapsed:.1f}s; waiting for the passes to settle")
        # Phase active is reached before the first active pass (service-account token and so on) ran;
        # the import's work is over when no reconcile pass has run for a while.
        quiet_since, seen = time.monotonic(), s.reconciles
        while time.monotonic() - quiet_since < 1.0 and time.monotonic() - began < elapsed + 120:
            s = await self._poll(sampler)
            if s.reconciles != seen:
                quiet_since, seen = time.monotonic(), s.reconciles
        settled = quiet_since - began
        self.result["time_to_settled_seconds"] = settled
        progress(f"reconcile passes settled {settled:.1f}s after the import began")

    async def _poll(self, sampler: Sampler) -> Sample:
        """A fresh sample, quickly (the 1 s sampler would round phase times up)."""
        self.remaining()
        await asyncio.sleep(min(0.2, self.opts.sample_interval))
        return await sampler.sample()

    async def _rounds(self, admin: AdminClient, sim: SimClient, sampler: Sampler) -> None:
        o = self.opts
        # The measurement starts at the change of the setting: the first round fires within a period;
        # until then the process is idle (only the sampler's scrapes, which the net figure removes).
        await admin.set_refresh_cron(o.cron)
        start = await sampler.sample()
        calls0 = await sim.calls()
        pg = PgWatch(self.store_url) if self.store_url is not None else None
        pg0 = await pg.counters() if pg is not None else None
        self.marks.append((start.t, "measure"))
        progress(f"measuring {o.rounds} rounds at {o.cron}")
        churn = Churn(admin, o, self.alive)
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        limit = (o.rounds + 1) * o.period * 2.0 + 30.0
        round_durations: list[float] = []
        first: Sample | None = None
        watchers = Watchers(admin, o.watchers)
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
                self.remaining()
                s = await sampler.next_sample()
                if first is None and s.ticks > start.ticks:
                    # The first round has begun: admin GETs and churn run while the rounds do.
                    first = s
                    self.marks.append((s.t, "first tick"))
                    load.append(tg.create_task(churn.run()))
                    admin_load = tg.create_task(self._admin_load(admin, latencies, statuses))
                    if o.watchers:
                        tg.create_task(watchers.run(stop_watching))
                    if o.list_requests:
                        gap = o.rounds * o.period * 0.8 / o.list_requests
                        list_load = tg.create_task(self._list_load(admin, list_times, gap))
                done = s.rounds - prev.rounds
                if done > 0:
                    each = (s.round_sum - prev.round_sum) / done
                    round_durations.extend([each] * int(done))
                    n = int(s.rounds - start.rounds)
                    self.marks.append((s.t, f"round {n}"))
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
            self.result |= pg_figures(pg0, await pg.counters(), end.cpu - start.cpu)
        self.result["churn"] = churn.counts
        self.result["list_summary_requests"] = len(list_times)
        if list_times:
            self.result["list_summary_p50_seconds"] = percentile(list_times, 0.50)
            self.result["list_summary_p99_seconds"] = percentile(list_times, 0.99)
        if o.watchers:
            self.result |= watchers.figures()
        self.result["admin_requests"] = len(latencies)
        if latencies:
            self.result["admin_p99_seconds"] = percentile(latencies, 0.99)
            self.result["admin_p50_seconds"] = percentile(latencies, 0.50)
            self.result["admin_statuses"] = {str(k): v for k, v in sorted(statuses.items())}
        self._round_figures(
            start=start, end=end, durations=round_durations, calls1=calls1, calls0=calls0, sampler=sampler
        )
        self.result["refreshes_per_period"] = _per_period(list(sampler.samples), first, end, o.period)

    def _round_figures(
        self,
        *,
        start: Sample,
        end: Sample,
        durations: list[float],
        calls1: dict[str, dict[str, int]],
        calls0: dict[str, dict[str, int]],
        sampler: Sampler,
    ) -> None:
        r = self.result
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
            r["aws_calls_per_refresh"] = sum(delta.values()) / refreshed
            reads = ("DescribeCluster", "ListNodegroups", "DescribeNodegroup", "DescribeAddon")
            r["aws_refresh_reads_per_refresh"] = sum(delta.get(f"eks:{op}", 0) for op in reads) / refreshed
        window = [s for s in sampler.samples if start.t <= s.t <= end.t] or [end]
        r["metrics_scrape_seconds"] = max(s.scrape_seconds for s in window)
        r["metrics_scrape_seconds_max"] = max(s.scrape_seconds for s in sampler.samples)
        r["loop_lag_seconds_max"] = max(s.loop_lag_max for s in sampler.samples)
        r["metrics_scrape_seconds_p50"] = percentile([s.scrape_seconds for s in window], 0.5)
        r["metrics_bytes"] = end.scrape_bytes

    async def _calibrate(self, admin: AdminClient, sampler: Sampler) -> None:
        """CPU the harness itself costs the control plane (one /metrics scrape, one admin GET), measured
        while no round runs, so the per-refresh figure can be given net of the harness too."""
        await asyncio.sleep(1.0)
        cpu0 = sampler.cpu_seconds()
        for _ in range(CALIBRATION_SCRAPES):
            await admin.metrics()
        cpu1 = sampler.cpu_seconds()
        rng = random.Random(3)
        for _ in range(CALIBRATION_GETS):
            await admin.timed_get(f"/v1/clusters/{rng.choice(self.alive)}")
        cpu2 = sampler.cpu_seconds()
        self.result["harness_cpu_seconds_per_scrape"] = (cpu1 - cpu0) / CALIBRATION_SCRAPES
        self.result["harness_cpu_seconds_per_admin_get"] = (cpu2 - cpu1) / CALIBRATION_GETS
        progress(
            f"calibration: {(cpu1 - cpu0) / CALIBRATION_SCRAPES * 1000:.1f} ms CPU per /metrics scrape, "
            f"{(cpu2 - cpu1) / CALIBRATION_GETS * 1000:.2f} ms per admin GET"
        )

    async def _list_load(self, admin: AdminClient, times: list[float], gap: float) -> None:
        """Summary pages of 500 paced over the rounds (appended as they complete: a cancelled run keeps
        what it measured)."""
        token = ""
        while len(times) < self.opts.list_requests:
            seconds, token = await summary_page(admin, token)
            times.append(seconds)
            await asyncio.sleep(gap)

    async def _admin_load(self, admin: AdminClient, latencies: list[float], statuses: dict[int, int]) -> None:
        """``admin_requests`` GETs of random live clusters, paced to spread over the measured rounds."""
        o = self.opts
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
                name = rng.choice(self.alive)
                target = admin if len(self.admins) == 1 else rng.choice(self.admins)
                seconds, status = await target.timed_get(f"/v1/clusters/{name}")
                latencies.append(seconds)
                statuses[status] = statuses.get(status, 0) + 1
                await asyncio.sleep(gap * rng.random() * 2)

        await asyncio.gather(*(worker() for _ in range(o.admin_concurrency)))

    async def _baselines(self, sim_url: str) -> None:
        o = self.opts
        names = self.out / "baseline-names.json"
        names.write_bytes(msgspec.json.encode(self.alive))
        for kind, key in (
            ("aiobotocore", "floor_cpu_seconds_per_1000_refreshes"),
            ("raw", "raw_floor_cpu_seconds_per_1000_refreshes"),
            ("boto3", "boto3_cpu_seconds_per_1000_refreshes"),
        ):
            progress(f"baseline {kind}: {o.baseline_refreshes:,} refreshes of the same clusters")
            argv = [
                sys.executable, "-m", "controlplane.loadtest._baselines", kind, "--endpoint", sim_url,
                "--names", str(names), "--refreshes", str(o.baseline_refreshes),
                "--concurrency", str(o.baseline_concurrency),
            ]  # fmt: skip
            child = self._child(f"baseline-{kind}", argv)
            found = await child.wait_for_line(r"(\{.*\"kind\".*\})", within=min(self.remaining(), 900))
            await child.stop()
            b = msgspec.json.decode(found.group(1), type=BaselineResult)
            self.result[key] = b.cpu_seconds / b.refreshes * 1000
            self.result[f"baseline_{kind}"] = msgspec.to_builtins(b)
            progress(
                f"  {kind}: {b.cpu_seconds:.2f}s CPU for {b.refreshes:,} refreshes "
                f"({b.calls / b.refreshes:.2f} calls each, {b.errors} errors) in {b.wall_seconds:.1f}s"
            )

    async def _restart(self, http: aiohttp.ClientSession, sim_url: str, expected: int) -> None:
        progress(f"restarting the control plane on the same data dir; waiting for {expected:,} ticks")
        began = time.monotonic()
        cps, admins = await self._start_replicas(http, "controlplane-2", sim_url)
        ready = time.monotonic() - began
        # A restart reconciles every cluster once and ticks it once: bounded by the remaining time.
        limit = min(self.remaining(), self.opts.initial_spread + 60 + expected / 25)
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
        self.result["restart_to_ready_seconds"] = ready
        self.result["restart_to_first_tick_seconds"] = elapsed
        self.result["restart_admin_ready_seconds"] = self.admin_ready_seconds
        self.result["restart_all_ticked_seconds"] = elapsed
        # The steady-state cost of holding the fleet: a process that loaded every cluster from the store
        # and refreshed each once, without the heap high-water mark the import left in the first one.
        await asyncio.sleep(1.0)
        rss = sum(int(psutil.Process(cp.pid).memory_info().rss) for cp in cps)
        idle = self.result.get("rss_bytes_idle")
        self.result["rss_bytes_restarted"] = rss
        if isinstance(idle, int | float) and expected:
            self.result["rss_bytes_per_cluster_after_import"] = self.result.get("rss_bytes_per_cluster")
            self.result["rss_bytes_per_cluster"] = max(0, rss - idle) / expected
        progress(f"restart: admin API after {ready:.2f}s, every cluster ticked after {elapsed:.2f}s")
        for cp in cps:
            await cp.stop()

    async def _failover(self, cps: list[Child], admins: list[AdminClient]) -> list[Child]:
        """SIGKILL the last replica; time until a survivor refreshed every cluster it ran (their status
        names the survivor). Returns the survivors."""
        victim_index = len(cps) - 1
        victim, victim_id = cps[victim_index], replica_id(victim_index)
        orphans = await count_written_by(self.data_dir, self.store_url, victim_id)
        progress(f"fail-over: SIGKILL {victim_id} (pid {victim.pid}), which runs {orphans:,} clusters")
        victim.kill_now()
        began = time.monotonic()
        limit = min(self.remaining(), 600.0)
        left = orphans
        while left:
            await asyncio.sleep(0.5)
            left = await count_written_by(self.data_dir, self.store_url, victim_id)
            if time.monotonic() - began > limit:
                raise LoadTestError(f"fail-over: {left:,} clusters still last written by {victim_id}")
        took = time.monotonic() - began
        self.result["failover_clusters"] = orphans
        self.result["failover_seconds"] = took
        progress(f"fail-over: every orphaned cluster refreshed by a survivor after {took:.1f}s")
        return cps[:victim_index]


class Churn:
    """During each measured round: a share of the fleet created, updated and deleted through the admin
    API, spread evenly over the period. Deleted names leave ``alive`` (admin GETs and baselines skip them)."""

    def __init__(self, admin: AdminClient, opts: LoadOptions, alive: list[str]) -> None:
        self.admin = admin
        self.opts = opts
        self.alive = alive
        self.counts = {"created": 0, "updated": 0, "deleted": 0, "failed": 0}
        self._rng = random.Random(11)

    async def run(self) -> None:
        created, updated, deleted = self.opts.churn_per_round()
        if not created + updated + deleted:
            return
        for round_no in range(1, self.opts.rounds + 1):
            ops = [("created", f"{PREFIX}new-{round_no}-{i}") for i in range(created)]
            victims = self._rng.sample(self.alive, min(len(self.alive), updated + deleted))
            ops += [("updated", name) for name in victims[:updated]]
            for name in victims[updated:]:
                self.alive.remove(name)
                ops.append(("deleted", name))
            self._rng.shuffle(ops)
            gap = self.opts.period / len(ops)
            for kind, name in ops:
                try:
                    await self._apply(kind, name, round_no)
                    self.counts[kind] += 1
                except (aiohttp.ClientError, OSError, RuntimeError):
                    self.counts["failed"] += 1
                await asyncio.sleep(gap)

    async def _apply(self, kind: str, name: str, round_no: int) -> None:
        if kind == "created":
            await self.admin.create(create_manifest(name))
        elif kind == "deleted":
            await self.admin.delete(name)
        else:
            await self._update(name, round_no)

    async def _update(self, name: str, round_no: int) -> None:
        cluster = await self.admin.get(name)
        if cluster is not None:
            await self.admin.patch(name, update_patch(cluster, round_no))


async def _first_answer(url: str, child: Child, *, within: float) -> float:
    """The monotonic time of the first answer of ``url``/healthz (polled every 10 ms)."""
    deadline = time.monotonic() + within
    timeout = aiohttp.ClientTimeout(total=1)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with http.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        return time.monotonic()
            if not child.alive():
                raise ProcessError(f"{child.name} exited before its admin API answered; see {child.log_path}")
            if time.monotonic() > deadline:
                raise LoadTestError(f"{child.name}: no admin API after {within:.0f}s")
            await asyncio.sleep(0.01)


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


def _write_profile(prof: Path, out: Path) -> None:
    import io  # noqa: PLC0415
    import pstats  # noqa: PLC0415

    if not prof.exists():
        return
    buf = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buf)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(40)
    out.write_text(buf.getvalue())


def write_result(result: dict[str, Any], out: Path) -> Path:
    path = out / "result.json"
    path.write_bytes(msgspec.json.format(msgspec.json.encode(result), indent=2))
    return path


async def run_load(opts: LoadOptions) -> dict[str, Any]:
    """Run every phase; the result dict has every key of ``RESULT_KEYS`` (None where not measured)."""
    run = Run(opts)
    try:
        return await run.execute()
    finally:
        run.out.mkdir(parents=True, exist_ok=True)
        write_result(run.result, run.out)


def summary(result: dict[str, Any], opts: LoadOptions) -> str:
    return table(result, opts.period)


__all__ = ["LoadTestError", "run_load", "summary", "write_result"]
