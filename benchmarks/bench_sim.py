"""Simulator throughput: DescribeCluster calls per second answered by one server process (one core).

The simulator runs in its own process (``controlplane.sim.main``); this process drives it with raw
aiohttp GETs carrying an Authorization header with the ``eks`` credential scope (the simulator does
not verify signatures, like moto). Server CPU is read with psutil, so the figure is also reported
per fully used core.

    python benchmarks/bench_sim.py [--clusters 10000] [--seconds 5] [--concurrency 32] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import msgspec
import psutil

ROOT = Path(__file__).resolve().parents[1]
AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20250101/us-west-2/eks/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)


def start_sim() -> tuple[subprocess.Popen[str], str]:
    code = (
        "import sys; from controlplane.sim import main; "
        "sys.exit(main(['--listen', '127.0.0.1:0', '--no-kube']))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return proc, line.strip().split()[-1]


async def drive(url: str, clusters: int, seconds: float, concurrency: int, pid: int) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        t0 = time.perf_counter()
        async with http.post(
            url + "/_sim/clusters:batch",
            data=msgspec.json.encode({"count": clusters, "prefix": "bench-", "template": {}}),
        ) as r:
            assert r.status == 201, await r.text()
        create_s = time.perf_counter() - t0
        headers = {"Authorization": AUTH, "X-Amz-Date": "20250101T000000Z"}
        count = 0
        errors = 0
        stop = 0.0

        async def worker(i: int) -> None:
            nonlocal count, errors
            n = i
            while time.perf_counter() < stop:
                async with http.get(f"{url}/clusters/bench-{n % clusters:05d}", headers=headers) as resp:
                    body = await resp.read()
                    if resp.status != 200 or b'"ACTIVE"' not in body:
                        errors += 1
                count += 1
                n += concurrency

        # warm-up, then the measured window
        stop = time.perf_counter() + 0.5
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        count = errors = 0
        proc = psutil.Process(pid)
        cpu0 = proc.cpu_times()
        t0 = time.perf_counter()
        stop = t0 + seconds
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - t0
        cpu1 = proc.cpu_times()
        cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        rss = proc.memory_info().rss
    return {
        "clusters": clusters,
        "batch_create_seconds": create_s,
        "calls": count,
        "errors": errors,
        "seconds": elapsed,
        "calls_per_second": count / elapsed,
        "server_cpu_seconds": cpu,
        "server_cpu_utilisation": cpu / elapsed,
        "calls_per_cpu_second": count / cpu if cpu else 0.0,
        "server_rss_mib": rss / 2**20,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clusters", type=int, default=10_000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--json", default=None, help="write the result here as JSON")
    args = p.parse_args()
    proc, url = start_sim()
    try:
        result = asyncio.run(drive(url, args.clusters, args.seconds, args.concurrency, proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    print(f"{'metric':<28}{'value':>14}")
    for k, v in result.items():
        print(f"{k:<28}{v:>14,.2f}" if isinstance(v, float) else f"{k:<28}{v:>14,}")
    if args.json:
        Path(args.json).write_bytes(msgspec.json.format(msgspec.json.encode(result)))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
