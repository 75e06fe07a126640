"""The refresh on a sync tick and the merge policy run before any push (DESIGN.md, Sync)."""

from __future__ import annotations

import contextlib

import msgspec

from controlplane.api import EKSClusterConfigSpec, SyncPolicy
from controlplane.metrics import SYNC_ADOPTED, SYNC_CONFLICTS
from controlplane.store import Conflict as StoreConflict
from controlplane.sync import (
    MergeResult,
    UpstreamBuildError,
    reconcile,
    syncing_error_message,
    syncing_failed_message,
)

from . import _conditions as cond
from ._conditions import now_rfc3339
from ._context import Pass
from ._observe import Observation


def store_upstream(p: Pass, obs: Observation) -> None:
    """Record Rancher's upstream spec when it can be built (an update pass never fails on it)."""
    record_version_support(p, obs)
    with contextlib.suppress(UpstreamBuildError):
        p.status.eks_status.upstream_spec = obs.upstream(p).spec


def record_version_support(p: Pass, obs: Observation) -> None:
    """EKS's support status of the cluster's Kubernetes version (``controlplane get`` warns on extended)."""
    if obs.version_support is not None:
        eks = p.status.eks_status
        eks.version_support_of, eks.version_support = obs.version_support


async def _write_spec(p: Pass, spec: EKSClusterConfigSpec) -> bool:
    """Compare-and-swap the adopted spec; False when a user's write got there first."""
    try:
        stored = await p.deps.store.update_spec(
            p.name,
            msgspec.structs.replace(p.cluster.spec, eks_config=spec),
            expected_resource_version=p.cluster.metadata.resource_version,
            fence=p.fence,
        )
    except StoreConflict:
        return False
    p.cluster.metadata = stored.metadata
    p.cluster.spec = stored.spec
    return True


def _record(p: Pass, result: MergeResult) -> None:
    for change in result.adopted:
        SYNC_ADOPTED.inc()
        p.event(
            "Adopted", f"{change.path} changed in AWS: adopted {_show(change.old)} -> {_show(change.new)}"
        )
    messages: list[str] = []
    for c in result.conflicts:
        SYNC_CONFLICTS.inc()
        text = f"{c.path}: local {_show(c.local)} kept over AWS {_show(c.upstream)}"
        messages.append(text)
        p.event("Conflict", f"changed both here and in AWS: {text}", warning=True)
    generation = f"Generation{p.cluster.metadata.generation}"
    if messages:
        p.status.sync_conflicts = [c.path for c in result.conflicts]
        cond.set_condition(p.status, cond.CONFLICT, "True", "; ".join(messages))
        cond.set_reason(p.status, cond.CONFLICT, generation)
    elif cond.get_reason(p.status, cond.CONFLICT) != generation:
        # A conflict stays visible until the user writes a new spec (the local value was pushed).
        p.status.sync_conflicts = []
        cond.set_condition(p.status, cond.CONFLICT, "False", "")


def _show(value: object) -> str:
    return "null" if value is None else msgspec.json.encode(value).decode()


async def adopt_before_push(p: Pass, obs: Observation) -> EKSClusterConfigSpec | None:
    """The desired spec to push after the policy ran; None if the spec changed under us (retry)."""
    policy = p.cluster.spec.sync_policy
    if policy != SyncPolicy.THREE_WAY:
        return p.spec  # rancher and desired-wins push the spec as it is
    try:
        upstream = obs.upstream(p).spec
    except UpstreamBuildError:
        return p.spec
    result = reconcile(policy, p.spec, p.status.applied_spec, upstream)
    if result.spec != p.spec and not await _write_spec(p, result.spec):
        return None
    _record(p, result)  # after the write: a conflict belongs to the generation it was kept in
    return result.spec


async def refresh(p: Pass, obs: Observation | None, error: Exception | None) -> bool:
    """Apply one refresh: store the upstream spec and run the policy. True when a push is needed.

    ``obs`` is None when reading AWS failed (``error`` says why): Rancher's total sync failure.
    """
    if obs is None:
        cond.set_condition(p.status, cond.UPDATED, "False", syncing_failed_message(error or "unknown"))
        return False
    record_version_support(p, obs)
    try:
        result = obs.upstream(p)
    except UpstreamBuildError as exc:
        cond.set_condition(p.status, cond.UPDATED, "False", syncing_failed_message(exc))
        return False
    p.status.eks_status.upstream_spec = result.spec
    p.status.last_sync_time = now_rfc3339()
    health = syncing_error_message(result)
    if health:
        cond.set_condition(p.status, cond.UPDATED, "False", health)
    elif cond.get(p.status, cond.UPDATED)[1].startswith(cond.SYNC_ERROR_PREFIX):
        cond.set_condition(p.status, cond.UPDATED, "True", "")
    policy = p.cluster.spec.sync_policy
    merged = reconcile(policy, p.spec, p.status.applied_spec, result.spec)
    if merged.spec != p.spec and not await _write_spec(p, merged.spec):
        return True  # a user write raced us: reconcile against it
    if policy == SyncPolicy.THREE_WAY:
        _record(p, merged)
    push = bool(merged.push) and policy != SyncPolicy.OBSERVE
    if not push and merged.spec != p.status.applied_spec and policy != SyncPolicy.OBSERVE:
        # Everything the spec says is what AWS has (adopted or already there): it is applied.
        p.status.applied_spec = merged.spec
    return push
