"""The event loop's own health: how late it runs what is due (a stall stops every actor, the admin API
and the scrape at once), and how long the cyclic garbage collector holds it.

One task wakes every ``interval`` and records how much later than asked it ran. A ``gc.callbacks`` hook
times each collection by generation, so a stall can be told apart from a GC pass.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import anyio

from controlplane.metrics import EVENT_LOOP_TASKS, GC_PAUSE_SECONDS, LOOP_LAG_MAX_SECONDS, LOOP_LAG_SECONDS

INTERVAL = 0.1
"""Seconds between looks; a stall is seen once it ends, so its length is measured exactly."""
TASK_COUNT_EVERY = 100
"""Looks between two counts of the loop's tasks (a count walks every task: 10 s apart by default)."""


async def watch_loop(interval: float = INTERVAL) -> None:
    """Record the loop's lag every ``interval`` seconds until cancelled."""
    worst = 0.0
    looks = 0
    while True:
        if looks % TASK_COUNT_EVERY == 0:
            EVENT_LOOP_TASKS.set(len(asyncio.all_tasks()))
        looks += 1
        began = time.perf_counter()
        await anyio.sleep(interval)
        lag = max(0.0, time.perf_counter() - began - interval)
        LOOP_LAG_SECONDS.observe(lag)
        if lag > worst:
            worst = lag
            LOOP_LAG_MAX_SECONDS.set(worst)


class GcTimer:
    """Times the cyclic collector's passes (installed once per process; ``close`` removes it)."""

    def __init__(self) -> None:
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started:
            GC_PAUSE_SECONDS.labels(str(info.get("generation", ""))).observe(
                time.perf_counter() - self._started
            )
            self._started = 0.0

    def close(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
