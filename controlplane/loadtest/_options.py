"""Command-line options of ``controlplane load`` (one frozen struct, validated once)."""

from __future__ import annotations

import argparse
import math

import msgspec


class LoadOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What one load test run does. Durations in seconds."""

    clusters: int = 1000
    """Existing clusters created in the simulator and imported through the admin API."""
    nodegroups: int = 2
    """Node groups per existing cluster."""
    rounds: int = 3
    """Sync rounds measured after every cluster is active (a warm-up round comes first)."""
    period: float = 60.0
    """``eks-refresh-cron`` period: the setting becomes ``@every <period>s``."""
    out: str = "load-out"
    """Directory for result.json, tick-lag.png and the process logs."""
    latency_ms: float = 0.0
    """Median added latency of AWS calls (lognormal, sigma ``latency_sigma``); 0 disables it."""
    latency_sigma: float = 0.5
    throttle_percent: float = 0.0
    """Share of AWS calls answered with a throttling error."""
    churn_percent: float = 0.0
    """Share of the fleet created, updated and deleted (a third each) during every measured round."""
    time_scale: float = 1.0
    """Lifecycle speed of the simulator and wait intervals of the control plane (0.01 for tests)."""
    initial_spread: float = 5.0
    """Seconds over which a (re)started control plane spreads its initial round."""
    admin_requests: int = 2000
    """Concurrent ``GET /v1/clusters/{name}`` requests timed during the rounds."""
    admin_concurrency: int = 8
    list_requests: int = 200
    """``GET /v1/clusters?view=summary&limit=500`` requests timed during the rounds (0: none)."""
    watchers: int = 100
    """Watches of every cluster held open during the rounds (fan-out figures; 0: none)."""
    baseline_refreshes: int = 5000
    """Refreshes each baseline performs (capped to the clusters available, cycled when larger)."""
    baseline_concurrency: int = 32
    sample_interval: float = 1.0
    """Seconds between samples of /metrics, /_sim/calls and the control plane's CPU and RSS."""
    import_concurrency: int = 16
    endpoint_access: str = "public"
    """``public``: each import generates a service-account token on the simulated Kubernetes API;
    ``private``: private-only endpoints that do not resolve (tunnel verdict, no token)."""
    eks_rate: float = 0.0
    """Client-side EKS rate limit of the control plane in calls/s; 0 means no bucket (in-flight cap only)."""
    skip_baselines: bool = False
    skip_restart: bool = False
    profile: bool = False
    """Run the first control plane under cProfile: DIR/controlplane.prof and DIR/profile.txt."""
    log_level: str = "info"
    timeout: float = 0.0
    """Overall deadline of the run in seconds; 0 derives one from the sizes."""
    replicas: int = 1
    """Control-plane replicas sharing the fleet (separate processes on one store)."""
    store: str = "sqlite"
    """``sqlite``: the file under DIR/data; ``postgresql``: a throwaway PostgreSQL server the run starts
    (durable defaults) and stops, with its writes/s and CPU share in the report."""
    failover: bool = False
    """After the rounds, SIGKILL one replica and measure until a survivor refreshed each of its clusters."""
    soak: float = 0.0
    """Minutes of soak instead of measured rounds (0: no soak): churn and throttling for that long while
    RSS, file descriptors, tasks, mailboxes and the store are watched (``_soak``)."""

    def __post_init__(self) -> None:
        if self.clusters < 1 or self.nodegroups < 0 or self.rounds < 1:
            raise ValueError("--clusters and --rounds must be >= 1, --nodegroups >= 0")
        if not self.period > 0 or not self.time_scale > 0 or not self.sample_interval > 0:
            raise ValueError("--period, --time-scale and --sample-interval must be > 0")
        if not 0 <= self.throttle_percent <= 100 or not 0 <= self.churn_percent <= 100:
            raise ValueError("--throttle-percent and --churn-percent must be within 0..100")
        if self.latency_ms < 0 or self.initial_spread < 0 or self.eks_rate < 0:
            raise ValueError("--latency-ms, --initial-spread and --eks-rate must be >= 0")
        if self.endpoint_access not in ("public", "private"):
            raise ValueError("--endpoint-access must be public or private")
        if self.list_requests < 0 or self.watchers < 0:
            raise ValueError("--list-requests and --watchers must be >= 0")
        if min(self.admin_concurrency, self.baseline_concurrency, self.import_concurrency) < 1:
            raise ValueError("concurrency options must be >= 1")
        if self.soak < 0 or (self.soak and (self.replicas > 1 or self.failover)):
            raise ValueError("--soak must be >= 0 minutes, and runs one replica")
        if self.store not in ("sqlite", "postgresql"):
            raise ValueError("--store must be sqlite or postgresql")
        if self.replicas < 1 or (self.failover and self.replicas < 2):
            raise ValueError("--replicas must be >= 1, and --failover needs at least 2")

    @property
    def cron(self) -> str:
        return f"@every {self.period:g}s"

    @property
    def deadline(self) -> float:
        """Seconds after which the run gives up (every phase is bounded by it)."""
        if self.timeout > 0:
            return self.timeout
        # Import at ~10 clusters/s (public endpoints: a service-account token each), the first firing,
        # the rounds with slack, both baselines at a pessimistic 20 ms CPU per refresh, the restart.
        imported = self.clusters / 10.0
        baselines = 0.0 if self.skip_baselines else 2 * self.baseline_refreshes * 0.02 + 20
        restart = 0.0 if self.skip_restart else 60.0 + self.clusters / 20.0
        soak = self.soak * 60.0 * 1.1 + self.period * 2 if self.soak else 0.0
        return 60.0 + imported + (self.rounds + 2) * self.period * 1.5 + baselines + restart + soak

    def churn_per_round(self) -> tuple[int, int, int]:
        """(created, updated, deleted) clusters per measured round."""
        total = math.floor(self.clusters * self.churn_percent / 100.0)
        third = total // 3
        return third + total % 3, third, third


