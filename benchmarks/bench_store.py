"""Store benchmark: status write throughput with many clusters, flush batches, creates and listing, for
SQLite and PostgreSQL side by side.

    python benchmarks/bench_store.py [--clusters 10000] [--rounds 5] [--store both|sqlite|postgresql]
                                     [--pg-url URL] [--out FILE]

Every cluster is an asyncio task writing a realistic status (conditions, upstream spec, CA, ...) ``rounds``
times, as actors do on sync ticks. Prints a table (a column per backend) and writes the figures as JSON.
PostgreSQL: ``--pg-url`` (a role that may create databases; a fresh database is made for the run), else a
throwaway local server is started as the tests do (tests/_pg.py), with fsync on.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controlplane.api import (
    Cluster,
    ClusterSpec,
    ClusterStatus,
    Condition,
    EKSClusterConfigSpec,
    EKSStatus,
    Metadata,
    NodeGroup,
    Phase,
)
from controlplane.metrics import REGISTRY
from controlplane.store import Store, StoreSettings, open_store
from tests import _pg


def eks_config(i: int) -> EKSClusterConfigSpec:
    return EKSClusterConfigSpec(
        amazon_credential_secret="cattle-global-data:aws-prod",
        display_name=f"cluster-{i:05d}",
        region="us-east-1",
        kubernetes_version="1.31",
        tags={"team": "platform", "cost-center": str(i % 40)},
        secrets_encryption=False,
        public_access=True,
        private_access=False,
        public_access_sources=["0.0.0.0/0"],
        logging_types=["api", "audit"],
        subnets=[f"subnet-{i:08x}a", f"subnet-{i:08x}b", f"subnet-{i:08x}c"],
        security_groups=[f"sg-{i:08x}"],
        service_role=f"cluster-{i:05d}-eks-service-role",
        node_groups=[
            NodeGroup(
                nodegroup_name=f"ng-{n}",
                instance_type="m5.xlarge",
                disk_size=100,
                desired_size=3,
                min_size=1,
                max_size=10,
                labels={"pool": str(n)},
                version="1.31",
                subnets=[f"subnet-{i:08x}a"],
            )
            for n in range(2)
        ],
    )


CA = base64.b64encode(os.urandom(1050)).decode()


def realistic_status(i: int, round_: int) -> ClusterStatus:
    config = eks_config(i)
    now = f"2025-01-01T00:{round_ % 60:02d}:00Z"
    return ClusterStatus(
        phase=Phase.ACTIVE,
        conditions=[
            Condition(
                type=t, status="True", last_update_time=now, last_transition_time="2025-01-01T00:00:00Z"
            )
            for t in ("Provisioned", "Waiting", "Updated", "Ready", "Connected", "ServiceAccountToken")
        ],
        eks_status=EKSStatus(
            upstream_spec=config,
            virtual_network=f"vpc-{i:08x}",
            subnets=list(config.subnets or []),
            security_groups=list(config.security_groups or []),
            private_requires_tunnel=False,
            managed_launch_template_id=f"lt-{i:017x}",
            managed_launch_template_versions={"ng-0": "3", "ng-1": "3"},
        ),
        api_endpoint=f"https://{i:032X}.gr7.us-east-1.eks.amazonaws.com",
        ca_cert=CA,
        service_account_token_secret=f"cluster-{i:05d}-sa-token",
        applied_spec=config,
        network_fields_source="upstream",
        last_sync_time=now,
        observed_generation=1,
    )


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    value = REGISTRY.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


def histogram_quantile(name: str, q: float, before: dict[str, float]) -> float:
    """Upper bound of the bucket holding quantile ``q`` of the observations since ``before``."""
    buckets: list[tuple[float, float]] = []
    for metric in REGISTRY.collect():
        for s in metric.samples:
            if s.name == f"{name}_bucket":
                le = float(s.labels["le"])
                buckets.append((le, s.value - before.get(s.labels["le"], 0.0)))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0.0
    for le, count in buckets:
        if total and count >= q * total:
            return le
    return float("nan")


def bucket_snapshot(name: str) -> dict[str, float]:
    return {
        s.labels["le"]: s.value
        for metric in REGISTRY.collect()
        for s in metric.samples
        if s.name == f"{name}_bucket"
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(clusters: int, rounds: int, store: Store, size: Callable[[], Awaitable[int]]) -> dict[str, Any]:
    results: dict[str, Any] = {"clusters": clusters, "rounds": rounds}
    names = [f"cluster-{i:05d}" for i in range(clusters)]
    async with store:
        # --- creates (one at a time, as the API does) ---
        started = time.perf_counter()
        for i, name in enumerate(names):
            spec = ClusterSpec(eks_config=eks_config(i))
            await store.create_cluster(Cluster(metadata=Metadata(name=name), spec=spec))
        elapsed = time.perf_counter() - started
        results["create_per_second"] = clusters / elapsed

        # --- status writes: one task per cluster, each writing `rounds` times ---
        # One status per cluster, updated in place between writes, as an actor holds it.
        statuses = [realistic_status(i, 0) for i in range(clusters)]
        status_bytes = len(msgspec.json.encode(statuses[0]))
        batches0 = sample("controlplane_store_batch_size_count")
        rows0 = sample("controlplane_store_batch_size_sum")
        flush_sum0 = sample("controlplane_store_flush_seconds_sum")
        flush_buckets0 = bucket_snapshot("controlplane_store_flush_seconds")

        async def actor(i: int) -> None:
            status = statuses[i]
            for r in range(rounds):
                status.last_sync_time = f"2025-01-01T01:{r % 60:02d}:00Z"
                status.conditions[0].last_update_time = status.last_sync_time
                await store.write_status(names[i], status)
                await anyio.sleep(0)  # other actors run between two writes of one cluster

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i in range(clusters):
                tg.start_soon(actor, i)
        await store.flush()
        elapsed = time.perf_counter() - started
        batches = sample("controlplane_store_batch_size_count") - batches0
        rows = sample("controlplane_store_batch_size_sum") - rows0
        writes = clusters * rounds
        results["status_writes"] = writes
        results["status_json_bytes"] = status_bytes
        results["status_writes_per_second"] = writes / elapsed
        results["status_rows_committed"] = rows
        results["flush_batches"] = batches
        results["flush_batch_size_mean"] = rows / batches if batches else 0.0
        results["flush_seconds_mean"] = (
            (sample("controlplane_store_flush_seconds_sum") - flush_sum0) / batches if batches else 0.0
        )
        results["flush_seconds_p99_bucket"] = histogram_quantile(
            "controlplane_store_flush_seconds", 0.99, flush_buckets0
        )

        # --- the same without coalescing: every round committed before the next one starts ---
        batches0 = sample("controlplane_store_batch_size_count")
        started = time.perf_counter()
        for r in range(rounds):
            for i, name in enumerate(names):
                statuses[i].last_sync_time = f"2025-01-01T02:{r % 60:02d}:00Z"
                await store.write_status(name, statuses[i])
            await store.flush()
        elapsed = time.perf_counter() - started
        results["uncoalesced_rows_per_second"] = writes / elapsed
        results["uncoalesced_batches"] = sample("controlplane_store_batch_size_count") - batches0

        # --- durable writes: sequential (each an fsync) and concurrent (group commit) ---
        latencies: list[float] = []
        for i in range(200):
            t0 = time.perf_counter()
            await store.write_status(names[i], statuses[i], durable=True)
            latencies.append(time.perf_counter() - t0)
        results["durable_sequential_p50_ms"] = pct(latencies, 0.5) * 1e3
        results["durable_sequential_p99_ms"] = pct(latencies, 0.99) * 1e3

        concurrent = min(clusters, 1000)
        latencies = []
        batches0 = sample("controlplane_store_batch_size_count")

        async def durable(i: int) -> None:
            t0 = time.perf_counter()
            await store.write_status(names[i], statuses[i], durable=True)
            latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i in range(concurrent):
                tg.start_soon(durable, i)
        elapsed = time.perf_counter() - started
        results["durable_concurrent_writers"] = concurrent
        results["durable_concurrent_per_second"] = concurrent / elapsed
        results["durable_concurrent_batches"] = sample("controlplane_store_batch_size_count") - batches0
        results["durable_concurrent_p50_ms"] = pct(latencies, 0.5) * 1e3
        results["durable_concurrent_p99_ms"] = pct(latencies, 0.99) * 1e3

        # --- reads ---
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            listed = await store.list_clusters()
            times.append(time.perf_counter() - t0)
        assert len(listed) == clusters
        results["list_clusters_seconds"] = statistics.median(times)
        t0 = time.perf_counter()
        active = await store.list_clusters(phase=Phase.ACTIVE)
        results["list_clusters_phase_seconds"] = time.perf_counter() - t0
        assert len(active) == clusters
        t0 = time.perf_counter()
        await store.list_cluster_names()
        results["list_cluster_names_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(0, clusters, max(1, clusters // 1000)):
            await store.get_cluster(names[i])
        gets = len(range(0, clusters, max(1, clusters // 1000)))
        results["get_cluster_ms_mean"] = (time.perf_counter() - t0) / gets * 1e3
    results["database_bytes"] = await size()
    return results


ROWS = [
    ("clusters", "clusters", "{:.0f}"),
    ("status writes (clusters x rounds)", "status_writes", "{:.0f}"),
    ("status JSON size (bytes)", "status_json_bytes", "{:.0f}"),
    ("create_cluster / s", "create_per_second", "{:,.0f}"),
    ("status writes / s (incl. final flush)", "status_writes_per_second", "{:,.0f}"),
    ("status rows committed", "status_rows_committed", "{:,.0f}"),
    ("flush batches", "flush_batches", "{:,.0f}"),
    ("status rows committed / s, 1 flush per round", "uncoalesced_rows_per_second", "{:,.0f}"),
    ("  batches for those", "uncoalesced_batches", "{:,.0f}"),
    ("flush batch size, mean", "flush_batch_size_mean", "{:,.1f}"),
    ("flush latency, mean (ms)", "flush_seconds_mean", "ms"),
    ("flush latency, p99 bucket bound (ms)", "flush_seconds_p99_bucket", "ms"),
    ("durable write, sequential p50 (ms)", "durable_sequential_p50_ms", "{:.2f}"),
    ("durable write, sequential p99 (ms)", "durable_sequential_p99_ms", "{:.2f}"),
    ("durable writes, concurrent writers", "durable_concurrent_writers", "{:.0f}"),
    ("durable writes, concurrent / s", "durable_concurrent_per_second", "{:,.0f}"),
    ("durable writes, concurrent batches", "durable_concurrent_batches", "{:.0f}"),
    ("durable write, concurrent p50 (ms)", "durable_concurrent_p50_ms", "{:.2f}"),
    ("durable write, concurrent p99 (ms)", "durable_concurrent_p99_ms", "{:.2f}"),
    ("list_clusters (s)", "list_clusters_seconds", "{:.3f}"),
    ("list_clusters(phase=active) (s)", "list_clusters_phase_seconds", "{:.3f}"),
    ("list_cluster_names (s)", "list_cluster_names_seconds", "{:.4f}"),
    ("get_cluster mean (ms)", "get_cluster_ms_mean", "{:.3f}"),
    ("database size (MB)", "database_bytes", "MB"),
]


def table(results: dict[str, dict[str, Any]]) -> str:
    backends = list(results)
    lines = [f"{'metric':<46}" + "".join(f" {b:>14}" for b in backends), "-" * (46 + 15 * len(backends))]
    for label, key, fmt in ROWS:
        cells = []
        for backend in backends:
            value = results[backend][key]
            if fmt == "ms":
                cells.append(f"{value * 1e3:.2f}")
            elif fmt == "MB":
                cells.append(f"{value / 1e6:.1f}")
            else:
                cells.append(fmt.format(value))
        lines.append(f"{label:<46}" + "".join(f" {c:>14}" for c in cells))
    return "\n".join(lines)


@contextlib.contextmanager
def postgres_database(url: str | None) -> Iterator[str]:
    """A fresh database on ``url``'s server, or on a throwaway local one (fsync on: the figures must
    include the WAL flushes a real server does)."""
    with contextlib.ExitStack() as stack:
        server = url or stack.enter_context(_pg.local_server(durable=True))
        yield stack.enter_context(_pg.fresh_database(server))


async def _postgres_size(url: str) -> int:
    import asyncpg  # noqa: PLC0415

    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await conn.close()


def bench(backend: str, clusters: int, rounds: int, pg_url: str | None, db: Path | None) -> dict[str, Any]:
    settings = StoreSettings()
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "secret.key"
        key.write_bytes(base64.b64encode(os.urandom(32)))
        key.chmod(0o600)
        settings = msgspec.structs.replace(settings, secret_key_file=str(key))
        if backend == "sqlite":
            path = db or Path(tmp) / "bench.db"

            async def sqlite_size() -> int:
                return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))

            store = open_store(f"sqlite:///{path}", settings, data_dir=tmp)
            results = anyio.run(run, clusters, rounds, store, sqlite_size)
        else:
            with postgres_database(pg_url) as url:
                store = open_store(url, settings, data_dir=tmp)
                results = anyio.run(run, clusters, rounds, store, lambda: _postgres_size(url))
    results["settings"] = msgspec.to_builtins(settings)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clusters", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="status writes per cluster")
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", help="PostgreSQL server to run on (default: a throwaway local one)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_store.json"))
    parser.add_argument("--db", type=Path, help="SQLite database file (default: a fresh temporary file)")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    results = {b: bench(b, args.clusters, args.rounds, args.pg_url, args.db) for b in backends}
    print(table(results))
    report = {"python": sys.version.split()[0], "backends": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(msgspec.json.format(msgspec.json.encode(report)))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
