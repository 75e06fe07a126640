"""Every Prometheus metric of the control plane, defined in one place.

Names follow the Prometheus conventions: ``controlplane_`` prefix, base units (seconds, bytes),
``_total`` for counters. No label takes unbounded values: labels are phases, AWS services and
operations, outcomes, verdicts and actor kinds, never cluster names or request IDs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

# ``*_created`` series double the exposition of every counter and histogram for a timestamp that
# Prometheus does not use; rendering /metrics is pure Python work on a busy process.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY = CollectorRegistry(auto_describe=True)
"""The registry served at ``/metrics``. A private registry keeps tests and embedders isolated."""

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

# --- actors -------------------------------------------------------------------------------------
ACTOR_MAILBOX_DEPTH = Gauge(
    "controlplane_actor_mailbox_depth",
    "Messages queued in actor mailboxes, summed per actor kind.",
    ["kind"],
    registry=REGISTRY,
)
ACTOR_MESSAGES = Counter(
    "controlplane_actor_messages_total",
    "Messages handled by actors, by actor kind, message type and outcome (ok, error).",
    ["kind", "message", "outcome"],
    registry=REGISTRY,
)
ACTOR_MESSAGES_COALESCED = Counter(
    "controlplane_actor_messages_coalesced_total",
    "Messages absorbed by an identical message already queued.",
    ["kind", "message"],
    registry=REGISTRY,
)
ACTOR_HANDLER_SECONDS = Histogram(
    "controlplane_actor_handler_seconds",
    "Time an actor spent handling one message.",
    ["kind", "message"],
    buckets=_FAST,
    registry=REGISTRY,
)
ACTOR_RESTARTS = Counter(
    "controlplane_actor_restarts_total",
    "Actor restarts by the supervisor after a handler raised.",
    ["kind"],
    registry=REGISTRY,
)
ACTORS_GAVE_UP = Counter(
    "controlplane_actor_gave_up_total",
    "Actors stopped for good by their supervisor after too many restarts (the cluster waits for a restart "
    "of the process or of its shard).",
    ["kind"],
    registry=REGISTRY,
)
ACTORS_RUNNING = Gauge(
    "controlplane_actors_running",
    "Actors currently running, per kind.",
    ["kind"],
    registry=REGISTRY,
)

# --- clusters -----------------------------------------------------------------------------------
CLUSTERS_BY_PHASE = Gauge(
    "controlplane_clusters",
    "Managed clusters by phase.",
    ["phase"],
    registry=REGISTRY,
)
RECONCILE_SECONDS = Histogram(
    "controlplane_reconcile_seconds",
    "Duration of one reconcile pass of a cluster, by the phase it started in.",
    ["phase"],
    buckets=_FAST,
    registry=REGISTRY,
)
RECONCILE_ERRORS = Counter(
    "controlplane_reconcile_errors_total",
    "Reconcile passes that ended in an error, by phase.",
    ["phase"],
    registry=REGISTRY,
)
SYNC_CONFLICTS = Counter(
    "controlplane_sync_conflicts_total",
    "Fields changed both locally and upstream since the last applied spec (local value kept).",
    registry=REGISTRY,
)
SYNC_ADOPTED = Counter(
    "controlplane_sync_adopted_fields_total",
    "Upstream-only field changes adopted into a cluster spec.",
    registry=REGISTRY,
)

# --- scheduler ----------------------------------------------------------------------------------
TICK_LAG_SECONDS = Histogram(
    "controlplane_sync_tick_lag_seconds",
    "Delay between a tick's planned time and the moment its refresh started.",
    buckets=(*_FAST, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)
SYNC_REFRESHES_WAITING = Gauge(
    "controlplane_sync_refreshes_waiting",
    "Sync ticks waiting for one of the process's refresh slots ([sync] max_concurrent_refreshes).",
    registry=REGISTRY,
)
SYNC_ROUND_SECONDS = Histogram(
    "controlplane_sync_round_seconds",
    "Time from a cron firing until every cluster of that round has been refreshed.",
    buckets=_SLOW,
    registry=REGISTRY,
)
SYNC_ROUND_CLUSTERS = Gauge(
    "controlplane_sync_round_clusters",
    "Clusters included in the latest sync round.",
    registry=REGISTRY,
)
SYNC_ROUNDS_OVERRUN = Counter(
    "controlplane_sync_rounds_overrun_total",
    "Sync rounds still refreshing when the next round started (the refresh period is too short).",
    registry=REGISTRY,
)
SYNC_TICKS = Counter(
    "controlplane_sync_ticks_total",
    "Sync ticks by outcome: refreshed, error, skipped_busy (not active), skipped_fresh (settled and "
    "refreshed within the period, in the first round after a start), skipped_overrun, undeliverable.",
    ["outcome"],
    registry=REGISTRY,
)
SYNC_REFRESH_SECONDS = Histogram(
    "controlplane_sync_refresh_seconds",
    "Time to rebuild one cluster's upstream spec from AWS.",
    buckets=_FAST,
    registry=REGISTRY,
)

# --- AWS ----------------------------------------------------------------------------------------
AWS_REQUESTS = Counter(
    "controlplane_aws_requests_total",
    "AWS API calls by service, operation and outcome (ok, throttled, not_found, in_use, "
    "access_denied, client_error, server_error, connection_error).",
    ["service", "operation", "outcome"],
    registry=REGISTRY,
)
AWS_REQUEST_SECONDS = Histogram(
    "controlplane_aws_request_seconds",
    "Latency of AWS API calls including botocore retries.",
    ["service", "operation"],
    buckets=_FAST,
    registry=REGISTRY,
)
AWS_THROTTLES = Counter(
    "controlplane_aws_throttles_total",
    "Throttling answers received from AWS (each attempt, retried or not).",
    ["service"],
    registry=REGISTRY,
)
AWS_RETRIES = Counter(
    "controlplane_aws_retries_total",
    "Attempts retried by botocore's retry handler.",
    ["service"],
    registry=REGISTRY,
)
AWS_IN_FLIGHT = Gauge(
    "controlplane_aws_requests_in_flight",
    "AWS API calls currently in flight.",
    ["service"],
    registry=REGISTRY,
)
AWS_RATE_LIMIT_WAIT_SECONDS = Histogram(
    "controlplane_aws_rate_limit_wait_seconds",
    "Time a call waited for the client-side rate limiter and in-flight cap.",
    ["service"],
    buckets=_FAST,
    registry=REGISTRY,
)
AWS_CLIENTS = Gauge(
    "controlplane_aws_clients",
    "AWS clients open in the client cache.",
    registry=REGISTRY,
)

# --- tokens, probes, downstream ------------------------------------------------------------------
TOKEN_MINTS = Counter(
    "controlplane_token_mints_total",
    "EKS bearer tokens minted (presigned STS GetCallerIdentity).",
    registry=REGISTRY,
)
TOKEN_CACHE_HITS = Counter(
    "controlplane_token_cache_hits_total",
    "EKS bearer token requests served from the cache.",
    registry=REGISTRY,
)
PROBE_VERDICTS = Counter(
    "controlplane_probe_verdicts_total",
    "Endpoint probe verdicts (direct, tunnel, unknown).",
    ["verdict"],
    registry=REGISTRY,
)
PROBE_SECONDS = Histogram(
    "controlplane_probe_seconds",
    "Duration of one endpoint probe (DNS, connect, TLS).",
    buckets=_FAST,
    registry=REGISTRY,
)
DOWNSTREAM_REQUESTS = Counter(
    "controlplane_downstream_requests_total",
    "Calls to downstream Kubernetes API servers by outcome.",
    ["outcome"],
    registry=REGISTRY,
)

# --- store ----------------------------------------------------------------------------------------
STORE_FLUSH_SECONDS = Histogram(
    "controlplane_store_flush_seconds",
    "Time to write one batch of coalesced status writes (one transaction).",
    buckets=_FAST,
    registry=REGISTRY,
)
STORE_BATCH_SIZE = Histogram(
    "controlplane_store_batch_size",
    "Status writes per flushed batch.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000),
    registry=REGISTRY,
)
STORE_PENDING_WRITES = Gauge(
    "controlplane_store_pending_status_writes",
    "Status writes coalesced and waiting for the next flush.",
    registry=REGISTRY,
)
STORE_OPERATION_SECONDS = Histogram(
    "controlplane_store_operation_seconds",
    "Latency of store operations other than batched status flushes.",
    ["operation"],
    buckets=_FAST,
    registry=REGISTRY,
)

# --- admin API ------------------------------------------------------------------------------------
ADMIN_REQUESTS = Counter(
    "controlplane_admin_requests_total",
    "Admin API requests by route template, method and status code.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
ADMIN_WATCHES = Gauge(
    "controlplane_admin_watches",
    "Cluster watches currently streaming from this replica's admin API.",
    registry=REGISTRY,
)
ADMIN_WATCH_ENDS = Counter(
    "controlplane_admin_watch_ends_total",
    "Cluster watches ended, by reason (client, timeout, slow_reader, expired, shutdown).",
    ["reason"],
    registry=REGISTRY,
)
ADMIN_WATCH_EVENTS = Counter(
    "controlplane_admin_watch_events_total",
    "Watch events sent to clients (every watcher counts), bookmarks included.",
    registry=REGISTRY,
)
ADMIN_REQUEST_SECONDS = Histogram(
    "controlplane_admin_request_seconds",
    "Admin API request latency by route template.",
    ["route"],
    buckets=_FAST,
    registry=REGISTRY,
)

# --- replicas -----------------------------------------------------------------------------------
SHARDS_OWNED = Gauge(
    "controlplane_shards_owned",
    "Shards whose lease this replica holds (and whose actors it runs).",
    registry=REGISTRY,
)
LEASE_RENEWALS = Counter(
    "controlplane_lease_renewals_total",
    "Shard lease renewals by outcome: renewed, lost (taken or released elsewhere), deadline_passed "
    "(could not renew within renew_deadline; the shard's actors were stopped).",
    ["outcome"],
    registry=REGISTRY,
)
SHARD_HANDOFFS = Counter(
    "controlplane_shard_handoffs_total",
    "Shards this replica gave up, by reason: rebalance (graceful hand-over), lost, deadline, leaving.",
    ["reason"],
    registry=REGISTRY,
)
REPLICA_FAILOVER_SECONDS = Histogram(
    "controlplane_replica_failover_seconds",
    "Shards taken over from a replica that stopped renewing: seconds from the lease's expiry until this "
    "replica's actors for the shard ran.",
    buckets=(0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0),
    registry=REGISTRY,
)
FEED_LAG_SECONDS = Histogram(
    "controlplane_feed_lag_seconds",
    "Seconds from a change's commit (any replica) until this replica routed it to its actors.",
    buckets=_FAST,
    registry=REGISTRY,
)
FEED_RESYNCS = Counter(
    "controlplane_feed_resyncs_total",
    "Times this replica fell behind the change feed's retention and re-listed its shards.",
    registry=REGISTRY,
)

# --- the event loop -----------------------------------------------------------------------------
LOOP_LAG_SECONDS = Histogram(
    "controlplane_event_loop_lag_seconds",
    "How much later than due the event loop ran a 100 ms timer: a stall delays every actor at once.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
EVENT_LOOP_TASKS = Gauge(
    "controlplane_event_loop_tasks",
    "asyncio tasks alive in the process (counted every 10 s): a number that only grows is a task leak.",
    registry=REGISTRY,
)
HEAP_FREEZES = Counter(
    "controlplane_heap_freezes_total",
    "Times the heap was frozen after the fleet grew by a quarter (full collections then skip it).",
    registry=REGISTRY,
)
EVENT_LOOP_STALLS = Counter(
    "controlplane_event_loop_stalls_total",
    "Stalls of the event loop longer than 1 s, each logged once with the loop thread's stack.",
    registry=REGISTRY,
)
LOOP_LAG_MAX_SECONDS = Gauge(
    "controlplane_event_loop_lag_max_seconds",
    "The worst event-loop stall seen since the process started.",
    registry=REGISTRY,
)
GC_PAUSE_SECONDS = Histogram(
    "controlplane_gc_pause_seconds",
    "Time spent in one pass of Python's cyclic garbage collector, by generation.",
    ["generation"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)


# --- CPU by thread ------------------------------------------------------------------------------
class ThreadCpuCollector(Collector):
    """``controlplane_thread_cpu_seconds_total{thread}``: CPU (user + system) of each live thread of the
    process, by thread name, read from ``/proc/self/task`` at scrape time.

    The process runs the actors on the main thread, the admin API on ``admin-api`` and each store
    connection on a thread named after its owner (``MainThread/store-writer``, ``admin-api/store-reader-1``),
    so the CPU of serving readers is told apart from the CPU of reconciling the fleet. The thread names are
    the process's own (a handful), never request data. Nothing is reported where ``/proc`` is missing.
    """

    def __init__(self, proc: Path = Path("/proc/self/task")) -> None:
        self._proc = proc
        self._tick = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "controlplane_thread_cpu_seconds",
            "CPU seconds (user + system) used by each live thread of the process, by thread name.",
            labels=["thread"],
        )
        seconds: dict[str, float] = {}
        for thread in threading.enumerate():
            ticks = _thread_ticks(self._proc / str(thread.native_id))
            if ticks is not None:
                seconds[thread.name] = seconds.get(thread.name, 0.0) + ticks / self._tick
        for name, value in sorted(seconds.items()):
            family.add_metric([name], value)
        yield family


def _thread_ticks(task: Path) -> int | None:
    """utime + stime of one task, in clock ticks (fields 14 and 15 of ``stat``; the command name before
    them is in parentheses and may hold spaces, so the fields are counted after its closing one)."""
    try:
        stat = (task / "stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


REGISTRY.register(ThreadCpuCollector())
