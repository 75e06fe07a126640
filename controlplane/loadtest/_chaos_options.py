"""Command-line options of ``controlplane chaos`` (one frozen struct, validated once)."""

from __future__ import annotations

import argparse

import msgspec

SCENARIOS = (
    "throttling",
    "server-errors",
    "latency",
    "simulator-restart",
    "controlplane-kill",
    "store-unavailable",
    "disk-full",
    "credentials-revoked",
)
"""The fixed matrix, in the order it runs."""


class ChaosOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What one chaos run does. Durations in seconds."""

    clusters: int = 2000
    """Existing clusters created in the simulator and imported (one in ten with a second credential)."""
    nodegroups: int = 1
    """Node groups per imported cluster."""
    churn_percent: float = 5.0
    """Share of the fleet created, updated and deleted (about a third each) during every scenario."""
    period: float = 30.0
    """``eks-refresh-cron`` period (a round); the throttling and error scenarios last one round."""
    out: str = "chaos-out"
    """Directory for chaos.json, a plot per scenario and the process logs."""
    time_scale: float = 0.1
    """Lifecycle speed of the simulator and the control plane's waits (1: the simulator's own pace)."""
    window_scale: float = 1.0
    """Multiplier of the fault windows the issue fixes (60 s of latency, 30 s of store outage...)."""
    scenarios: tuple[str, ...] = SCENARIOS
    bound: float = 0.0
    """Seconds the fleet may take to settle after a fault ends; 0 derives it (``derived_bound``)."""
    tmpfs_size: str = "1g"
    """Size of the tmpfs mounted under the data directory for the disk-full scenario."""
    sample_interval: float = 1.0
    poll_interval: float = 2.0
    """Seconds between two looks at the whole fleet (API list and simulator state) while it settles."""
    import_concurrency: int = 16
    log_level: str = "info"
    timeout: float = 0.0
    """Overall deadline in seconds; 0 derives one from the sizes."""

    def __post_init__(self) -> None:
        if self.clusters < 10 or self.nodegroups < 1:
            raise ValueError("--clusters must be >= 10 and --nodegroups >= 1")
        if not self.period > 0 or not self.time_scale > 0 or not self.window_scale > 0:
            raise ValueError("--period, --time-scale and --window-scale must be > 0")
        if not 0 < self.churn_percent <= 50:
            raise ValueError("--churn-percent must be within (0, 50]")
        unknown = sorted(set(self.scenarios) - set(SCENARIOS))
        if unknown or not self.scenarios:
            raise ValueError(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
        if self.bound < 0 or self.timeout < 0 or not self.poll_interval > 0 or not self.sample_interval > 0:
            raise ValueError("--bound and --timeout must be >= 0, intervals > 0")

    def window(self, seconds: float) -> float:
        return seconds * self.window_scale

    @property
    def churn_count(self) -> int:
        return max(3, round(self.clusters * self.churn_percent / 100.0))

    @property
    def derived_bound(self) -> float:
        """Two refresh periods (every cluster is refreshed, and retried, at least once more) plus a minute of
        lifecycle at the simulator's pace (creating, deleting, stacks, waits), scaled like the lifecycles."""
        return self.bound or 2 * self.period + 60.0 * self.time_scale / 0.1

    @property
    def deadline(self) -> float:
        if self.timeout > 0:
            return self.timeout
        per_scenario = 3 * self.period + self.window(90) + 2 * self.derived_bound
        return 300.0 + self.clusters / 5.0 + len(self.scenarios) * per_scenario


def build_parser() -> argparse.ArgumentParser:
    d = ChaosOptions()
    p = argparse.ArgumentParser(
        prog="controlplane chaos",
        description="Run a fleet through a fixed matrix of faults (throttling, 5xx and resets, latency, "
        "simulator restart, SIGKILL, store outage, disk full, revoked credentials) and judge each on "
        "duplicates, leaks, lost changes and time to converge. Writes DIR/chaos.json and DIR/chaos-*.png.",
    )
    p.add_argument("--clusters", type=int, default=d.clusters, help="imported clusters (%(default)s)")
    p.add_argument("--nodegroups", type=int, default=d.nodegroups, help="node groups each (%(default)s)")
    p.add_argument("--churn-percent", type=float, default=d.churn_percent, help="fleet churned per scenario")
    p.add_argument("--period", type=float, default=d.period, help="refresh period, seconds (%(default)s)")
    p.add_argument("--out", default=d.out, help="output directory (%(default)s)")
    p.add_argument("--time-scale", type=float, default=d.time_scale, help="lifecycle speed (%(default)s)")
    p.add_argument(
        "--window-scale", type=float, default=d.window_scale, help="multiplier of the fault windows (1)"
    )
    p.add_argument(
        "--scenario",
        dest="scenarios",
        action="append",
        choices=SCENARIOS,
        help="run only this scenario (repeatable; default: all, in order)",
    )
    p.add_argument("--bound", type=float, default=d.bound, help="settle bound in seconds (0: derived)")
    p.add_argument("--tmpfs-size", default=d.tmpfs_size, help="tmpfs size for disk-full (%(default)s)")
    p.add_argument("--sample-interval", type=float, default=d.sample_interval, help=argparse.SUPPRESS)
    p.add_argument("--poll-interval", type=float, default=d.poll_interval, help=argparse.SUPPRESS)
    p.add_argument("--import-concurrency", type=int, default=d.import_concurrency, help=argparse.SUPPRESS)
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=d.log_level)
    p.add_argument("--timeout", type=float, default=d.timeout, help="overall deadline, seconds (0: derived)")
    return p


def parse_args(argv: list[str]) -> ChaosOptions:
    parser = build_parser()
    values = vars(parser.parse_args(argv))
    chosen = values.pop("scenarios") or []
    # The matrix always runs in its own order, whatever order --scenario named them in.
    values["scenarios"] = tuple(s for s in SCENARIOS if s in chosen) if chosen else SCENARIOS
    try:
        return ChaosOptions(**values)
    except ValueError as exc:
        parser.error(str(exc))
