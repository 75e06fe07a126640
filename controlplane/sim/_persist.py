"""Saving and loading the EKS state (``--state FILE``): msgspec JSON, written atomically.

Pending lifecycle transitions are stored as the delay left, not as loop times (the event-loop clock
of the next process starts elsewhere), so a cluster CREATING at shutdown resumes CREATING.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import msgspec

from ._backend import EksBackend
from ._model import ClusterRec

_FORMAT = 1


class Snapshot(msgspec.Struct):
    format: int
    clusters: list[ClusterRec]


def encode(backend: EksBackend, now: float) -> bytes:
    clusters = list(backend.clusters())
    saved: list[tuple[Any, float]] = []
    try:
        # Swap due times for delays just for the encode; this runs without awaiting, so nothing
        # else observes the swapped values.
        for c in clusters:
            for _, rec in backend.records(c):
                if rec.due is not None:
                    saved.append((rec, rec.due))
                    rec.due = max(rec.due - now, 0.0)
        return msgspec.json.encode(Snapshot(format=_FORMAT, clusters=clusters))
    finally:
        for rec, due in saved:
            rec.due = due


def load(backend: EksBackend, data: bytes) -> int:
    """Restore clusters from ``data`` into an empty backend; returns how many were restored."""
    snap = msgspec.json.decode(data, type=Snapshot)
    if snap.format != _FORMAT:
        raise ValueError(f"unsupported state format {snap.format}")
    for c in snap.clusters:
        remaining: dict[int, float] = {}
        for _, rec in backend.records(c):
            if rec.due is not None:
                remaining[id(rec)] = rec.due
                rec.due = None
        backend.restore(c, remaining)
    return len(snap.clusters)


def read_optional(path: str) -> bytes | None:
    """Blocking: the file's bytes, or None when it does not exist (first start)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_atomic(path: str, data: bytes) -> None:
    """Blocking: write ``data`` to ``path`` via a temporary file and a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".sim-state-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
