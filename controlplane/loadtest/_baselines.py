"""The baselines, each run in its own process so its CPU is its own:

- ``aiobotocore``: the floor. The same AWS calls as one refresh of the control plane (DescribeCluster,
  ListNodegroups, DescribeNodegroup per node group concurrently, DescribeAddon), one shared client,
  asyncio, a semaphore no larger than the connection pool, and nothing else.
- ``raw``: the raw floor. The same calls signed with SigV4 (the control plane's own signer, the fastest
  we have: botocore's bytes at a seventh of its cost), sent with aiohttp and decoded with msgspec, and
  nothing else: what the calls cost without any SDK machinery.
- ``boto3``: what a user would write by hand: a ThreadPoolExecutor over one shared boto3 client.

``python -m controlplane.loadtest._baselines KIND --endpoint URL --names FILE --refreshes N`` prints one
JSON line: ``{"kind", "refreshes", "calls", "errors", "cpu_seconds", "wall_seconds"}``. CPU is
``time.process_time()`` around the measured refreshes only (imports, client creation and a short warm-up
are excluded, as the control plane's startup is excluded from its figure).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

ADDON = "aws-ebs-csi-driver"
REGION = "us-west-2"


class BaselineResult(msgspec.Struct, kw_only=True):
    kind: str
    refreshes: int
    calls: int
    errors: int
    cpu_seconds: float
    wall_seconds: float


def _config(pool: int) -> Any:
    from botocore.config import Config  # noqa: PLC0415 - heavy import, only in the child

    return Config(
        retries={"mode": "standard", "total_max_attempts": 3},
        max_pool_connections=pool,
        connect_timeout=10,
        read_timeout=60,
    )


def _is_not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return bool(response.get("Error", {}).get("Code") == "ResourceNotFoundException")


def _client_args(endpoint: str, concurrency: int) -> dict[str, Any]:
    """The same client settings for both baselines: one client, a pool as large as the concurrency."""
    return {
        "region_name": REGION,
        "endpoint_url": endpoint,
        "aws_access_key_id": "AKIDBASELINE",
        "aws_secret_access_key": "baseline-secret",
        "config": _config(concurrency),
    }


async def _run_aiobotocore(
    endpoint: str, names: list[str], refreshes: int, concurrency: int
) -> BaselineResult:
    from aiobotocore.session import get_session  # noqa: PLC0415

    session = get_session()
    calls = errors = 0
    async with session.create_client(
        "eks",
        **_client_args(endpoint, concurrency),
    ) as eks:
        gate = asyncio.Semaphore(concurrency)

        async def call(op: str, **kwargs: Any) -> dict[str, Any] | None:
            nonlocal calls, errors
            calls += 1
            async with gate:
                try:
                    answer: dict[str, Any] = await getattr(eks, op)(**kwargs)
                    return answer
                except Exception as exc:
                    if not _is_not_found(exc):
                        errors += 1
                    return None

        async def refresh(name: str) -> None:
            await call("describe_cluster", name=name)
            listed = await call("list_nodegroups", clusterName=name)
            ngs = (listed or {}).get("nodegroups", [])
            await asyncio.gather(
                *(call("describe_nodegroup", clusterName=name, nodegroupName=n) for n in ngs)
            )
            await call("describe_addon", clusterName=name, addonName=ADDON)

        async def run(count: int) -> None:
            # A bounded number of refreshes in flight; each one gates its calls on the pool size.
            it = iter(range(count))

            async def worker() -> None:
                for i in it:
                    await refresh(names[i % len(names)])

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        await run(min(50, refreshes))  # warm-up: connections, models, first-call caches
        calls = errors = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await run(refreshes)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return BaselineResult(
        kind="aiobotocore",
        refreshes=refreshes,
        calls=calls,
        errors=errors,
        cpu_seconds=cpu,
        wall_seconds=wall,
    )


async def _run_raw(endpoint: str, names: list[str], refreshes: int, concurrency: int) -> BaselineResult:
    import aiohttp  # noqa: PLC0415

    from controlplane.aws._sigv4 import SigV4Signer  # noqa: PLC0415

    args = _client_args(endpoint, concurrency)
    signer = SigV4Signer()
    base = endpoint.rstrip("/")
    decode = msgspec.json.Decoder().decode
    calls = errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def get(path: str) -> Any:
            nonlocal calls, errors
            calls += 1
            headers = signer.headers(
                url=base + path,
                region=REGION,
                service="eks",
                access_key=args["aws_access_key_id"],
                secret_key=args["aws_secret_access_key"],
                token=None,
                user_agent="raw-floor",
            )
            async with http.get(base + path, headers=headers) as resp:
                body = await resp.read()
                if resp.status == 404:
                    return None
                if resp.status >= 400:
                    errors += 1
                    return None
                return decode(body)

        async def refresh(name: str) -> None:
            await get(f"/clusters/{name}")
            listed = await get(f"/clusters/{name}/node-groups")
            ngs = (listed or {}).get("nodegroups", [])
            await asyncio.gather(*(get(f"/clusters/{name}/node-groups/{n}") for n in ngs))
            await get(f"/clusters/{name}/addons/{ADDON}")

        async def run(count: int) -> None:
            it = iter(range(count))

            async def worker() -> None:
                for i in it:
                    await refresh(names[i % len(names)])

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        await run(min(50, refreshes))
        calls = errors = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await run(refreshes)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return BaselineResult(
        kind="raw", refreshes=refreshes, calls=calls, errors=errors, cpu_seconds=cpu, wall_seconds=wall
    )


def _run_boto3(endpoint: str, names: list[str], refreshes: int, concurrency: int) -> BaselineResult:
    import boto3  # noqa: PLC0415

    eks = boto3.session.Session().client(
        "eks",
        **_client_args(endpoint, concurrency),
    )
    counts = {"calls": 0, "errors": 0}

    def call(op: str, **kwargs: Any) -> dict[str, Any] | None:
        counts["calls"] += 1  # only approximately atomic across threads; fine for a count
        try:
            answer: dict[str, Any] = getattr(eks, op)(**kwargs)
            return answer
        except Exception as exc:
            if not _is_not_found(exc):
                counts["errors"] += 1
            return None

    def refresh(name: str) -> None:
        call("describe_cluster", name=name)
        listed = call("list_nodegroups", clusterName=name)
        for n in (listed or {}).get("nodegroups", []):
            call("describe_nodegroup", clusterName=name, nodegroupName=n)
        call("describe_addon", clusterName=name, addonName=ADDON)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(refresh, (names[i % len(names)] for i in range(min(50, refreshes)))))
        counts["calls"] = counts["errors"] = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        list(pool.map(refresh, (names[i % len(names)] for i in range(refreshes))))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return BaselineResult(
        kind="boto3",
        refreshes=refreshes,
        calls=counts["calls"],
        errors=counts["errors"],
        cpu_seconds=cpu,
        wall_seconds=wall,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m controlplane.loadtest._baselines")
    p.add_argument("kind", choices=["aiobotocore", "raw", "boto3"])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--names", required=True, help="JSON file: list of cluster names")
    p.add_argument("--refreshes", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=32)
    args = p.parse_args(argv)
    names = msgspec.json.decode(Path(args.names).read_bytes(), type=list[str])
    if not names:
        print("no cluster names", file=sys.stderr)
        return 2
    if args.kind == "aiobotocore":
        result = asyncio.run(_run_aiobotocore(args.endpoint, names, args.refreshes, args.concurrency))
    elif args.kind == "raw":
        result = asyncio.run(_run_raw(args.endpoint, names, args.refreshes, args.concurrency))
    else:
        result = _run_boto3(args.endpoint, names, args.refreshes, args.concurrency)
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
