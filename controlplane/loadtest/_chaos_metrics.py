"""The chaos run's view of the control plane's metrics: a timeline whose counters survive restarts of the
process (a new process starts its counters at zero; the timeline keeps adding up), and a plot per
scenario."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

import msgspec

from . import _prom

PREFIXES = (
    "controlplane_sync_ticks_total",
    "controlplane_sync_tick_lag_seconds",
    "controlplane_actor_restarts_total",
    "controlplane_actor_gave_up_total",
    "controlplane_reconcile_errors_total",
    "controlplane_clusters",
    "controlplane_aws_requests_total",
)
COUNTERS = ("refreshed", "tick_errors", "restarts", "gave_up", "reconcile_errors", "aws_ok", "aws_failed")


class Point(msgspec.Struct, array_like=True):
    t: float
    """Seconds since the run's origin."""
    up: bool
    """Whether the control plane answered this scrape."""
    counters: dict[str, float]
    """Totals since the run began (across process restarts)."""
    lag: list[tuple[float, float]]
    """Cumulative tick-lag histogram since the run began."""
    clusters: float
    not_active: float


def read(text: str) -> tuple[dict[str, float], list[tuple[float, float]], float, float]:
    """(counters, lag buckets, clusters, clusters not active) of one scrape."""
    s = _prom.parse(text, PREFIXES)
    total = _prom.value(s, "controlplane_aws_requests_total")
    ok = _prom.value(s, "controlplane_aws_requests_total", outcome="ok")
    counters = {
        "refreshed": _prom.value(s, "controlplane_sync_ticks_total", outcome="refreshed"),
        "tick_errors": _prom.value(s, "controlplane_sync_ticks_total", outcome="error"),
        "restarts": _prom.value(s, "controlplane_actor_restarts_total", kind="cluster"),
        "gave_up": _prom.value(s, "controlplane_actor_gave_up_total", kind="cluster"),
        "reconcile_errors": _prom.value(s, "controlplane_reconcile_errors_total"),
        "aws_ok": ok,
        "aws_failed": total - ok,
    }
    clusters = _prom.value(s, "controlplane_clusters")
    active = _prom.value(s, "controlplane_clusters", phase="active")
    return counters, _prom.buckets(s, "controlplane_sync_tick_lag_seconds"), clusters, clusters - active


class Timeline:
    """Points appended by ``add``; a scrape from a new process (``pid`` changed) continues the totals."""

    def __init__(self) -> None:
        self.points: list[Point] = []
        self._pid = 0
        self._base: dict[str, float] = dict.fromkeys(COUNTERS, 0.0)
        self._lag_base: dict[float, float] = {}
        self._last_raw: dict[str, float] = dict.fromkeys(COUNTERS, 0.0)
        self._last_lag: dict[float, float] = {}

    def add(self, t: float, pid: int, text: str | None) -> Point:
        if text is None:
            prev = self.points[-1] if self.points else None
            point = Point(
                t, False, dict(prev.counters) if prev else dict(self._base), prev.lag if prev else [], 0, 0
            )
            self.points.append(point)
            return point
        raw, lag, clusters, not_active = read(text)
        if pid != self._pid:
            # A new process: what the old one counted last is kept as the base of the new one's counts.
            for k in COUNTERS:
                self._base[k] += self._last_raw[k]
            for bound, count in self._last_lag.items():
                self._lag_base[bound] = self._lag_base.get(bound, 0.0) + count
            self._pid = pid
        self._last_raw = raw
        self._last_lag = dict(lag)
        counters = {k: self._base[k] + raw[k] for k in COUNTERS}
        merged = {b: c + self._lag_base.get(b, 0.0) for b, c in lag}
        for b, c in self._lag_base.items():
            merged.setdefault(b, c)
        point = Point(t, True, counters, sorted(merged.items()), clusters, not_active)
        self.points.append(point)
        return point

    def window(self, begin: float, end: float) -> list[Point]:
        return [p for p in self.points if begin <= p.t <= end]


def deltas(points: Sequence[Point]) -> dict[str, float]:
    """Counter increases over ``points`` (first to last), and the worst tick lag seen (bucket bound)."""
    if len(points) < 2:
        return {**dict.fromkeys(COUNTERS, 0.0), "tick_lag_seconds_max": math.nan}
    first, last = points[0], points[-1]
    out = {k: last.counters[k] - first.counters[k] for k in COUNTERS}
    out["tick_lag_seconds_max"] = _prom.max_bound(_prom.delta_buckets(last.lag, first.lag))
    return out


def draw(points: Sequence[Point], path: Path, *, title: str, marks: Sequence[tuple[float, str]]) -> None:
    """Tick lag, refresh and error rates, and clusters not active, with the scenario's marks."""
    import matplotlib  # noqa: PLC0415 - heavy; only when drawing

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    t0 = points[0].t if points else 0.0
    ts: list[float] = []
    lag99: list[float] = []
    rates: dict[str, list[float]] = {
        "refreshed": [],
        "tick_errors": [],
        "reconcile_errors": [],
        "aws_failed": [],
    }
    not_active: list[float] = []
    for a, b in itertools.pairwise(points):
        dt = b.t - a.t
        if dt <= 0:
            continue
        ts.append(b.t - t0)
        q = _prom.quantile(0.99, _prom.delta_buckets(b.lag, a.lag))
        lag99.append(q * 1000 if not math.isnan(q) else math.nan)
        for k, series in rates.items():
            series.append(max(0.0, b.counters[k] - a.counters[k]) / dt)
        not_active.append(b.not_active if b.up else math.nan)
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(10, 8))
    try:
        axes[0].plot(ts, lag99, label="tick lag p99 (ms, per interval)", linewidth=1)
        axes[0].set_yscale("symlog", linthresh=1.0)
        axes[0].set_title(title)
        labels = {
            "refreshed": "refreshes/s",
            "tick_errors": "failed refreshes/s",
            "reconcile_errors": "failed passes/s",
            "aws_failed": "failed AWS calls/s",
        }
        for k, series in rates.items():
            axes[1].plot(ts, series, label=labels[k], linewidth=1)
        axes[2].plot(ts, not_active, label="clusters not active", linewidth=1)
        axes[2].set_xlabel("seconds since the scenario began")
        for ax in axes:
            for at, label in marks:
                ax.axvline(at - t0, color="grey", linestyle=":", linewidth=0.8)
                if ax is axes[0]:
                    ax.annotate(label, (at - t0, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                                rotation=90, va="top", ha="right")  # fmt: skip
            ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
