"""One keyed-set diff for every list whose elements are identified by a key.

Node groups (by name) are such a list, and so are access entries, access policies, pod-identity
associations, add-ons, Fargate profiles and taints. ``keyed_diff`` merges and compares all of them the same
way, under every sync policy (DESIGN.md, "Sync"):

* a null list is unmanaged: nothing is adopted into it, and no element is created, updated or deleted;
* ``[]`` is managed and empty: every upstream element is deleted;
* elements are matched by key, never by position; list order only decides the order of the results.

``KeyedList`` says how one such list is keyed, compared and merged; the defaults treat an element as one
value, and a list of structs merged field by field (node groups) passes its own ``changes`` and ``merge``.
A list nested in an element (access policies inside an access entry) is served by calling ``keyed_diff``
from the outer list's hooks with ``path`` set to where it sits.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

import msgspec

from controlplane.api import SyncPolicy

from ._changes import ABSENT, Conflict, FieldChange, MergeLog, clone, to_builtins

K = TypeVar("K", bound=Hashable)
E = TypeVar("E")


def whole_element_changes(path: str, want: E, have: E) -> list[str]:
    """The default field diff: an element is compared whole, at its own path."""
    return [] if want == have else [path]


def merge_whole_element(log: MergeLog, path: str, mine: E, base: E | None, theirs: E) -> E:
    """The default element merge: the element is one value under the three-way rule."""
    return log.value(path, mine, ABSENT if base is None else base, theirs)


class KeyedList(msgspec.Struct, Generic[K, E], frozen=True):
    """How one list-valued field is keyed, compared and merged."""

    path: str
    """The list's JSON path (``nodeGroups``); an element's path is ``<path>[<label(key)>]``."""
    key: Callable[[E], K]
    """The element's identity; two elements with the same key are the same element."""
    label: Callable[[K], str] = str
    """How a key is written inside the brackets of an element's path."""
    changes: Callable[[str, E, E], list[str]] = whole_element_changes
    """``(element path, want, have)``: the paths where the managed parts of ``want`` differ in ``have``;
    empty when nothing needs pushing."""
    merge: Callable[[MergeLog, str, E, E | None, E], E] = merge_whole_element
    """``(log, element path, mine, base, theirs)``: the three-way merge of an element present locally and
    upstream (``base`` None when the element did not exist in the applied spec). It reports adoptions and
    conflicts to ``log`` and returns ``mine`` itself when nothing was adopted."""

    def element_path(self, key: K, path: str | None = None) -> str:
        return f"{self.path if path is None else path}[{self.label(key)}]"


class Update(msgspec.Struct, Generic[E], frozen=True):
    """An element present on both sides whose managed parts differ: ``have`` (upstream) should become
    ``want``; ``paths`` says where they differ."""

    want: E
    have: E
    paths: list[str]


class KeyedDiff(msgspec.Struct, Generic[E], frozen=True):
    """What one keyed list should become, and what to do upstream to get there."""

    merged: list[E] | None
    """The list the spec should hold: the desired list itself unless something was adopted."""
    creates: list[E]
    """Merged elements whose key upstream lacks, in merged order."""
    updates: list[Update[E]]
    """Elements on both sides whose managed parts differ, in upstream order."""
    deletes: list[E]
    """Upstream elements whose key the (managed) merged list lacks, in upstream order."""
    push: list[str]
    """Every path where upstream differs from ``merged``: creates and updates in merged order, then deletes.
    A list that repeats a key is one value: then ``push`` is the list's path and the three lists above stay
    empty (validation refuses such lists; no element can be told apart to act on)."""
    adopted: list[FieldChange]
    """Upstream values the merge put into ``merged``."""
    conflicts: list[Conflict]
    """Elements or fields changed on both sides (three-way only); the local value is in ``merged``."""

    @property
    def mutates(self) -> bool:
        """True when anything is to be pushed upstream."""
        return bool(self.push)


