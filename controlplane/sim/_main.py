"""``controlplane sim``: run the simulator standalone until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from ._server import Simulator
from ._settings import SimSettings


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="controlplane sim", description="Run the AWS/EKS simulator.")
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to listen on (port 0 picks one)")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiplier of every lifecycle duration")
    p.add_argument("--state", default=None, help="file that keeps the EKS state across restarts")
    p.add_argument("--no-kube", action="store_true", help="do not serve downstream Kubernetes APIs")
    return p.parse_args(argv)


async def _run(settings: SimSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with Simulator(settings) as sim:
        print(f"simulator listening on {sim.url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``controlplane sim --listen HOST:PORT [--time-scale F] [--state FILE]``.
    Prints one line with the endpoint URL, then serves until SIGINT or SIGTERM."""
    args = _parse(argv)
    host, sep, port = args.listen.rpartition(":")
    if not sep or not port.isdigit():
        print(f"--listen must be HOST:PORT, not {args.listen!r}", file=sys.stderr)
        return 2
    settings = SimSettings(
        host=host.strip("[]") or "127.0.0.1",
        port=int(port),
        time_scale=args.time_scale,
        state_file=args.state,
        kube_endpoints=not args.no_kube,
    )
    asyncio.run(_run(settings))
    return 0
