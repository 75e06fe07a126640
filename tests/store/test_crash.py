"""SIGKILL a process in the middle of status batches: the file stays sound, flushed writes survive."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controlplane.api import Phase
from controlplane.store import SQLiteStore, StoreSettings

pytestmark = pytest.mark.anyio

CLUSTERS = 300
ROOT = Path(__file__).resolve().parents[2]

WRITER = f"""
import sys, anyio
from controlplane.api import Cluster, ClusterStatus, Metadata, Phase
from controlplane.store import SQLiteStore, StoreSettings

async def main(path):
    settings = StoreSettings(flush_interval=0.002, max_batch=64)
    async with SQLiteStore(path, settings) as store:
        names = [f"c{{i:04d}}" for i in range({CLUSTERS})]
        for name in names:
            await store.create_cluster(Cluster(metadata=Metadata(name=name)))
        print("created", flush=True)
        round = 0
        while True:
            round += 1
            for name in names:
                await store.write_status(name, ClusterStatus(phase=Phase.ACTIVE, last_sync_time=str(round)))
                if name.endswith("7"):
                    await anyio.sleep(0)  # let the background flusher commit partial batches meanwhile
            last = ClusterStatus(phase=Phase.ACTIVE, last_sync_time=str(round))
            await store.write_status(names[0], last, durable=True)
            await store.flush()
            print(f"flushed {{round}}", flush=True)

anyio.run(main, sys.argv[1])
"""


def _run_and_kill(db: Path, kill_after_round: int, extra_delay: float) -> int:
    """Start the writer, SIGKILL it a little after round ``kill_after_round``; return the last round it
    reported flushed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            if line.strip() == f"flushed {kill_after_round}":
                break
            assert time.monotonic() < deadline, "writer too slow"
        else:
            raise AssertionError(
                f"writer exited early: {proc.wait()} {proc.stderr.read() if proc.stderr else ''}"
            )
        time.sleep(extra_delay)
        proc.send_signal(signal.SIGKILL)
        rest = proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    rounds = [kill_after_round] + [int(x.split()[1]) for x in rest.splitlines() if x.startswith("flushed ")]
    return max(rounds)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_sigkill_mid_batch_loses_at_most_the_unflushed_batch(tmp_path: Path, seed: int) -> None:
    db = tmp_path / "crash.db"
    rng = random.Random(seed)
    last_flushed = _run_and_kill(db, kill_after_round=rng.randint(2, 4), extra_delay=rng.uniform(0, 0.05))

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()

    async with SQLiteStore(db, StoreSettings()) as store:
        clusters = await store.list_clusters()
        assert len(clusters) == CLUSTERS
        rounds = [int(c.status.last_sync_time) for c in clusters]
        # Every status flushed before the kill is there; nothing beyond the round being written exists.
        assert min(rounds) >= last_flushed
        assert max(rounds) <= last_flushed + 1
        assert {c.status.phase for c in clusters} == {Phase.ACTIVE}
