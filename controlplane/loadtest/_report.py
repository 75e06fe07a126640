"""The result of a run: required keys, targets (reported, never asserted) and the printed table."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec

RESULT_KEYS = (
    "clusters",
    "nodegroups",
    "rounds",
    "time_to_all_active_seconds",
    "round_seconds_p50",
    "round_seconds_p99",
    "tick_lag_seconds_p50",
    "tick_lag_seconds_p99",
    "tick_lag_seconds_max",
    "cpu_seconds_per_1000_refreshes",
    "floor_cpu_seconds_per_1000_refreshes",
    "boto3_cpu_seconds_per_1000_refreshes",
    "aws_calls_per_refresh",
    "rss_bytes_peak",
    "rss_bytes_per_cluster",
    "admin_p99_seconds",
    "list_summary_p99_seconds",
    "watch_events_per_second",
    "watch_fanout_lag_seconds_p99",
    "metrics_scrape_seconds",
    "metrics_bytes",
    "restart_to_first_tick_seconds",
    "raw_floor_cpu_seconds_per_1000_refreshes",
    "loop_lag_seconds_max",
    "metrics_scrape_seconds_max",
    "import_clusters_per_second",
    "restart_admin_ready_seconds",
    "restart_all_ticked_seconds",
    "rounds_completed",
)
"""Keys ``result.json`` always has (numbers; ``null`` only when a phase was skipped or failed)."""

OPTIONAL_KEYS = (
    "cpu_seconds_per_1000_refreshes_fleet",
    "admin_cpu_seconds_measured",
    "replicas",
    "failover_clusters",
    "failover_seconds",
    "failover_first_refresh_seconds",
    "failover_leases_expired_seconds",
    "failover_shards_taken",
    "failover_shard_running_seconds_mean",
    "failover_shard_running_seconds_max",
    "failover_survivors_cpu_seconds",
    "failover_simulator_cpu_seconds",
    "failover_machine_busy",
    "postgres_commits_per_second",
    "postgres_rows_written_per_second",
    "postgres_cpu_share",
    "postgres_machine_share",
)
"""Keys a run has only when asked for (several replicas, a fail-over, the PostgreSQL store) or only when
measured (CPU by thread needs ``/proc``), shown after the others."""

OPERATOR_CALLS_PER_REFRESH = 8.0
"""The low end of eks-operator's 8-11 AWS calls per cluster refresh."""


