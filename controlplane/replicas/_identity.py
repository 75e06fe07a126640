"""A replica's id: configured, or kept in the data directory so that a restart takes its own shards back
at once (its old leases are its own), or fresh when another live process already uses that file."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
from pathlib import Path
from typing import IO

ID_FILE = "replica-id"


def fresh_id() -> str:
    """The hostname plus a random suffix (ids must be unique among live replicas)."""
    host = socket.gethostname().split(".")[0] or "replica"
    return f"{host}-{secrets.token_hex(3)}"


class ReplicaIdentity:
    """The id this process runs under, and the lock that keeps it to one live process at a time."""

    def __init__(self, replica_id: str, lock: IO[str] | None = None) -> None:
        self.id = replica_id
        self._lock = lock

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None


def resolve_identity(configured: str, data_dir: Path) -> ReplicaIdentity:
    """``configured`` if set; else the id in ``<data_dir>/replica-id``, created if absent and locked
    for this process's lifetime; a fresh id when another live process holds that file."""
    if configured:
        return ReplicaIdentity(configured)
    path = data_dir / ID_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    handle = os.fdopen(fd, "r+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return ReplicaIdentity(fresh_id())  # another process on this data dir: join beside it
    except BaseException:
        handle.close()
        raise
    with contextlib.ExitStack() as undo:
        undo.callback(handle.close)
        current = handle.read().strip()
        if not current:
            current = fresh_id()
            handle.seek(0)
            handle.truncate()
            handle.write(current + "\n")
            handle.flush()
        undo.pop_all()
    return ReplicaIdentity(current, handle)
