"""Merge policies: reconcile the desired spec with the upstream spec (and the applied spec as common base).

All functions are pure and never mutate their inputs. Results may share unchanged sub-objects with the
inputs, so treat specs as immutable values (replace, do not mutate).

Policies (DESIGN.md, "Sync"):

* ``rancher``: Rancher's rule, skipped while an update is in progress (spec != applied spec).
* ``three-way``: applied spec as common base; upstream-only changes adopted, local-only changes pushed,
  changes on both sides are conflicts that local wins.
* ``desired-wins``: the spec never changes; every drift is pushed back.
* ``observe``: the spec never changes; nothing is pushed.

``push`` is always ``diff_fields(result.spec, upstream)``: the managed paths where AWS differs from what
the spec now says. It is pure data; the actor still decides what the operator can reconcile (ipFamily,
secretsEncryption, kmsKey and the node-group subnets/nodeRole/gpu/arm/spot settings are immutable after
create, see eks-operator-behavior.md section 6.3).
"""

from __future__ import annotations

from typing import Any

import msgspec

from controlplane.api import EKSClusterConfigSpec, NodeGroup, SyncPolicy

from ._changes import ABSENT, Conflict, FieldChange, Marker, MergeLog, clone, to_builtins
from ._diff import (
    JSON_NAMES,
    NODEGROUP_FIELDS,
    SYNCED_FIELDS,
    by_name,
    diff_fields,
    is_unset,
    nodegroup_path,
)


class MergeResult(msgspec.Struct, frozen=True):
    """The spec to store, what was adopted from upstream, the conflicts, and the paths to push."""

    spec: EKSClusterConfigSpec
    adopted: list[FieldChange]
    conflicts: list[Conflict]
    push: list[str]

    @property
    def spec_changed(self) -> bool:
        """True when the returned spec differs from the input (only adoption changes it)."""
        return bool(self.adopted)


def update_in_progress(spec: EKSClusterConfigSpec, applied: EKSClusterConfigSpec | None) -> bool:
    """Rancher's gate: the spec differs from the applied spec (null vs ``[]`` differ); None applied counts
    as in progress (before the first applied-spec record no sync happens)."""
    return applied is None or spec != applied


def _rancher(
    spec: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec
) -> tuple[EKSClusterConfigSpec, list[FieldChange]]:
    changes: dict[str, Any] = {}
    adopted: list[FieldChange] = []
    for attr in SYNCED_FIELDS:
        mine, theirs = getattr(spec, attr), getattr(upstream, attr)
        # Rancher iterates the keys of the upstream JSON map: a null upstream value is absent there
        # (ipFamily is omitempty), so the spec keeps its value.
        if mine is None or theirs is None or mine == theirs:
            continue
        changes[attr] = clone(theirs)
        adopted.append(FieldChange(JSON_NAMES[attr], to_builtins(mine), to_builtins(theirs)))
    if not changes:
        return spec, adopted
    return msgspec.structs.replace(spec, **changes), adopted


def rancher_merge(spec: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec) -> EKSClusterConfigSpec:
    """Rancher's spec sync: every managed (non-null) synced field is replaced wholesale by the upstream
    value (lists, maps and ``nodeGroups`` whole; ``[]``/``{}`` are managed); null fields stay null; the seven
    forced fields never change. Apply only when ``not update_in_progress(spec, applied)``."""
    return _rancher(spec, upstream)[0]


class _Merger(MergeLog):
    """One three-way merge: collects adopted changes and conflicts while walking the fields."""

    def nodegroup(self, name: str, mine: NodeGroup, base: NodeGroup | Marker, theirs: NodeGroup) -> NodeGroup:
        changes: dict[str, Any] = {}
        for attr in NODEGROUP_FIELDS:
            value = getattr(mine, attr)
            if is_unset(attr, value):
                continue  # unmanaged inside a managed list: stays unset, never adopted
            if isinstance(base, NodeGroup):
                base_value = getattr(base, attr)
                field_base: Any = None if is_unset(attr, base_value) else base_value
            else:
                field_base = base
            theirs_value = getattr(theirs, attr)
            if is_unset(attr, theirs_value):
                continue  # upstream reports nothing: no upstream change to adopt or conflict with
            merged = self.value(nodegroup_path(name, attr), value, field_base, theirs_value)
            if merged is not value:
                changes[attr] = merged
        return msgspec.structs.replace(mine, **changes) if changes else mine

    def nodegroups(
        self, mine: list[NodeGroup], base: list[NodeGroup] | None, theirs: list[NodeGroup] | None
    ) -> list[NodeGroup]:
        if theirs is None:
            return mine
        mine_map, theirs_map = by_name(mine), by_name(theirs)
        base_map = by_name(base) if base is not None else theirs_map
        if mine_map is None or theirs_map is None or base_map is None:
            # Repeated names: no key to merge by, so the list is one value.
            merged: list[NodeGroup] = self.value(JSON_NAMES["node_groups"], mine, base, theirs)
            return merged
        out: list[NodeGroup] = []
        changed = False
        for name, ng in mine_map.items():
            up, was = theirs_map.get(name), base_map.get(name)
            if up is None:
                if was is not None and ng == was:
                    # Deleted upstream, untouched locally: adopt the deletion.
                    self.adopted.append(FieldChange(nodegroup_path(name), to_builtins(ng), None))
                    changed = True
                    continue
                if was is not None:
                    # Deleted upstream, edited locally: local wins (the group is recreated).
                    self.conflicts.append(
                        Conflict(nodegroup_path(name), to_builtins(ng), None, to_builtins(was))
                    )
                out.append(ng)  # kept; a local-only addition when it was never applied
                continue
            merged_ng = self.nodegroup(name, ng, was if was is not None else ABSENT, up)
            changed = changed or merged_ng is not ng
            out.append(merged_ng)
        for name, up in theirs_map.items():
            if name in mine_map:
                continue
            was = base_map.get(name)
            if was is None:
                # Added upstream only: adopt it into the managed list.
                self.adopted.append(FieldChange(nodegroup_path(name), None, to_builtins(up)))
                out.append(clone(up))
                changed = True
            elif _changed_upstream(was, up):
                # Deleted locally, edited upstream: local wins (the group is deleted).
                self.conflicts.append(Conflict(nodegroup_path(name), None, to_builtins(up), to_builtins(was)))
            # else deleted locally only: stays deleted and is pushed.
        return out if changed else mine


