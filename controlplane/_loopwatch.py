"""The event loop's own health: how late it runs what is due (a stall stops every actor, the admin API
and the scrape at once), and how long the cyclic garbage collector holds it.

One task wakes every ``interval`` and records how much later than asked it ran. A ``gc.callbacks`` hook
times each collection by generation, so a stall can be told apart from a GC pass. While that task runs,
a thread logs the loop thread's stack once per stall longer than ``STALL_THRESHOLD``: a figure says
that the loop stalled, the stack says what held it. A stall inside the collector, or in a C call that
keeps the GIL, can only be seen once it ends (the thread needs the GIL too): its stack is where the loop
thread is then, often the collector's own callback in ``GcTimer``, and the GC pause histogram confirms it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
import time
import traceback
from typing import Any

import anyio

from controlplane.metrics import (
    EVENT_LOOP_STALLS,
    EVENT_LOOP_TASKS,
    GC_PAUSE_SECONDS,
    LOOP_LAG_MAX_SECONDS,
    LOOP_LAG_SECONDS,
)

log = logging.getLogger("controlplane.loop")

INTERVAL = 0.1
"""Seconds between looks; a stall is seen once it ends, so its length is measured exactly."""
TASK_COUNT_EVERY = 100
"""Looks between two counts of the loop's tasks (a count walks every task: 10 s apart by default)."""
STALL_THRESHOLD = 1.0
"""Seconds without a look after which the loop thread's stack is logged (the issue-12 stall bound)."""
STACK_FRAMES = 12
"""Innermost frames of the stalled stack that are logged."""


async def watch_loop(interval: float = INTERVAL, *, stall_threshold: float = STALL_THRESHOLD) -> None:
    """Record the loop's lag every ``interval`` seconds until cancelled; log the stack of long stalls."""
    worst = 0.0
    looks = 0
    reporter = StallReporter(stall_threshold, poll=min(interval, stall_threshold / 4))
    try:
        while True:
            if looks % TASK_COUNT_EVERY == 0:
                EVENT_LOOP_TASKS.set(len(asyncio.all_tasks()))
            looks += 1
            began = time.perf_counter()
            reporter.beat(began)
            await anyio.sleep(interval)
            lag = max(0.0, time.perf_counter() - began - interval)
            LOOP_LAG_SECONDS.observe(lag)
            if lag > worst:
                worst = lag
                LOOP_LAG_MAX_SECONDS.set(worst)
    finally:
        reporter.close()


class StallReporter:
    """A thread that logs the loop thread's stack when the loop has not looked in for ``threshold``
    seconds, once per stall. Created on the loop thread, which it watches; ``close`` stops and joins it."""

    def __init__(self, threshold: float, *, poll: float) -> None:
        self._threshold = threshold
        self._poll = poll
        self._watched = threading.get_ident()
        self._last = time.perf_counter()
        self._reported = -1.0  # the ``_last`` of the stall already logged
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loop-stall-reporter", daemon=True)
        self._thread.start()

    def beat(self, now: float) -> None:
        """The loop looked in at ``now`` (``time.perf_counter``)."""
        self._last = now

    def close(self) -> None:
        self._closed.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._closed.wait(self._poll):
            last = self._last
            stalled = time.perf_counter() - last
            if stalled < self._threshold or last == self._reported:
                continue
            self._reported = last
            frame = sys._current_frames().get(self._watched)
            stack = "".join(traceback.format_stack(frame, limit=STACK_FRAMES)) if frame else ""
            EVENT_LOOP_STALLS.inc()
            log.warning("event loop stalled", extra={"stalled_seconds": round(stalled, 3), "stack": stack})


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
