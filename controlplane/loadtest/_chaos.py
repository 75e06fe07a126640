"""``controlplane chaos`` (also ``controlplane load --chaos``): a fleet through a fixed fault matrix.

The simulator (with ``--state``, so it can be restarted) and the control plane run as separate processes;
N existing clusters are imported (one in ten with a second credential). Then each scenario injects its
fault while a share of the fleet is created, updated and deleted through the admin API, lifts the fault,
and waits until the fleet settles. It is judged on duplicate AWS resources, leaked AWS resources, lost
changes (every change the API accepted since the start), convergence within the bound, and what the
scenario adds (the process never crashed; only the revoked credential's clusters show its error).
Writes ``DIR/chaos.json`` and ``DIR/chaos-<scenario>.png``; prints a table.

    controlplane chaos --clusters 2000 --out chaos-out
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
import msgspec

from ._chaos_fleet import plan
from ._chaos_metrics import deltas, draw
from ._chaos_options import SCENARIOS, ChaosOptions, parse_args
from ._chaos_run import ChaosError, ChaosRun, nan_none, progress
from ._chaos_scenarios import SCENARIO_FUNCTIONS
from ._procs import ProcessError

KEYS = (
    "name",
    "passed",
    "converged_seconds",
    "duplicates",
    "leaks",
    "lost_changes",
    "actor_restarts",
    "actors_gave_up",
    "tick_lag_seconds_max",
)
"""The keys of every scenario in chaos.json (the issue's contract); more follow them."""


async def run_scenario(run: ChaosRun, index: int, name: str) -> dict[str, Any]:
    o = run.opts
    bound = o.derived_bound
    progress(f"scenario {index}/{len(o.scenarios)}: {name}")
    run.marks, run.lifted, run.max_duplicates = [], None, 0
    begin = run.now()
    the_plan = plan(
        index, o.churn_count, run.fleet_alive(), run.ledger.made, run.rng,
        avoid=run.credential_b if name != "credentials-revoked" else set(),
    )  # fmt: skip
    counts_before = dict(run.client.counts)
    logs_before = run.log_counts()
    watcher = asyncio.create_task(run.watch_duplicates())
    try:
        details = await SCENARIO_FUNCTIONS[name](run, the_plan)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    if "skipped" in details:
        progress(f"  skipped: {details['skipped']}")
        return {**dict.fromkeys(KEYS), "name": name, "passed": None, **details}
    lifted = run.lifted if run.lifted is not None else run.now()
    verdict, settled_at = await run.settle(bound=bound)
    end = run.now()
    d = deltas(run.timeline.window(begin, end))
    converged = None if settled_at is None else max(0.0, settled_at - lifted)
    extra_ok = (
        details.get("isolation_ok", True)
        and not details.get("crashed")
        and details.get("integrity", "ok") == "ok"
    )
    duplicates = max(run.max_duplicates, verdict.duplicate_count)
    passed = bool(
        converged is not None
        and duplicates == 0
        and verdict.leak_count == 0
        and verdict.lost_count == 0
        and extra_ok
    )
    result: dict[str, Any] = {
        "name": name,
        "passed": passed,
        "converged_seconds": converged,
        "duplicates": duplicates,
        "leaks": verdict.leak_count,
        "lost_changes": verdict.lost_count,
        "actor_restarts": d["restarts"],
        "actors_gave_up": d["gave_up"],
        "tick_lag_seconds_max": nan_none(d["tick_lag_seconds_max"]),
        "bound_seconds": bound,
        **details,
        "leaks_by_kind": verdict.leaks,
        "duplicates_by_kind": verdict.duplicates,
        "lost": verdict.lost,
        "unsettled": [] if settled_at is not None else verdict.unsettled,
        "clusters_with_errors": verdict.errors,
        "changes": _counts_since(counts_before, run.client.counts),
        "log_lines": _counts_since(logs_before, run.log_counts()),
        "failed_refreshes": d["tick_errors"],
        "failed_passes": d["reconcile_errors"],
        "failed_aws_calls": d["aws_failed"],
    }
    try:
        draw(run.timeline.window(begin, end), run.out / f"chaos-{name}.png", title=f"chaos: {name}",
             marks=run.marks)  # fmt: skip
    except Exception as exc:  # a plot never fails the run
        progress(f"  no plot: {exc}")
    shown = "n/a" if converged is None else f"{converged:.1f}s"
    progress(
        f"  {'PASSED' if passed else 'FAILED'}: converged {shown} (bound {bound:.0f}s), "
        f"duplicates {duplicates}, leaks {verdict.leak_count}, lost {verdict.lost_count}, "
        f"restarts {d['restarts']:.0f}, gave up {d['gave_up']:.0f}"
    )
    return result


def _counts_since(before: dict[str, int], now: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in now.items() if v != before.get(k, 0)}


async def run_chaos(opts: ChaosOptions) -> dict[str, Any]:
    result: dict[str, Any] = {"clusters": opts.clusters, "scenarios": []}
    out = Path(opts.out)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=64)) as http:
        run = ChaosRun(opts, http)
        result |= {
            "period_seconds": opts.period,
            "time_scale": opts.time_scale,
            "window_scale": opts.window_scale,
            "churn_per_scenario": opts.churn_count,
        }
        try:
            await run.setup()
            result["disk_full_filesystem"] = run.tmpfs_error or f"tmpfs size={opts.tmpfs_size}"
            async with asyncio.TaskGroup() as tg:
                sampler = tg.create_task(run.sample_forever())
                for i, name in enumerate(opts.scenarios, 1):
                    result["scenarios"].append(await run_scenario(run, i, name))
                    write_result(result, out)
                sampler.cancel()
            result["crashes"] = run.crashes
        finally:
            await run.stop_all()
            write_result(result, out)
    return result


