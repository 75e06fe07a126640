"""Benchmark of the actor kernel: memory per idle actor and message throughput.

    python benchmarks/bench_actors.py [--actors N] [--messages M] [--out FILE]

Prints a table and writes JSON. Memory is measured twice: RSS delta (psutil; what the OS sees,
includes allocator slack) and tracemalloc (Python allocations only), for N idle actors without
and with one pending timer each. Throughput: tells through one actor, tells spread over many
actors, and sequential ask round trips.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors import Actor, ActorSystem


class Idle(Actor[str, None]):
    """An actor that does nothing until told; optionally keeps one long timer pending."""

    __slots__ = ("with_timer",)

    def __init__(self, with_timer: bool) -> None:
        super().__init__(None)
        self.with_timer = with_timer

    async def on_start(self) -> None:
        if self.with_timer:
            self.after(3600.0, "wake")

    async def handle(self, message: str) -> Any:
        return message


class Counter(Actor[int, None]):
    __slots__ = ("total",)

    def __init__(self) -> None:
        super().__init__(None)
        self.total = 0

    async def handle(self, message: int) -> Any:
        self.total += message
        return self.total


def _rss() -> int:
    return int(psutil.Process(os.getpid()).memory_info().rss)


async def _settle() -> None:
    # Let every spawned task take its first step (run on_start and park on its mailbox).
    for _ in range(3):
        await anyio.sleep(0)
    await anyio.sleep(0.05)


async def _spawn_idle(system: ActorSystem, n: int, with_timer: bool) -> list[Idle]:
    actors = [system.spawn(f"idle-{i}", Idle(with_timer)) for i in range(n)]
    await _settle()
    return actors


async def memory_rss(n: int, with_timer: bool) -> float:
    async with ActorSystem() as system:
        gc.collect()
        before = _rss()
        actors = await _spawn_idle(system, n, with_timer)
        gc.collect()
        after = _rss()
        assert len(system) == n
        await system.stop_all()
        del actors
    return (after - before) / n


async def memory_tracemalloc(n: int, with_timer: bool) -> float:
    async with ActorSystem() as system:
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            actors = await _spawn_idle(system, n, with_timer)
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        await system.stop_all()
        del actors
    return growth / n


async def throughput_one(messages: int) -> float:
    async with ActorSystem(mailbox_capacity=messages + 1) as system:
        actor = system.spawn("counter", Counter())
        await _settle()
        started = time.perf_counter()
        for _ in range(messages):
            actor.tell(1)
        total = await actor.ask(0, timeout=600.0)
        elapsed = time.perf_counter() - started
        assert total == messages, total
    return messages / elapsed


async def throughput_many(actors: int, messages: int) -> float:
    per_actor = max(1, messages // actors)
    async with ActorSystem(mailbox_capacity=per_actor + 1) as system:
        counters = [system.spawn(f"c{i}", Counter()) for i in range(actors)]
        await _settle()
        started = time.perf_counter()
        for _ in range(per_actor):
            for counter in counters:
                counter.tell(1)
        for counter in counters:
            assert await counter.ask(0, timeout=600.0) == per_actor
        elapsed = time.perf_counter() - started
    return per_actor * actors / elapsed


async def ask_round_trips(count: int) -> float:
    async with ActorSystem() as system:
        actor = system.spawn("counter", Counter())
        await _settle()
        started = time.perf_counter()
        for _ in range(count):
            await actor.ask(1)
        elapsed = time.perf_counter() - started
    return count / elapsed


async def spawn_stop_seconds(n: int) -> float:
    started = time.perf_counter()
    async with ActorSystem() as system:
        await _spawn_idle(system, n, with_timer=True)
        await system.stop_all()
    return time.perf_counter() - started - 0.05  # minus the settle pause


def _run(fn: Callable[..., Awaitable[float]], *args: Any) -> float:
    result: float = anyio.run(fn, *args, backend="asyncio")
    gc.collect()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--actors", type=int, default=10_000, help="idle actors for the memory test")
    parser.add_argument("--messages", type=int, default=200_000, help="messages for throughput tests")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_actors.json"))
    args = parser.parse_args()
    n, m = args.actors, args.messages

    results: dict[str, Any] = {
        "actors": n,
        "messages": m,
        "python": platform.python_version(),
        "platform": platform.platform(),
        # Warm-up run first so imports and allocator arenas are not billed to the actors.
        "warmup_s": _run(spawn_stop_seconds, min(n, 1000)),
    }
    results["rss_bytes_per_idle_actor"] = _run(memory_rss, n, False)
    results["rss_bytes_per_idle_actor_with_timer"] = _run(memory_rss, n, True)
    results["traced_bytes_per_idle_actor"] = _run(memory_tracemalloc, n, False)
    results["traced_bytes_per_idle_actor_with_timer"] = _run(memory_tracemalloc, n, True)
    results["spawn_and_stop_all_s"] = _run(spawn_stop_seconds, n)
    results["tell_msgs_per_s_one_actor"] = _run(throughput_one, m)
    results["tell_msgs_per_s_many_actors"] = _run(throughput_many, min(n, 1000), m)
    results["ask_round_trips_per_s"] = _run(ask_round_trips, min(m, 50_000))

    rows = [
        (f"RSS per idle actor (N={n})", results["rss_bytes_per_idle_actor"], "bytes"),
        ("RSS per idle actor + 1 pending timer", results["rss_bytes_per_idle_actor_with_timer"], "bytes"),
        ("tracemalloc per idle actor", results["traced_bytes_per_idle_actor"], "bytes"),
        ("tracemalloc per idle actor + timer", results["traced_bytes_per_idle_actor_with_timer"], "bytes"),
        (f"spawn + stop_all of {n} actors", results["spawn_and_stop_all_s"], "s"),
        (f"tell throughput, 1 actor ({m} msgs)", results["tell_msgs_per_s_one_actor"], "msg/s"),
        (f"tell throughput, {min(n, 1000)} actors", results["tell_msgs_per_s_many_actors"], "msg/s"),
        ("ask round trips, sequential", results["ask_round_trips_per_s"], "ask/s"),
    ]
    width = max(len(label) for label, _, _ in rows)
    print(f"{'metric':<{width}}  {'value':>14}  unit")
    print("-" * (width + 22))
    for label, value, unit in rows:
        shown = f"{value:>14,.3f}" if unit == "s" else f"{value:>14,.0f}"
        print(f"{label:<{width}}  {shown}  {unit}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
