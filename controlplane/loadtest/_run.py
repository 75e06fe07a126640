"""One load test run: the phases in order, every child stopped at the end whatever happens.

The measured rounds are in ``_rounds``, the churn in ``_churn``, the restart and the fail-over in
``_restart``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import psutil

from ._baselines import BaselineResult
from ._clients import AdminClient, SimClient, import_manifest
from ._options import LoadOptions
from ._pgstore import fleet_database
from ._phase import PREFIX, LoadTestError, progress
from ._plot import draw
from ._procs import Child, ProcessError, free_port, serve_argv, sim_argv
from ._replicas import replica_id, wait_balanced
from ._report import RESULT_KEYS, table
from ._restart import failover, restart
from ._rounds import calibrate, measure_rounds
from ._sampler import Sample, Sampler

ADMIN_LINE = r"admin API (http://\S+)"
SIM_LINE = r"listening on (http://\S+)"
BATCH = 2000
IDLE_CRON = "@every 24h"

_PROFILE_CODE = (
    "import cProfile, sys\n"
    "from controlplane.cli import main\n"
    "prof = cProfile.Profile()\n"
    "code = prof.runcall(main, sys.argv[1:])\n"
    "prof.dump_stats({path!r})\n"
    "sys.exit(code)\n"
)


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

    async def start_replicas(
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
        cps, admins = await self.start_replicas(http, "controlplane-1", sim_url, profile=prof)
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
                await calibrate(self, admin, sampler)
                await measure_rounds(self, admin, sim, sampler)
            self.result["rss_bytes_after_rounds"] = sampler.rss()
            self.result["rss_bytes_peak"] = sampler.rss_peak
            self.result["sampler_errors"] = sampler.errors
            samples = list(sampler.samples)
        final_clusters = int(samples[-1].clusters)
        self.result["clusters_at_end"] = final_clusters
        if o.failover:
            cps = await failover(self, cps, admins)
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
            await restart(self, http, sim_url, final_clusters)

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