def write_result(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "chaos.json").write_bytes(msgspec.json.format(msgspec.json.encode(result), indent=2))


def table(result: dict[str, Any]) -> str:
    head = (
        "scenario",
        "passed",
        "converged",
        "bound",
        "dups",
        "leaks",
        "lost",
        "restarts",
        "gave up",
        "lag max",
    )
    rows = [head]
    for s in result.get("scenarios") or []:
        conv = s.get("converged_seconds")
        lag = s.get("tick_lag_seconds_max")
        rows.append(
            (
                s["name"],
                "skipped" if s.get("passed") is None else ("yes" if s["passed"] else "NO"),
                "-" if conv is None else f"{conv:.1f} s",
                "-" if s.get("bound_seconds") is None else f"{s['bound_seconds']:.0f} s",
                str(s.get("duplicates", "-")),
                str(s.get("leaks", "-")),
                str(s.get("lost_changes", "-")),
                "-" if s.get("actor_restarts") is None else f"{s['actor_restarts']:.0f}",
                "-" if s.get("actors_gave_up") is None else f"{s['actors_gave_up']:.0f}",
                "-" if lag is None else f"<= {lag:g} s",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return f"chaos: {result.get('clusters'):,} clusters\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``controlplane chaos``: 0 when every scenario ran and passed (or was skipped with a
    reason), 1 when one failed or the run could not complete (chaos.json holds what was measured), 2 on
    bad arguments."""
    opts = parse_args(list(sys.argv[1:] if argv is None else argv))
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        result = asyncio.run(run_chaos(opts))
    except (ChaosError, ProcessError, OSError, RuntimeError) as exc:
        print(f"controlplane chaos: {exc}", file=sys.stderr)
        return 1
    except ExceptionGroup as group:
        for inner in group.exceptions:
            print(f"controlplane chaos: {inner}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    print(table(result), flush=True)
    print(f"\nwrote {opts.out}/chaos.json and {opts.out}/chaos-*.png", file=sys.stderr)
    return 0 if all(s.get("passed") is not False for s in result["scenarios"]) else 1


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


__all__ = ["KEYS", "SCENARIOS", "ChaosOptions", "main", "run_chaos", "table"]
