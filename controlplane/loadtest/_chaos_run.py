"""One chaos run: the simulator and the control plane as child processes, the imported fleet, and the
services the scenarios use (faults, kills and restarts, settling, judging). Every child is stopped and the
tmpfs unmounted at the end, whatever happens."""

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

from ._chaos_check import Ledger, Verdict, assess, duplicates
from ._chaos_env import mount_tmpfs, unmount
from ._chaos_fleet import CREDENTIAL_A, CREDENTIAL_B, FLEET_PREFIX, ChaosClient
from ._chaos_metrics import Timeline
from ._chaos_options import ChaosOptions
from ._clients import SimClient
from ._procs import Child, ProcessError, serve_argv

ADMIN_LINE = r"admin API (http://\S+)"
SIM_LINE = r"listening on (http://127\.0\.0\.1:(\d+))"
BATCH = 2000
LOG_PATTERNS = {
    "error_lines": '"level":"error"',
    "store_flush_failures": "store status flush failed",
    "tracebacks": "Traceback (most recent call last)",
}


class ChaosError(RuntimeError):
    """The run could not go on (a child would not start, the deadline passed)."""


def progress(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def config_toml() -> str:
    """Client-side AWS limits sized for a fleet of thousands (the defaults suit ~1,000 per 300 s)."""
    return (
        "[aws]\npool_size = 32\n"
        "[aws.limits.eks]\nmax_in_flight = 32\n"
        "[aws.limits.ec2]\nmax_in_flight = 16\n"
        "[aws.limits.sts]\nmax_in_flight = 16\n"
        "[aws.limits.cloudformation]\nmax_in_flight = 8\n"
        "[aws.limits.iam]\nmax_in_flight = 8\n"
    )


class ChaosRun:
    def __init__(self, opts: ChaosOptions, http: aiohttp.ClientSession) -> None:
        self.opts = opts
        self.http = http
        self.out = Path(opts.out)
        self.data_dir = self.out / "data"
        self.ledger = Ledger()
        self.client = ChaosClient(http, self.ledger, patience=max(60.0, 3 * opts.period))
        self.timeline = Timeline()
        self.origin = time.monotonic()
        self.rng = random.Random(5)
        self.children: list[Child] = []
        self.cp: Child | None = None
        self.cp_lives = 0
        self.sim_child: Child | None = None
        self.sim_lives = 0
        self.sim_port = 0
        self.sim: SimClient
        self.expected_down = False
        """True while the harness itself has the control plane down (a kill): not a crash."""
        self.crashes = 0
        self.tmpfs_error = "not tried"
        self.credential_b: set[str] = set()
        self.marks: list[tuple[float, str]] = []
        self.lifted: float | None = None
        self.max_duplicates = 0

    # --- time -----------------------------------------------------------------------------------------

    def now(self) -> float:
        return time.monotonic() - self.origin

    def remaining(self) -> float:
        left = self.opts.deadline - self.now()
        if left <= 0:
            raise ChaosError(f"overall deadline of {self.opts.deadline:.0f}s reached")
        return left

    def mark(self, label: str) -> None:
        self.marks.append((self.now(), label))
        progress(f"  {label}")

    def lift(self) -> None:
        """The scenario's fault is over: convergence is timed from here."""
        self.lifted = self.now()
        self.mark("fault lifted")

    # --- children -------------------------------------------------------------------------------------

    def _child(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        child = Child(name, argv, self.out / f"{name}.log", env)
        self.children.append(child)
        child.start()
        return child

    async def start_sim(self) -> None:
        o = self.opts
        self.sim_lives += 1
        argv = [
            sys.executable, "-m", "controlplane.cli", "sim", "--listen", f"127.0.0.1:{self.sim_port}",
            "--time-scale", repr(o.time_scale), "--state", str(self.out / "sim-state.json"),
        ]  # fmt: skip
        self.sim_child = self._child(f"simulator-{self.sim_lives}", argv)
        found = await self.sim_child.wait_for_line(SIM_LINE, within=120)
        self.sim_port = int(found.group(2))
        self.sim = SimClient(self.http, found.group(1))

    async def restart_sim(self) -> None:
        """SIGTERM the simulator (it saves its state) and start it again on the same port."""
        assert self.sim_child is not None
        await self.sim_child.stop()
        self.mark("simulator stopped")
        await self.start_sim()
        self.mark("simulator back")

    def _cp_env(self) -> dict[str, str]:
        o = self.opts
        return {
            "CONTROLPLANE_TIME_SCALE": repr(o.time_scale),
            "CONTROLPLANE_SYNC_INITIAL_ROUND_SPREAD": repr(min(5.0, o.period / 2) / o.time_scale),
            "CONTROLPLANE_SYNC_REFRESH_CRON": f"@every {o.period:g}s",
            "CONTROLPLANE_SERVICE_LOG_FORMAT": "json",
        }

    async def start_cp(self) -> None:
        self.cp_lives += 1
        argv = serve_argv(self.out / "controlplane.toml", self.data_dir, self.sim.url, self.opts.log_level)
        self.cp = self._child(f"controlplane-{self.cp_lives}", argv, self._cp_env())
        found = await self.cp.wait_for_line(ADMIN_LINE, within=120)
        token = (self.data_dir / "admin-token").read_text().strip()
        self.client.bind(found.group(1), token)
        self.expected_down = False

    async def kill_cp(self) -> None:
        """SIGKILL: no shutdown hook runs."""
        assert self.cp is not None
        self.expected_down = True
        self.cp.kill_now()
        self.mark(f"control plane SIGKILLed (pid {self.cp.pid})")

    def cp_alive(self) -> bool:
        return self.cp is not None and self.cp.alive()

    # --- faults ---------------------------------------------------------------------------------------

    async def set_faults(self, faults: dict[str, Any]) -> None:
        await self.sim.set_faults({"seed": 1, **faults})

    async def sim_state(self) -> dict[str, Any]:
        state: dict[str, Any] = await self.sim._send("GET", "/_sim/state")
        return state

    # --- the run --------------------------------------------------------------------------------------

    async def setup(self) -> None:
        o = self.opts
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "controlplane.toml").write_text(config_toml())
        if "disk-full" in o.scenarios:
            self.tmpfs_error = mount_tmpfs(self.data_dir, o.tmpfs_size)
            if not self.tmpfs_error:
                progress(f"data directory on a tmpfs of {o.tmpfs_size} ({self.data_dir})")
        await self.start_sim()
        for start in range(0, o.clusters, BATCH):
            await self.sim.create_batch(
                min(BATCH, o.clusters - start), FLEET_PREFIX, o.nodegroups, start=start, private=True
            )
        await self.start_cp()
        await self.client.put_credentials()
        names = [f"{FLEET_PREFIX}{i:05d}" for i in range(o.clusters)]
        self.ledger.external.update(names)
        self.credential_b = {n for i, n in enumerate(names) if i % 10 == 0}
        queue = iter(names)

        async def worker() -> None:
            for name in queue:
                await self.client.import_cluster(
                    name, CREDENTIAL_B if name in self.credential_b else CREDENTIAL_A
                )

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(o.import_concurrency)))
        progress(
            f"imported {o.clusters:,} clusters in {time.monotonic() - began:.1f}s; waiting for them to settle"
        )
        verdict, settled_at = await self.settle(bound=60 + o.clusters / 10)
        if settled_at is None:
            raise ChaosError(f"the imported fleet did not settle: {verdict.unsettled[:5]}")
        progress(f"fleet settled {time.monotonic() - began:.1f}s after the import began")

    async def sample_forever(self) -> None:
        """Scrape the control plane every ``sample_interval``; notice a crash (an exit nobody asked for)."""
        while True:
            text: str | None = None
            pid = self.cp.pid if self.cp is not None and self.cp.proc is not None else 0
            if self.cp_alive():
                try:
                    async with self.http.get(self.client.url + "/metrics") as resp:
                        text = (await resp.read()).decode()
                except (TimeoutError, aiohttp.ClientError, OSError):
                    text = None
            elif not self.expected_down and self.cp is not None:
                self.crashes += 1
                self.mark(f"control plane exited by itself (see {self.cp.log_path}); restarting it")
                await self.start_cp()
            self.timeline.add(self.now(), pid, text)
            await asyncio.sleep(self.opts.sample_interval)

    async def watch_duplicates(self) -> None:
        """During a fault: look for duplicates now and then (one that is later cleaned up still counts)."""
        while True:
            await asyncio.sleep(max(self.opts.poll_interval, 2.0))
            with contextlib.suppress(Exception):
                verdict_dups = sum(duplicates(await self.sim_state()).values())
                self.max_duplicates = max(self.max_duplicates, verdict_dups)

    async def look(self) -> Verdict:
        items = await self.client.list_all()
        state = await self.sim_state()
        verdict = assess(items, state, self.ledger)
        self.max_duplicates = max(self.max_duplicates, verdict.duplicate_count)
        return verdict

    async def settle(self, *, bound: float) -> tuple[Verdict, float | None]:
        """Look at the fleet every ``poll_interval`` until it is settled (returns the time) or ``bound``
        seconds passed (returns None and the last verdict)."""
        began = self.now()
        last_report = began
        verdict: Verdict | None = None
        while True:
            self.remaining()
            try:
                verdict = await self.look()
            except (TimeoutError, RuntimeError, aiohttp.ClientError, OSError) as exc:
                progress(f"  fleet not readable yet: {exc}")
            if verdict is not None and verdict.settled:
                return verdict, self.now()
            if self.now() - began > bound:
                if verdict is None:
                    raise ChaosError("the fleet could not be read at all")
                return verdict, None
            if self.now() - last_report > 15:
                last_report = self.now()
                if verdict is not None:
                    shown = verdict.unsettled[:3]
                    progress(
                        f"  settling ({self.now() - began:.0f}s): {len(verdict.unsettled)}+ reasons: {shown}"
                    )
            await asyncio.sleep(self.opts.poll_interval)

    async def stop_all(self) -> None:
        for child in reversed(self.children):
            await child.stop()
        if not self.tmpfs_error:
            unmount(self.data_dir)

    def log_counts(self) -> dict[str, int]:
        """Lines of interest in every control-plane log so far (errors, failed store flushes, tracebacks)."""
        counts = dict.fromkeys(LOG_PATTERNS, 0)
        for path in sorted(self.out.glob("controlplane-*.log")):
            text = path.read_text(errors="replace")
            for key, pattern in LOG_PATTERNS.items():
                counts[key] += text.count(pattern)
        return counts

    def fleet_alive(self) -> set[str]:
        """Names the API should hold now, as far as the ledger knows."""
        return (self.ledger.external | self.ledger.made) - self.ledger.deleted - self.ledger.uncertain


def nan_none(x: float) -> float | None:
    return None if isinstance(x, float) and math.isnan(x) else x


__all__ = ["ChaosError", "ChaosRun", "ProcessError", "nan_none", "progress"]
