"""``serve --workers N``: N replica processes on one machine under one parent, sharing one admin port.

The parent only supervises: it reserves the port (``SO_REUSEPORT``, so every worker binds it too and the
kernel spreads connections), creates the admin token once, starts the workers as ``controlplane serve``
with replica ids ``<base>-w<i>``, restarts a worker that dies (with a backoff that resets once it stayed
up), and on SIGTERM/SIGINT stops them all and waits. The workers are ordinary replicas: they share the
fleet through the store exactly as replicas on different machines do. A worker also stops when the parent
dies without a chance to stop it (SIGKILL, OOM killer): see ``die_with_parent``.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger("controlplane.replicas.workers")

RESTART_BACKOFF_BASE = 0.5
RESTART_BACKOFF_MAX = 30.0
HEALTHY_AFTER = 60.0
"""A worker up this long has its restart backoff reset."""
POLL = 0.1
PARENT_ENV = "CONTROLPLANE_WORKER_PARENT"
"""The parent's pid, in a worker's environment."""
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind ``host:port`` (0: a free port) with ``SO_REUSEPORT`` and keep it bound, not listening, so
    the port stays ours while workers bind it beside us."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass
class _Worker:
    index: int
    replica_id: str
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    next_start: float = 0.0
    restarts: int = 0


class WorkerPool:
    """Runs and supervises the workers; ``run`` returns the exit code once they all stopped."""

    def __init__(
        self,
        count: int,
        *,
        command: Sequence[str],
        env: Mapping[str, str],
        base_id: str,
        stop_timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if count < 1:
            raise ValueError("a pool needs at least one worker")
        self._command = list(command)
        self._env = dict(env)
        self._stop_timeout = stop_timeout
        self._clock = clock
        self._workers = [_Worker(i, f"{base_id}-w{i}") for i in range(count)]
        self._stopping = False

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        self._stopping = True

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process is not None]

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not self._stopping:
                now = self._clock()
                for worker in self._workers:
                    self._tend(worker, now)
                time.sleep(POLL)
            return self._stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _tend(self, worker: _Worker, now: float) -> None:
        proc = worker.process
        if proc is not None:
            code = proc.poll()
            if code is None:
                if worker.failures and now - worker.started > HEALTHY_AFTER:
                    worker.failures = 0
                return
            worker.process = None
            worker.failures += 1
            delay = min(RESTART_BACKOFF_MAX, RESTART_BACKOFF_BASE * 2 ** (worker.failures - 1))
            worker.next_start = now + delay
            log.warning(
                "worker exited; restarting it",
                extra={"replica": worker.replica_id, "exit_code": code, "restart_in": delay},
            )
            print(
                f"eks-controlplane: worker {worker.replica_id} exited with {code}; restarting in {delay:g}s",
                file=sys.stderr,
                flush=True,
            )
            return
        if now >= worker.next_start:
            env = {**self._env, "CONTROLPLANE_REPLICA_ID": worker.replica_id}
            if worker.started:
                worker.restarts += 1
            worker.process = subprocess.Popen(self._command, env=env)
            worker.started = now

    def _stop_all(self) -> int:
        running = [w.process for w in self._workers if w.process is not None and w.process.poll() is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = self._clock() + self._stop_timeout
        code = 0
        for proc in running:
            try:
                result = proc.wait(timeout=max(0.0, deadline - self._clock()))
            except subprocess.TimeoutExpired:
                proc.kill()
                result = proc.wait()
            code = code or (result if result > 0 else 0)
        return code


def worker_command(argv: Sequence[str], listen: str) -> list[str]:
    """The ``serve`` command line of a worker: the parent's, without ``--workers``, listening on the
    address the parent resolved (a port 0 of the parent's becomes the port it reserved)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--workers", "--listen"):
            skip = True
            continue
        if arg.startswith(("--workers=", "--listen=")):
            continue
        out.append(arg)
    return [sys.executable, "-m", "controlplane.cli", *out, "--listen", listen]


def worker_env() -> dict[str, str]:
    """The workers' environment: the parent's, with the shared port and the parent's pid."""
    return {**os.environ, "CONTROLPLANE_ADMIN_REUSE_PORT": "true", PARENT_ENV: str(os.getpid())}


def die_with_parent(env: Mapping[str, str] = os.environ) -> bool:
    """In a worker (``PARENT_ENV`` set): have the kernel send it SIGTERM when the parent dies, however it
    dies (Linux's ``PR_SET_PDEATHSIG``). The worker then stops as on any SIGTERM, handing its shards
    over, instead of running on unsupervised beside the replicas a restarted parent starts. Returns
    False if the parent is already gone (it died before we asked): the worker should not start.

    Elsewhere than Linux a worker outlives a killed parent; its leases still expire if it dies."""
    value = env.get(PARENT_ENV)
    if not value:
        return True
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    # Asked after the parent died, the kernel would never signal: the worker has a new parent by now.
    return os.getppid() == int(value)