def _changed_upstream(base: NodeGroup, theirs: NodeGroup) -> bool:
    for attr in NODEGROUP_FIELDS:
        was, now = getattr(base, attr), getattr(theirs, attr)
        if not is_unset(attr, was) and not is_unset(attr, now) and was != now:
            return True
    return False


def three_way_merge(
    spec: EKSClusterConfigSpec, applied: EKSClusterConfigSpec | None, upstream: EKSClusterConfigSpec
) -> MergeResult:
    """Three-way merge with the applied spec as common base, per managed field.

    For every synced field managed (non-null) in ``spec`` (null fields are never touched):

    * changed only upstream (``upstream != applied``, ``spec == applied``): adopted into the spec;
    * changed only locally (``spec != applied``, ``upstream == applied``): kept, and pushed;
    * changed on both sides to different values: a Conflict; the local value is kept and pushed;
    * both sides made the same change, or nothing changed: nothing to do.

    ``nodeGroups`` is merged per node group (keyed by ``nodegroupName``) and, inside a group present on all
    sides, per field. A group deleted only upstream is removed from the spec; one added only upstream is
    added (the list is managed); deleted upstream but edited locally, or deleted locally but edited
    upstream, is a conflict that local wins. Fields left null inside a spec node group stay null.

    No base: when ``applied`` is None (nothing applied yet, e.g. just imported), or a field or node group
    list was null in it (not managed then), the upstream value is taken as the base. So nothing is adopted
    for that field and a differing local value is a local change to push: like the operator's import, a
    managed value the user wrote wins. A null field is still never adopted nor pushed, so an imported
    cluster whose spec is all null is never modified and never pushes. A null upstream value (AWS reports
    nothing, e.g. no ``ipFamily``) is no upstream change.
    """
    merger = _Merger()
    changes: dict[str, Any] = {}
    for attr in SYNCED_FIELDS:
        mine = getattr(spec, attr)
        if mine is None:
            continue
        base = getattr(applied, attr) if applied is not None else None
        theirs = getattr(upstream, attr)
        if attr == "node_groups":
            merged = merger.nodegroups(mine, base, theirs)
        else:
            merged = merger.value(JSON_NAMES[attr], mine, base, theirs)
        if merged is not mine:
            changes[attr] = merged
    result = msgspec.structs.replace(spec, **changes) if changes else spec
    return MergeResult(result, merger.adopted, merger.conflicts, diff_fields(result, upstream))


def desired_wins(spec: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec) -> MergeResult:
    """GitOps enforcement: the spec is unchanged and every drifted managed field is pushed back."""
    return MergeResult(spec, [], [], diff_fields(spec, upstream))


def observe(spec: EKSClusterConfigSpec) -> MergeResult:
    """Read-only: the spec is unchanged and nothing is pushed."""
    return MergeResult(spec, [], [], [])


def reconcile(
    policy: SyncPolicy,
    spec: EKSClusterConfigSpec,
    applied: EKSClusterConfigSpec | None,
    upstream: EKSClusterConfigSpec,
) -> MergeResult:
    """The one entry point, used on every refresh and right before any push.

    ``rancher`` applies Rancher's gate itself: while ``update_in_progress(spec, applied)`` the spec is left
    alone and its differences are pushed; otherwise it is overwritten per ``rancher_merge``. ``three-way``
    needs no gate (the applied spec is its base).
    """
    if policy is SyncPolicy.RANCHER:
        if update_in_progress(spec, applied):
            return MergeResult(spec, [], [], diff_fields(spec, upstream))
        merged, adopted = _rancher(spec, upstream)
        return MergeResult(merged, adopted, [], diff_fields(merged, upstream))
    if policy is SyncPolicy.THREE_WAY:
        return three_way_merge(spec, applied, upstream)
    if policy is SyncPolicy.DESIRED_WINS:
        return desired_wins(spec, upstream)
    return observe(spec)
