"""SQLite readers benchmark: how long a point read (an admin GET) waits while big list pages are read.

    python benchmarks/bench_readers.py [--clusters 5000] [--page 5000] [--seconds 15] [--out FILE]

A fresh SQLite store gets ``clusters`` realistic clusters with their statuses. Then, for each
``[store] sqlite_readers`` value (1 and 2), one task reads summary pages (``list_digests``) of ``page``
back to back while another reads one cluster (``get_cluster``) every 5 ms, for ``seconds``. Prints the
point reads' latency and the pages read per second for each value, and writes them as JSON. Nothing else
runs in the process: this isolates the queueing behind a scan from the GIL contention of a busy fleet.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_store import eks_config, pct, realistic_status
from controlplane.api import Cluster, ClusterSpec, Metadata
from controlplane.store import ClusterQuery, SQLiteStore, StoreSettings

POINT_READ_GAP = 0.005


async def fill(path: Path, settings: StoreSettings, clusters: int) -> None:
    async with SQLiteStore(path, settings) as store:
        for i in range(clusters):
            name = f"cluster-{i:05d}"
            await store.create_cluster(Cluster(metadata=Metadata(name=name), spec=ClusterSpec(eks_config(i))))
            await store.write_status(name, realistic_status(i, 0))
        await store.flush()


async def measure(
    path: Path, settings: StoreSettings, clusters: int, page: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    pages = 0
    rng = random.Random(7)
    async with SQLiteStore(path, settings) as store:

        async def scanner() -> None:
            nonlocal pages
            while True:
                await store.list_digests(ClusterQuery(), limit=page)
                pages += 1

        async def point_reads() -> None:
            while True:
                started = time.perf_counter()
                await store.get_cluster(f"cluster-{rng.randrange(clusters):05d}")
                latencies.append(time.perf_counter() - started)
                await anyio.sleep(POINT_READ_GAP)

        async with anyio.create_task_group() as tg:
            tg.start_soon(scanner)
            tg.start_soon(point_reads)
            await anyio.sleep(seconds)
            tg.cancel_scope.cancel()
    return {
        "sqlite_readers": settings.sqlite_readers,
        "point_reads": len(latencies),
        "point_read_p50_ms": statistics.median(latencies) * 1000,
        "point_read_p99_ms": pct(latencies, 0.99) * 1000,
        "point_read_max_ms": max(latencies) * 1000,
        "pages_per_second": pages / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clusters", type=int, default=5000)
    parser.add_argument(
        "--page", type=int, default=5000, help="clusters per list page (the API allows 5,000)"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="per sqlite_readers value")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_readers.json"))
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "secret.key"
        key.write_bytes(base64.b64encode(os.urandom(32)))
        key.chmod(0o600)
        path = Path(tmp) / "bench.db"
        base = StoreSettings(secret_key_file=str(key))
        anyio.run(fill, path, base, args.clusters)
        for readers in (1, 2):
            settings = msgspec.structs.replace(base, sqlite_readers=readers)
            results.append(anyio.run(measure, path, settings, args.clusters, args.page, args.seconds))
    print(f"{args.clusters:,} clusters, pages of {args.page:,} read back to back, a point read every 5 ms")
    print(
        f"{'sqlite_readers':>15} {'point reads':>12} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'pages/s':>8}"
    )
    for r in results:
        print(
            f"{r['sqlite_readers']:>15} {r['point_reads']:>12,} {r['point_read_p50_ms']:>8.2f} "
            f"{r['point_read_p99_ms']:>8.2f} {r['point_read_max_ms']:>8.2f} {r['pages_per_second']:>8.2f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"clusters": args.clusters, "page": args.page, "seconds": args.seconds, "runs": results}
    args.out.write_bytes(msgspec.json.format(msgspec.json.encode(report)))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