def keyed_diff(
    rules: KeyedList[K, E],
    *,
    policy: SyncPolicy,
    desired: list[E] | None,
    upstream: list[E] | None,
    base: list[E] | None = None,
    path: str | None = None,
) -> KeyedDiff[E]:
    """Reconcile a desired keyed list with the upstream one (and the applied one as common base).

    Pure: the inputs are never mutated and adopted elements are copies. ``merged`` is decided by the policy,
    and creates/updates/deletes/push always take upstream to ``merged``:

    * ``observe``: ``merged`` is ``desired``; nothing is pushed.
    * ``desired-wins``: ``merged`` is ``desired``; every difference is pushed. ``base`` is not used.
    * ``rancher``: Rancher's rule for one field: a managed list is replaced whole by a non-null upstream
      list, so nothing is left to push. Its gate (spec == applied spec) is about the whole spec, so the
      caller applies it: while an update is in progress, diff with ``desired-wins`` instead.
    * ``three-way``: with ``base`` (None: not known, upstream stands in) as common base, per key: an
      element added, deleted or (per ``rules.merge``) edited only upstream is adopted; one changed only
      locally is kept and pushed; one changed on both sides is a Conflict that local wins (deleted on one
      side and edited on the other included). A null upstream list reports nothing to adopt.

    ``path`` overrides ``rules.path`` for a list nested inside an element of another list.
    """
    at = rules.path if path is None else path
    if desired is None or policy is SyncPolicy.OBSERVE:
        return KeyedDiff(desired, [], [], [], [], [], [])
    log = MergeLog()
    merged = desired
    if policy is SyncPolicy.THREE_WAY:
        merged = _three_way(rules, at, log, mine=desired, base=base, theirs=upstream)
    elif policy is SyncPolicy.RANCHER and upstream is not None and desired != upstream:
        log.adopted.append(FieldChange(at, to_builtins(desired), to_builtins(upstream)))
        merged = clone(upstream)
    return _diff(rules, at, merged, upstream, log)


def _index(items: Iterable[E], key: Callable[[E], K]) -> dict[K, E] | None:
    """Elements by key in list order, or None when a key repeats."""
    out: dict[K, E] = {}
    for item in items:
        k = key(item)
        if k in out:
            return None
        out[k] = item
    return out


def _diff(
    rules: KeyedList[K, E], at: str, merged: list[E], upstream: list[E] | None, log: MergeLog
) -> KeyedDiff[E]:
    want_map = _index(merged, rules.key)
    have_map = _index(upstream, rules.key) if upstream is not None else {}
    if want_map is None or have_map is None:
        push = [at] if merged != upstream else []
        return KeyedDiff(merged, [], [], [], push, log.adopted, log.conflicts)
    creates: list[E] = []
    push = []
    changed: dict[K, list[str]] = {}
    for k, want in want_map.items():
        if k not in have_map:
            creates.append(want)
            push.append(rules.element_path(k, at))
            continue
        paths = rules.changes(rules.element_path(k, at), want, have_map[k])
        if paths:
            changed[k] = paths
            push.extend(paths)
    updates: list[Update[E]] = []
    deletes: list[E] = []
    for k, have in have_map.items():
        if k in changed:
            updates.append(Update(want_map[k], have, changed[k]))
        elif k not in want_map:
            deletes.append(have)
            push.append(rules.element_path(k, at))
    return KeyedDiff(merged, creates, updates, deletes, push, log.adopted, log.conflicts)


def _three_way(
    rules: KeyedList[K, E],
    at: str,
    log: MergeLog,
    *,
    mine: list[E],
    base: list[E] | None,
    theirs: list[E] | None,
) -> list[E]:
    if theirs is None:
        return mine
    mine_map, theirs_map = _index(mine, rules.key), _index(theirs, rules.key)
    base_map = _index(base, rules.key) if base is not None else theirs_map
    if mine_map is None or theirs_map is None or base_map is None:
        # A repeated key: no element identity to merge by, so the list is one value.
        return log.value(at, mine, base, theirs)
    out: list[E] = []
    changed = False
    for k, element in mine_map.items():
        path = rules.element_path(k, at)
        known = k in base_map
        if k in theirs_map:
            merged = rules.merge(log, path, element, base_map[k] if known else None, theirs_map[k])
            changed = changed or merged is not element
            out.append(merged)
        elif known and element == base_map[k]:
            # Deleted upstream, untouched locally: adopt the deletion.
            log.adopted.append(FieldChange(path, to_builtins(element), None))
            changed = True
        else:
            if known:
                # Deleted upstream, edited locally: local wins (the element is recreated).
                log.conflicts.append(Conflict(path, to_builtins(element), None, to_builtins(base_map[k])))
            out.append(element)  # kept; a local-only addition when it was never applied
    for k, element in theirs_map.items():
        if k in mine_map:
            continue
        path = rules.element_path(k, at)
        if k not in base_map:
            # Added upstream only: adopt it into the managed list.
            log.adopted.append(FieldChange(path, None, to_builtins(element)))
            out.append(clone(element))
            changed = True
        elif _edited_upstream(rules, path, base_map[k], element):
            # Deleted locally, edited upstream: local wins (the element is deleted).
            log.conflicts.append(Conflict(path, None, to_builtins(element), to_builtins(base_map[k])))
        # else deleted locally only: stays deleted and is pushed.
    return out if changed else mine


def _edited_upstream(rules: KeyedList[K, E], path: str, was: E, now: E) -> bool:
    """An element was edited upstream when merging it onto an untouched local copy of its base would adopt
    something: the element's own merge rule decides what counts (e.g. only fields managed on both sides)."""
    trial = MergeLog()
    rules.merge(trial, path, was, was, now)
    return bool(trial.adopted)
