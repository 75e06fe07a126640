"""Errors raised by every store backend (callers catch these, never a backend's own exceptions)."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every store error; also raised for backend failures (I/O, corrupt data, schema too new)."""


class StoreClosed(StoreError):
    """The store was used before it was opened, while closing, or after it was closed."""


class NotFound(StoreError):
    """The named object does not exist."""


class AlreadyExists(StoreError):
    """An object with that name already exists."""


class Conflict(StoreError):
    """A compare-and-swap write lost: the object's ``resourceVersion`` is not the expected one."""

    def __init__(self, name: str, expected: str, current: str) -> None:
        super().__init__(
            f"cluster {name!r} was modified: expected resourceVersion {expected!r}, current is {current!r}"
        )
        self.name = name
        self.expected = expected
        self.current = current


class Fenced(StoreError):
    """A fenced write was refused: its lease is no longer held at that epoch (or has expired)."""


class ChangesExpired(StoreError):
    """The change feed no longer holds changes after the requested sequence (they were trimmed):
    the follower must re-list, as a Kubernetes client does on ``410 Gone``."""

    def __init__(self, after: int, oldest: int) -> None:
        super().__init__(f"changes after {after} were trimmed; the oldest kept follows {oldest}")
        self.after = after
        self.oldest = oldest
