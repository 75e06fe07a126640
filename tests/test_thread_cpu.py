"""CPU by thread: ``controlplane_thread_cpu_seconds_total{thread}`` on the exposition, store threads named
after their owner."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from controlplane.metrics import REGISTRY, ThreadCpuCollector
from controlplane.store import SQLiteStore

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")


def _exposed() -> dict[str, float]:
    """The thread series as served: parsed from the text exposition, not from our collector's objects."""
    text = prometheus_client.generate_latest(REGISTRY).decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "controlplane_thread_cpu_seconds_total":
                out[sample.labels["thread"]] = sample.value
    return out


def test_a_busy_thread_is_exposed_with_its_own_cpu() -> None:
    release = threading.Event()
    burnt = threading.Event()

    def burn() -> None:
        end = time.thread_time() + 0.3
        while time.thread_time() < end:
            pass
        burnt.set()
        release.wait(10)

    thread = threading.Thread(target=burn, name="burner")
    thread.start()
    try:
        assert burnt.wait(10)
        exposed = _exposed()
        # 0.3 s of its own CPU, counted in clock ticks (1/100 s here): at least 0.25 s, and the idle main
        # thread of a test does not get it.
        assert exposed["burner"] >= 0.25
        assert "MainThread" in exposed
    finally:
        release.set()
        thread.join()
    assert "burner" not in _exposed()


def test_the_command_name_may_hold_spaces_and_parentheses(tmp_path: Path) -> None:
    task = tmp_path / str(threading.get_native_id())
    task.mkdir()
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    (task / "stat").write_text("123 (odd (name) x) S 1 1 1 0 -1 0 0 0 0 0 250 50 0 0 20 0 1 0\n")
    collector = ThreadCpuCollector(tmp_path)
    [family] = list(collector.collect())
    by_thread = {s.labels["thread"]: s.value for s in family.samples}
    assert by_thread == {threading.current_thread().name: 300 / os.sysconf("SC_CLK_TCK")}


@pytest.mark.anyio
async def test_store_threads_are_named_after_the_thread_that_opened_them(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "cp.db"):
        names = {t.name for t in threading.enumerate()}
        assert {"MainThread/store-writer", "MainThread/store-reader-1", "MainThread/store-reader-2"} <= names
        assert {"MainThread/store-writer", "MainThread/store-reader-1"} <= _exposed().keys()
