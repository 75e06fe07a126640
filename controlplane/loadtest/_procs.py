"""Child processes of a load test: the simulator, the control plane and the baselines.

Each runs ``sys.executable`` with this checkout on ``PYTHONPATH`` and its output in a log file under the
output directory. ``stop()`` sends SIGTERM, waits, then kills: no child outlives the run.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import controlplane

ROOT = Path(controlplane.__file__).resolve().parents[1]


class ProcessError(RuntimeError):
    """A child did not start, or exited while it was needed; the message points at its log."""


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)
    env.update(extra or {})
    return env


class Child:
    """One child process; ``start`` then ``wait_for_line``; ``stop`` always (idempotent)."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = child_env(env)
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.started = 0.0

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ProcessError(f"{self.name} is not running")
        return self.proc.pid

    def start(self) -> None:
        if self.proc is not None:
            raise ProcessError(f"{self.name} was already started")
        self._log = self.log_path.open("wb")  # a reused --out directory must not show an old run's lines
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def wait_for_line(self, pattern: str, *, within: float, after: int = 0) -> re.Match[str]:
        """The first match of ``pattern`` in the log past byte ``after``; fails if the child exits."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + within
        while True:
            text = self.log_path.read_bytes()[after:].decode(errors="replace")
            found = regex.search(text)
            if found:
                return found
            if not self.alive():
                raise ProcessError(f"{self.name} exited early; see {self.log_path}")
            if time.monotonic() > deadline:
                raise ProcessError(f"{self.name}: no {pattern!r} within {within:g}s; see {self.log_path}")
            await asyncio.sleep(0.02)

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    async def stop(self, grace: float = 20.0) -> float:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL. Returns the seconds the shutdown took."""
        began = time.monotonic()
        proc = self.proc
        try:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.to_thread(proc.wait, grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    await asyncio.to_thread(proc.wait, 5)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
        return time.monotonic() - began

    def kill_now(self) -> None:
        """Last resort from a ``finally`` without a running loop."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None


def python_c(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def sim_argv(time_scale: float) -> list[str]:
    return [
        sys.executable, "-m", "controlplane.cli", "sim",
        "--listen", "127.0.0.1:0", "--time-scale", repr(time_scale),
    ]  # fmt: skip


def serve_argv(config: Path, data_dir: Path, sim_url: str, log_level: str, port: int = 0) -> list[str]:
    return [
        sys.executable, "-m", "controlplane.cli", "serve",
        "--config", str(config), "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir),
        "--aws-endpoint", sim_url, "--log-level", log_level,
    ]  # fmt: skip


def free_port() -> int:
    """A port free on loopback now (the child binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