def build_parser() -> argparse.ArgumentParser:
    d = LoadOptions()
    p = argparse.ArgumentParser(
        prog="controlplane load",
        description="Load-test the control plane against the simulator, with bare aiobotocore and boto3 "
        "baselines refreshing the same clusters. Writes DIR/result.json and DIR/tick-lag.png.",
    )
    p.add_argument("--clusters", type=int, default=d.clusters, help="existing clusters (%(default)s)")
    p.add_argument("--nodegroups", type=int, default=d.nodegroups, help="node groups each (%(default)s)")
    p.add_argument("--rounds", type=int, default=d.rounds, help="measured sync rounds (%(default)s)")
    p.add_argument("--period", type=float, default=d.period, help="refresh period, seconds (%(default)s)")
    p.add_argument("--out", default=d.out, help="output directory (%(default)s)")
    p.add_argument("--latency-ms", type=float, default=d.latency_ms, help="median AWS latency (lognormal)")
    p.add_argument("--latency-sigma", type=float, default=d.latency_sigma, help=argparse.SUPPRESS)
    p.add_argument("--throttle-percent", type=float, default=d.throttle_percent, help="AWS calls throttled")
    p.add_argument(
        "--churn-percent", type=float, default=d.churn_percent, help="fleet created/updated/deleted per round"
    )
    p.add_argument("--time-scale", type=float, default=d.time_scale, help="lifecycle speed (0.01 = fast)")
    p.add_argument(
        "--initial-spread", type=float, default=d.initial_spread, help="initial round spread after a start"
    )
    p.add_argument("--admin-requests", type=int, default=d.admin_requests, help="timed admin GETs")
    p.add_argument("--admin-concurrency", type=int, default=d.admin_concurrency, help=argparse.SUPPRESS)
    p.add_argument(
        "--list-requests", type=int, default=d.list_requests, help="timed summary pages of 500 (%(default)s)"
    )
    p.add_argument("--watchers", type=int, default=d.watchers, help="watches held open (%(default)s)")
    p.add_argument(
        "--baseline-refreshes", type=int, default=d.baseline_refreshes, help="refreshes per baseline"
    )
    p.add_argument("--baseline-concurrency", type=int, default=d.baseline_concurrency, help=argparse.SUPPRESS)
    p.add_argument("--sample-interval", type=float, default=d.sample_interval, help="seconds per sample")
    p.add_argument("--import-concurrency", type=int, default=d.import_concurrency, help=argparse.SUPPRESS)
    p.add_argument(
        "--endpoint-access",
        choices=["public", "private"],
        default=d.endpoint_access,
        help="public: a service-account token per import; private: tunnel verdict, no token",
    )
    p.add_argument("--eks-rate", type=float, default=d.eks_rate, help="client-side EKS calls/s (0: none)")
    p.add_argument("--skip-baselines", action="store_true", help="do not run the baselines")
    p.add_argument("--skip-restart", action="store_true", help="do not measure a restart")
    p.add_argument("--profile", action="store_true", help="cProfile the control plane (DIR/profile.txt)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=d.log_level)
    p.add_argument("--timeout", type=float, default=d.timeout, help="overall deadline, seconds (0: derived)")
    p.add_argument("--replicas", type=int, default=d.replicas, help="control-plane replicas (%(default)s)")
    p.add_argument(
        "--store",
        choices=["sqlite", "postgresql"],
        default=d.store,
        help="sqlite (a file under DIR/data) or postgresql (a throwaway server the run starts)",
    )
    p.add_argument(
        "--failover", action="store_true", help="SIGKILL a replica after the rounds; time the take-over"
    )
    p.add_argument(
        "--soak",
        type=float,
        default=d.soak,
        metavar="MINUTES",
        help="soak for MINUTES instead of measured rounds (defaults then: --clusters 10000, "
        "--churn-percent 5, --throttle-percent 5, no baselines, no restart); reports the RSS slope, "
        "fds, tasks, mailboxes and store growth",
    )
    p.add_argument(
        "--chaos", action="store_true", help="run the chaos scenarios instead (`controlplane chaos --help`)"
    )
    return p


SOAK_DEFAULTS = {"clusters": 10_000, "churn_percent": 5.0, "throttle_percent": 5.0}
"""What ``--soak`` runs unless the command line says otherwise."""


def _given(argv: list[str], dest: str) -> bool:
    flag = "--" + dest.replace("_", "-")
    return any(a == flag or a.startswith(flag + "=") for a in argv)


def parse_args(argv: list[str]) -> LoadOptions:
    """Options from the command line; argparse exits with status 2 on a bad flag or value."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    values = vars(ns)
    values.pop("chaos", None)  # handled by ``main`` before parsing
    if values["soak"]:
        values |= {k: v for k, v in SOAK_DEFAULTS.items() if not _given(argv, k)}
        values |= {"skip_baselines": True, "skip_restart": True}
    try:
        return LoadOptions(**values)
    except ValueError as exc:
        parser.error(str(exc))
