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

from controlplane.api import EKSClusterConfigSpec, SyncPolicy

from ._changes import Conflict, FieldChange, MergeLog, clone, to_builtins
from ._diff import JSON_NAMES, KEYED_FIELDS, SYNCED_FIELDS, diff_fields
from ._keyed import keyed_diff


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
        rules = KEYED_FIELDS.get(attr)
        if rules is not None:
            keyed = keyed_diff(rules, policy=SyncPolicy.RANCHER, desired=mine, upstream=theirs)
            if keyed.merged is not mine:
                changes[attr] = keyed.merged
                adopted += keyed.adopted
            continue
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


def three_way_merge(
    spec: EKSClusterConfigSpec, applied: EKSClusterConfigSpec | None, upstream: EKSClusterConfigSpec
) -> MergeResult:
    """Three-way merge with the applied spec as common base, per managed field.

    For every synced field managed (non-null) in ``spec`` (null fields are never touched):

    * changed only upstream (``upstream != applied``, ``spec == applied``): adopted into the spec;
    * changed only locally (``spec != applied``, ``upstream == applied``): kept, and pushed;
    * changed on both sides to different values: a Conflict; the local value is kept and pushed;
    * both sides made the same change, or nothing changed: nothing to do.

    ``nodeGroups`` is merged by ``keyed_diff`` like every keyed list (access entries, add-ons, ...; see
    ``_features``): per node group (keyed by ``nodegroupName``) and, inside a group present on all sides,
    per field. A group deleted only upstream
    is removed from the spec; one added only upstream is added (the list is managed); deleted upstream but
    edited locally, or deleted locally but edited upstream, is a conflict that local wins. Fields left null
    inside a spec node group stay null.

    No base: when ``applied`` is None (nothing applied yet, e.g. just imported), or a field or node group
    list was null in it (not managed then), the upstream value is taken as the base. So nothing is adopted
    for that field and a differing local value is a local change to push: like the operator's import, a
    managed value the user wrote wins. A null field is still never adopted nor pushed, so an imported
    cluster whose spec is all null is never modified and never pushes. A null upstream value (AWS reports
    nothing, e.g. no ``ipFamily``) is no upstream change.
    """
    log = MergeLog()
    changes: dict[str, Any] = {}
    push: list[str] = []  # diff_fields(result, upstream), collected on the way (keyed_diff has it already)
    for attr in SYNCED_FIELDS:
        mine = getattr(spec, attr)
        if mine is None:
            continue
        base = getattr(applied, attr) if applied is not None else None
        theirs = getattr(upstream, attr)
        rules = KEYED_FIELDS.get(attr)
        if rules is not None:
            keyed = keyed_diff(rules, policy=SyncPolicy.THREE_WAY, desired=mine, upstream=theirs, base=base)
            log.adopted += keyed.adopted
            log.conflicts += keyed.conflicts
            merged = keyed.merged
            push += keyed.push
        else:
            merged = log.value(JSON_NAMES[attr], mine, base, theirs)
            if merged != theirs:
                push.append(JSON_NAMES[attr])
        if merged is not mine:
            changes[attr] = merged
    result = msgspec.structs.replace(spec, **changes) if changes else spec
    return MergeResult(result, log.adopted, log.conflicts, push)


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
