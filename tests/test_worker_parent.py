"""``die_with_parent``: a worker of ``serve --workers`` gets SIGTERM when its parent dies, even by SIGKILL
(issue 10). Every check runs in child processes: the death signal is a property of the process that asks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from controlplane.replicas._workers import PARENT_ENV

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")

ROOT = Path(__file__).resolve().parents[1]

# The middle process starts the worker with its own pid in PARENT_ENV, prints the worker's pid, and waits
# to be killed. The worker asks for the death signal, records the SIGTERM in a file, and exits.
MIDDLE = textwrap.dedent(
    """
    import os, subprocess, sys, time
    worker = subprocess.Popen(
        [sys.executable, "-c", sys.argv[1], sys.argv[2]],
        env={**os.environ, sys.argv[3]: str(os.getpid())},
    )
    print(worker.pid, flush=True)
    time.sleep(120)
    """
)
WORKER = textwrap.dedent(
    """
    import pathlib, signal, sys, time
    from controlplane.replicas import die_with_parent
    marker = pathlib.Path(sys.argv[1])
    def stop(signum, frame):
        marker.write_text("SIGTERM")
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    assert die_with_parent()
    marker.with_suffix(".ready").write_text("")
    time.sleep(120)
    """
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _wait_for(path: Path, within: float) -> bool:
    deadline = time.monotonic() + within
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_worker_gets_sigterm_when_its_parent_is_sigkilled(tmp_path: Path) -> None:
    marker = tmp_path / "worker.signal"
    middle = subprocess.Popen(
        [sys.executable, "-c", MIDDLE, WORKER, str(marker), PARENT_ENV],
        env=_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert middle.stdout is not None
    worker = int(middle.stdout.readline())
    try:
        assert _wait_for(marker.with_suffix(".ready"), 30), "the worker never got ready"
        assert not marker.exists()
        middle.send_signal(signal.SIGKILL)
        middle.wait(timeout=10)
        assert _wait_for(marker, 10), "the worker outlived its SIGKILLed parent"
        assert marker.read_text() == "SIGTERM"
    finally:
        if middle.poll() is None:
            middle.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)


@pytest.mark.parametrize(
    ("parent", "starts"),
    [("getppid", True), ("1", False), (None, True)],
    ids=["parent-alive", "parent-gone", "not-a-worker"],
)
def test_a_worker_whose_parent_is_already_gone_does_not_start(parent: str | None, starts: bool) -> None:
    env = _env()
    env.pop(PARENT_ENV, None)
    if parent is not None:
        env[PARENT_ENV] = str(os.getpid()) if parent == "getppid" else parent
    code = (
        "import ctypes, sys\n"
        "from controlplane.replicas import die_with_parent\n"
        "ok = die_with_parent()\n"
        "sig = ctypes.c_int()\n"
        "ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG\n"
        "print(ok, sig.value)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    ok, sig = done.stdout.split()
    assert ok == str(starts)
    # The death signal is asked for whenever the process is a worker, and never otherwise.
    assert int(sig) == (0 if parent is None else signal.SIGTERM)
