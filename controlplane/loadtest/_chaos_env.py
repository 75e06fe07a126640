"""What the chaos run does to the control plane's surroundings: a second process holding SQLite's write
lock, and a size-limited tmpfs under the data directory that can be filled to the last byte."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
from pathlib import Path

from ._procs import Child, python_c

_LOCKER = """\
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")  # with WAL: every writer waits (readers go on)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
print("released", flush=True)
"""


async def hold_sqlite_lock(db: Path, seconds: float, log: Path) -> float:
    """Another process takes the database's write lock for ``seconds`` (as a backup tool or an open
    ``sqlite3`` shell would). Returns when the lock was released: the seconds it was held."""
    child = Child("sqlite-locker", [*python_c(_LOCKER), str(db), repr(seconds)], log)
    child.start()
    try:
        await child.wait_for_line("locked", within=120)
        began = asyncio.get_running_loop().time()
        await child.wait_for_line("released", within=seconds + 60)
        return asyncio.get_running_loop().time() - began
    finally:
        await child.stop()


def mount_tmpfs(path: Path, size: str) -> str:
    """Mount a size-limited tmpfs at ``path``; "" on success, else why it could not be done."""
    if os.geteuid() != 0:
        return "not running as root: cannot mount a size-limited file system for the data directory"
    path.mkdir(parents=True, exist_ok=True)
    if any(path.iterdir()):
        return f"{path} is not empty: refusing to mount over it"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"mount -t tmpfs failed: {(done.stderr or done.stdout).strip()}"
    return ""


def unmount(path: Path) -> None:
    subprocess.run(["umount", "--lazy", str(path)], capture_output=True, check=False)


class DiskFiller:
    """Fills the file system of ``directory`` with one file until not one more byte fits; ``release``
    deletes it."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "chaos-filler"
        self.written = 0

    def _fill(self) -> int:
        chunk = b"\0" * (1 << 20)
        with self.path.open("wb", buffering=0) as f:
            for size in (1 << 20, 1 << 12, 1):
                piece = chunk[:size]
                while True:
                    try:
                        self.written += f.write(piece) or 0
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        return self.written

    async def fill(self) -> int:
        """Bytes written until the file system was full."""
        return await asyncio.to_thread(self._fill)

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    @staticmethod
    def free_bytes(directory: Path) -> int:
        st = os.statvfs(directory)
        return st.f_bavail * st.f_frsize
