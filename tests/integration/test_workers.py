"""``serve --workers 2``: two replica processes under one parent on one port (SO_REUSEPORT); a worker
that dies is restarted; SIGTERM to the parent stops them all (issue 10)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path

import pytest

from ._procs import Http, Proc, child_env, wait_until

pytestmark = pytest.mark.slow

WORKERS_LINE = re.compile(r"eks-controlplane: 2 workers, admin API (http://127\.0\.0\.1:\d+)")


def _alive(http: Http) -> dict[str, int]:
    items = http.json("GET", "/v1/replicas")["items"]
    return {r["id"]: len(r["shards"]) for r in items if r["alive"]}


def _stat(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state, ppid, ...); None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _children(parent: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(entry)
            if fields is not None and int(fields[1]) == parent:
                out.append(int(entry))
    return out


def test_workers_share_the_port_and_the_fleet_and_a_dead_worker_comes_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = child_env(
        CONTROLPLANE_REPLICA_LEASE_DURATION="3",
        CONTROLPLANE_REPLICA_RENEW_DEADLINE="2",
        CONTROLPLANE_REPLICA_RETRY_PERIOD="0.5",
        CONTROLPLANE_REPLICA_LEASE_MARGIN="0.2",
    )
    argv = [
        "serve",
        "--workers",
        "2",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        str(data),
        "--aws-endpoint",
        "http://127.0.0.1:9",
    ]
    with Proc("parent", argv, env, tmp_path) as parent:
        url = parent.wait_for(WORKERS_LINE, timeout=30)
        token = (data / "admin-token").read_text().strip()
        http = Http(url, token)

        def balanced() -> dict[str, int] | None:
            try:
                alive = _alive(http)
            except OSError:
                return None
            return alive if len(alive) == 2 and sorted(alive.values()) == [128, 128] else None

        first = wait_until(balanced, timeout=40, what="two workers sharing the shards", details=parent.output)
        assert all(name.endswith(("-w0", "-w1")) for name in first)
        workers = _children(parent.popen.pid)
        assert len(workers) == 2, workers
        # The one port reaches both workers (the kernel spreads connections): each answers /readyz. A
        # worker holds its shards before it is ready (it then starts its scheduler and loads botocore's
        # models), so on a busy machine the split can show before both are: wait for 20 ready in a row.
        wait_until(
            lambda: all(http.request("GET", "/readyz").status == 200 for _ in range(20)),
            timeout=30,
            what="both workers ready",
            details=parent.output,
        )
        os.kill(workers[0], signal.SIGKILL)
        wait_until(
            lambda: len(set(_children(parent.popen.pid)) - set(workers)) == 1,
            timeout=20,
            what="the dead worker restarted",
            details=parent.output,
        )
        wait_until(balanced, timeout=40, what="an even split again", details=parent.output)
        assert "exited with -9; restarting" in parent.stderr()
        started = time.monotonic()
        code, took = parent.terminate(timeout=30)
        assert code == 0, parent.output()
        assert took < 25
        assert _children(parent.popen.pid) == []
        assert time.monotonic() - started < 30


def _ready(http: Http) -> bool:
    """Both workers answer /readyz: 20 in a row, as the kernel spreads connections (none listens yet: no)."""
    try:
        return all(http.request("GET", "/readyz").status == 200 for _ in range(20))
    except OSError:
        return False


def _gone(pid: int) -> bool:
    """The process exited (a zombie nobody reaped yet counts: it runs nothing)."""
    fields = _stat(pid)
    return fields is None or fields[0] == "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc; PR_SET_PDEATHSIG is Linux's")
def test_workers_stop_gracefully_when_the_parent_is_killed(tmp_path: Path) -> None:
    """A SIGKILLed parent cannot stop its workers; the kernel sends them SIGTERM instead, and they stop as
    they would on any SIGTERM (before, they ran on unsupervised, beside the ones a new parent starts)."""
    data = tmp_path / "data"
    argv = ["serve", "--workers", "2", "--listen", "127.0.0.1:0", "--data-dir", str(data),
            "--aws-endpoint", "http://127.0.0.1:9"]  # fmt: skip
    with Proc("parent", argv, child_env(), tmp_path) as parent:
        url = parent.wait_for(WORKERS_LINE, timeout=30)
        http = Http(url, (data / "admin-token").read_text().strip())
        wait_until(lambda: _ready(http), timeout=40, what="both workers ready", details=parent.output)
        workers = _children(parent.popen.pid)
        assert len(workers) == 2, workers
        try:
            os.kill(parent.popen.pid, signal.SIGKILL)
            parent.popen.wait(timeout=10)
            wait_until(
                lambda: all(_gone(pid) for pid in workers),
                timeout=40,
                what="the workers stopped after their parent was killed",
                details=parent.output,
            )
            # Each stopped through its SIGTERM path (the workers share the parent's stderr).
            assert parent.stderr().count("shutting down") == 2, parent.output()
        finally:
            for pid in workers:  # nothing outlives the test, whatever failed
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