class Target(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    goal: str
    value: str
    met: bool | None
    """None: not measured in this run (or not applicable at this size)."""


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not math.isnan(float(x)) else None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of raw values (NaN when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[min(rank, len(ordered) - 1)]


def _rounds_inside_period(r: Mapping[str, Any], period: float) -> Target:
    goal = f"{r['rounds']} rounds complete, none overran"
    if r.get("rounds_completed") is None:  # a soak or chaos run times no rounds
        return Target(name="rounds inside period", goal=goal, value="n/a", met=None)
    completed, overrun = r["rounds_completed"], r.get("ticks_skipped_overrun") or 0
    per_period = r.get("refreshes_per_period") or []
    p99 = _num(r.get("round_seconds_p99"))
    value = f"{completed} complete, {overrun:g} overran"
    if per_period:
        value += f", >= {min(per_period):,.0f} refreshed/period"
    met = completed >= r["rounds"] and overrun == 0 and p99 is not None and p99 <= period
    return Target(name="rounds inside period", goal=goal, value=value, met=met)


def _within(name: str, cpu: float | None, floor: float | None, factor: float, what: str) -> Target:
    """``cpu`` at most ``factor`` times ``floor``; not judged when either was not measured."""
    goal = f"<= {factor:g} x {what}"
    if cpu is None or not floor:
        return Target(name=name, goal=goal, value="n/a", met=None)
    return Target(name=name, goal=goal, value=f"{cpu / floor:.2f} x {what}", met=cpu <= factor * floor)


def targets(r: Mapping[str, Any], period: float) -> list[Target]:
    """Each goal of the load issues, judged on this run (``met`` None: not measured, or not at this size)."""
    out: list[Target] = []
    n, k = r["clusters"], r["nodegroups"]
    big = n >= 50_000 and k >= 2 and period <= 300
    out.append(
        Target(
            name="fleet size",
            goal="50,000 clusters x 2 node groups @ 300 s",
            value=f"{n:,} x {k} @ {period:g} s",
            met=True if big else None,
        )
    )
    out.append(_rounds_inside_period(r, period))
    lag = _num(r.get("tick_lag_seconds_p99"))
    out.append(_at_most("tick lag p99", lag, 1.0))
    out.append(_at_most("event-loop stall (max)", _num(r.get("loop_lag_seconds_max")), 1.0))
    raw = _num(r.get("raw_floor_cpu_seconds_per_1000_refreshes"))
    floor = _num(r.get("floor_cpu_seconds_per_1000_refreshes"))
    # Whole process, then without the admin API's threads, which serve the harness's readers (GETs,
    # summary pages, 100 watches, scrapes) and not the refreshes the floors do.
    for label, key in (
        ("", "cpu_seconds_per_1000_refreshes"),
        (", fleet", "cpu_seconds_per_1000_refreshes_fleet"),
    ):
        cpu = _num(r.get(key))
        out.append(_within(f"CPU/refresh{label} (raw)", cpu, raw, 1.5, "raw floor"))
        out.append(_within(f"CPU/refresh{label} (SDK)", cpu, floor, 0.5, "bare aiobotocore"))
    calls = _num(r.get("aws_calls_per_refresh"))
    out.append(
        Target(
            name="AWS calls per refresh",
            goal=f"< {OPERATOR_CALLS_PER_REFRESH:g} (operator: 8-11)",
            value=f"{calls:.2f}" if calls is not None else "n/a",
            met=(calls < OPERATOR_CALLS_PER_REFRESH) if calls is not None else None,
        )
    )
    rss = _num(r.get("rss_bytes_per_cluster"))
    out.append(
        Target(
            name="RSS per cluster",
            goal="<= 20 KB",
            value=f"{rss / 1000:.1f} KB" if rss is not None else "n/a",
            met=(rss <= 20_000) if rss is not None else None,
        )
    )
    out.append(_at_most("admin API p99", _num(r.get("admin_p99_seconds")), 0.050))
    out.append(_at_most("summary page p99", _num(r.get("list_summary_p99_seconds")), 0.250))
    fanout = _num(r.get("watch_fanout_lag_seconds_p99"))
    # Dropped: a stream the server ended, or cut (a slow reader's connection is aborted: an error here).
    dropped = int(_num(r.get("watch_disconnects")) or 0) + int(_num(r.get("watch_errors")) or 0)
    out.append(
        Target(
            name="watch fan-out",
            goal="all watchers within 1 s (p99), none dropped",
            value=f"{_fmt_s(fanout)} to {r.get('watchers') or 0} watchers, {dropped} dropped"
            if fanout is not None
            else "n/a",
            met=(fanout <= 1.0 and not dropped) if fanout is not None else None,
        )
    )
    out.append(_at_most("/metrics scrape (max)", _num(r.get("metrics_scrape_seconds_max")), 0.250))
    out.append(_at_most("restart: admin API up", _num(r.get("restart_admin_ready_seconds")), 3.0))
    spread_goal = 30.0 if n >= 50_000 else 10.0
    out.append(_at_most("restart: all ticked", _num(r.get("restart_all_ticked_seconds")), spread_goal))
    if "failover_seconds" in r:  # issue 10's aim, at 50,000 clusters
        out.append(_at_most("fail-over: orphans refreshed", _num(r.get("failover_seconds")), 30.0))
    rate = _num(r.get("import_clusters_per_second"))
    out.append(
        Target(
            name="import rate",
            goal=">= 300 clusters/s",
            value=f"{rate:,.0f}/s" if rate is not None else "n/a",
            met=(rate >= 300) if rate is not None else None,
        )
    )
    return out


def _at_most(name: str, value: float | None, bound: float) -> Target:
    return Target(
        name=name,
        goal=f"<= {_fmt_s(bound)}",
        value=_fmt_s(value),
        met=(value <= bound) if value is not None else None,
    )


def _fmt_s(x: Any) -> str:
    v = _num(x)
    if v is None:
        return "n/a"
    if v < 1:
        return f"{v * 1000:.1f} ms"
    return f"{v:.2f} s"


def _fmt(key: str, x: Any) -> str:
    v = _num(x)
    if v is None:
        return "n/a" if x is None else str(x)
    if key.endswith("_seconds") or "_seconds_" in key:
        return _fmt_s(v)
    if key.endswith("bytes") or "_bytes_" in key:
        return f"{v / 2**20:.1f} MiB" if v >= 2**20 else f"{v / 1000:.1f} KB"
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:.3f}"


def table(r: Mapping[str, Any], period: float) -> str:
    """The human summary: every figure, ratios to the baselines, then the targets."""
    lines = ["", f"{'figure':<44}{'value':>16}"]
    lines.append("-" * 60)
    for key in RESULT_KEYS:
        extra = ""
        if key == "cpu_seconds_per_1000_refreshes":
            cpu = _num(r.get(key))
            floor = _num(r.get("floor_cpu_seconds_per_1000_refreshes"))
            boto = _num(r.get("boto3_cpu_seconds_per_1000_refreshes"))
            parts = []
            net = _num(r.get("cpu_seconds_per_1000_refreshes_net"))
            if cpu is not None and floor:
                parts.append(f"{cpu / floor:.2f}x floor")
            if net is not None and floor:
                parts.append(f"net of harness {net / floor:.2f}x")
            if cpu is not None and boto:
                parts.append(f"{cpu / boto:.2f}x boto3")
            extra = "  (" + ", ".join(parts) + ")" if parts else ""
        if key == "tick_lag_seconds_max":
            extra = "  (bucket upper bound)"
        lines.append(f"{key:<44}{_fmt(key, r.get(key)):>16}{extra}")
    for key in OPTIONAL_KEYS:
        if r.get(key) is not None:
            lines.append(f"{key:<44}{_fmt(key, r.get(key)):>16}")
    lines.append("")
    lines.append(f"{'target':<24}{'goal':<40}{'this run':<52}{'met':>5}")
    lines.append("-" * 121)
    for t in targets(r, period):
        met = "n/a" if t.met is None else ("yes" if t.met else "NO")
        lines.append(f"{t.name:<24}{t.goal:<40}{t.value:<52}{met:>5}")
    return "\n".join(lines)
