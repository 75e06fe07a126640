"""What a merge reports (adopted values, conflicts) and the three-way rule for one value.

Every merge in this package, of a top-level field, of one field of a list element or of a whole element,
goes through ``MergeLog.value``, so "changed only upstream", "changed only locally" and "changed on both
sides" mean the same thing everywhere.
"""

from __future__ import annotations

import copy
from typing import Any, Final, TypeVar

import msgspec

T = TypeVar("T")


class FieldChange(msgspec.Struct, frozen=True):
    """A value of the spec replaced by the upstream one (values in JSON-builtins form; None = absent)."""

    path: str
    old: Any
    new: Any


class Conflict(msgspec.Struct, frozen=True):
    """A field changed both locally and upstream to different values; the local value was kept.

    ``base`` is the applied value (None when the field or list element did not exist in the applied spec).
    For a whole list element (e.g. a node group), ``local``/``upstream`` None means "deleted on that side".
    """

    path: str
    local: Any
    upstream: Any
    base: Any

    @property
    def message(self) -> str:
        return (
            f"{self.path} changed both locally and upstream: local {_show(self.local)}, "
            f"upstream {_show(self.upstream)} (applied {_show(self.base)}); keeping local"
        )


def _show(value: Any) -> str:
    if value is None:
        return "absent"
    return msgspec.json.encode(value).decode()


class Marker:
    """Identity-compared base markers (never equal to any spec value)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


ABSENT: Final = Marker("ABSENT")
"""The base of a value whose list element did not exist in the applied spec: any upstream value is an
upstream change (and any local value a local one)."""


def to_builtins(value: object) -> Any:
    """The JSON-builtins form of a value (structs become dicts without null fields), for events."""
    return msgspec.to_builtins(value)


def clone(value: T) -> T:
    """A deep copy: adopted values must not alias the upstream spec they came from."""
    return copy.deepcopy(value)


class MergeLog:
    """Collects what one three-way merge adopted and which conflicts it resolved for local."""

    def __init__(self) -> None:
        self.adopted: list[FieldChange] = []
        self.conflicts: list[Conflict] = []

    def value(self, path: str, mine: T, base: T | Marker | None, theirs: T | None) -> T:
        """Merge one managed value (``mine`` is never null: null is unmanaged and never merged).

        ``base`` is the applied value, ``ABSENT``, or None when no base is known (the value was null in the
        applied spec, or nothing was applied): the upstream value then serves as base, so it is "unchanged
        upstream" and a differing local value is a local change.

        Changed only upstream: the upstream value (a copy) is adopted. Changed only locally, or nowhere:
        ``mine``. Changed on both sides to different values: a Conflict, and ``mine``. A null upstream
        value reports nothing, so there is no upstream change to adopt or conflict with.
        """
        if theirs is None:
            return mine
        if base is None:
            base = theirs
        local_changed = mine != base
        upstream_changed = theirs != base
        if upstream_changed and not local_changed:
            self.adopted.append(FieldChange(path, to_builtins(mine), to_builtins(theirs)))
            return clone(theirs)
        if upstream_changed and mine != theirs:
            shown_base = None if base is ABSENT else to_builtins(base)
            self.conflicts.append(Conflict(path, to_builtins(mine), to_builtins(theirs), shown_base))
        return mine
