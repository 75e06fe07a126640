"""The event-loop lag monitor and the GC pause timer report what really happened."""

from __future__ import annotations

import gc
import threading
import time
from functools import partial

import anyio
import pytest

from controlplane._loopwatch import GcTimer, watch_loop
from controlplane.metrics import REGISTRY

pytestmark = pytest.mark.anyio


def _value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_a_blocked_loop_is_measured_as_lag() -> None:
    slow_before = _value("controlplane_event_loop_lag_seconds_count") - _value(
        "controlplane_event_loop_lag_seconds_bucket", {"le": "0.25"}
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_loop, 0.02)
        await anyio.sleep(0.05)
        time.sleep(0.3)  # a stall: nothing else runs meanwhile
        await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    slow_after = _value("controlplane_event_loop_lag_seconds_count") - _value(
        "controlplane_event_loop_lag_seconds_bucket", {"le": "0.25"}
    )
    assert slow_after == slow_before + 1  # exactly one look came back more than 250 ms late
    assert _value("controlplane_event_loop_lag_max_seconds") >= 0.25


def test_gc_passes_are_timed_by_generation() -> None:
    timer = GcTimer()
    try:
        before = _value("controlplane_gc_pause_seconds_count", {"generation": "2"})
        gc.collect()
        assert _value("controlplane_gc_pause_seconds_count", {"generation": "2"}) == before + 1
    finally:
        timer.close()
    gc.collect()
    assert _value("controlplane_gc_pause_seconds_count", {"generation": "2"}) == before + 1


async def test_the_loop_tasks_are_counted() -> None:
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(anyio.sleep, 10)
        tg.start_soon(watch_loop, 0.01)
        await anyio.sleep(0.05)
        counted = _value("controlplane_event_loop_tasks")
        tg.cancel_scope.cancel()
    assert counted >= 7  # the five sleepers, the watcher and this test's own task


def _hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # a stall in Python code: the reporter thread still gets the GIL


async def test_a_long_stall_is_logged_once_with_the_loop_threads_stack(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stalls_before = _value("controlplane_event_loop_stalls_total")
    with caplog.at_level("WARNING", logger="controlplane.loop"):
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(watch_loop, 0.02, stall_threshold=0.15))
            await anyio.sleep(0.05)
            _hold_the_loop(0.6)  # one stall four times the threshold: logged once, not four times
            await anyio.sleep(0.1)
            _hold_the_loop(0.05)  # under the threshold: not logged
            await anyio.sleep(0.1)
            tg.cancel_scope.cancel()
    stalls = [r for r in caplog.records if r.getMessage() == "event loop stalled"]
    assert len(stalls) == 1
    assert _value("controlplane_event_loop_stalls_total") == stalls_before + 1
    assert "_hold_the_loop" in stalls[0].stack  # type: ignore[attr-defined]
    assert 0.15 <= stalls[0].stalled_seconds < 0.6  # type: ignore[attr-defined]
    assert not [t for t in threading.enumerate() if t.name == "loop-stall-reporter"]  # joined
