"""Comparing and merging one element of a keyed list field by field (node groups, access entries, ...).

An element is a msgspec struct. Its key fields are its identity and are never compared. Every other field
is *managed* when set in the desired element (``ignored`` says when a set value still means "not managed":
``""`` for a node group's ``instanceType``, a symbolic add-on version, an instruction such as
``resolveConflicts`` that AWS never reports); an unmanaged field is never pushed nor adopted. A field that
is itself a keyed list (taints in a node group, access policies in an access entry) is merged with
``keyed_diff`` at its own path, so the rules of the outer list hold inside it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgspec

from controlplane.api import SyncPolicy

from ._changes import ABSENT, MergeLog
from ._keyed import KeyedList, keyed_diff

S = TypeVar("S", bound=msgspec.Struct)


def unset_if_none(attr: str, value: object) -> bool:
    """The default: only null is unmanaged."""
    return value is None


class Fields(msgspec.Struct, frozen=True):
    """How the fields of one element type are compared and merged."""

    names: Mapping[str, str]
    """The compared attributes (the key fields left out) and their JSON names, in struct order."""
    ignored: Callable[[str, object], bool] = unset_if_none
    """``(attribute, value)``: True when a value of the desired (or upstream) element is unmanaged."""
    nested: Mapping[str, KeyedList[Any, Any]] = {}
    """Attributes that are keyed lists, with how each is keyed (its ``path`` is replaced by the real one)."""

    def changes(self, path: str, want: Any, have: Any) -> list[str]:
        """One path per managed field of ``want`` that differs in ``have`` (nested lists per element)."""
        out: list[str] = []
        for attr, name in self.names.items():
            value = getattr(want, attr)
            if self.ignored(attr, value):
                continue
            inner = self.nested.get(attr)
            if inner is not None:
                out += keyed_diff(
                    inner,
                    policy=SyncPolicy.DESIRED_WINS,
                    desired=value,
                    upstream=getattr(have, attr),
                    path=f"{path}.{name}",
                ).push
            elif value != getattr(have, attr):
                out.append(f"{path}.{name}")
        return out

    def merge(self, log: MergeLog, path: str, mine: S, base: S | None, theirs: S) -> S:
        """Field by field; a field unmanaged in ``mine`` stays as it is, one unset upstream reports
        nothing, one unset in the base has no known base (upstream stands in)."""
        changes: dict[str, Any] = {}
        for attr, name in self.names.items():
            value = getattr(mine, attr)
            theirs_value = getattr(theirs, attr)
            if self.ignored(attr, value) or self.ignored(attr, theirs_value):
                continue
            inner = self.nested.get(attr)
            if inner is not None:
                nested = keyed_diff(
                    inner,
                    policy=SyncPolicy.THREE_WAY,
                    desired=value,
                    upstream=theirs_value,
                    base=[] if base is None else getattr(base, attr),  # a new element had none
                    path=f"{path}.{name}",
                )
                log.adopted += nested.adopted
                log.conflicts += nested.conflicts
                merged = nested.merged
            else:
                if base is None:
                    field_base: Any = ABSENT
                else:
                    base_value = getattr(base, attr)
                    field_base = None if self.ignored(attr, base_value) else base_value
                merged = log.value(f"{path}.{name}", value, field_base, theirs_value)
            if merged is not value:
                changes[attr] = merged
        return msgspec.structs.replace(mine, **changes) if changes else mine


def fields_of(struct: type[msgspec.Struct], *, keys: tuple[str, ...], **options: Any) -> Fields:
    """``Fields`` for every attribute of ``struct`` except its key attributes."""
    names = {f.name: f.encode_name for f in msgspec.structs.fields(struct) if f.name not in keys}
    return Fields(names=names, **options)


def keyed(
    path: str,
    key: Callable[[Any], Any],
    fields: Fields | None = None,
    *,
    label: Callable[[Any], str] = str,
) -> KeyedList[Any, Any]:
    """A keyed list whose elements are compared and merged field by field (whole when ``fields`` is None)."""
    if fields is None:
        return KeyedList(path=path, key=key, label=label)
    return KeyedList(path=path, key=key, label=label, changes=fields.changes, merge=fields.merge)
