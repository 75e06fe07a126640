"""Fargate profiles: created and deleted to match ``fargateProfiles``, one at a time.

EKS lets a cluster have one profile CREATING or DELETING at a time, and profiles are immutable: a changed
profile is deleted, then created again once it is gone (only its tags change in place). So each pass
makes at most one create or delete, and waits while a profile is in flight.
"""

from __future__ import annotations

import contextlib

from controlplane.api import EKSClusterConfigSpec, FargateProfile, SyncPolicy
from controlplane.aws import AwsError, NotFoundError, ResourceInUseError
from controlplane.sync import FARGATE_PROFILES, keyed_diff

from ._context import Pass, ReconcileError, Requeue
from ._observe import Observation

IN_FLIGHT = frozenset({"CREATING", "DELETING"})


def in_flight(obs: Observation) -> list[str]:
    """The profiles being created or deleted right now."""
    return [
        str(f.get("fargateProfileName"))
        for f in obs.extras.fargate_profiles or []
        if f.get("status") in IN_FLIGHT
    ]


async def push(
    p: Pass, desired: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec, obs: Observation
) -> Requeue:
    """One step towards the desired profiles: a delay while one is in flight or after a call, None when
    the profiles match."""
    want = desired.fargate_profiles
    if want is None:
        return None
    d = keyed_diff(
        FARGATE_PROFILES,
        policy=SyncPolicy.DESIRED_WINS,
        desired=want,
        upstream=upstream.fargate_profiles or [],
    )
    busy = in_flight(obs)
    if not d.mutates:
        return p.wait() if busy else None
    if busy:
        return p.wait()  # EKS: one profile CREATING or DELETING per cluster
    arns = {
        str(f.get("fargateProfileName")): str(f.get("fargateProfileArn") or "")
        for f in obs.extras.fargate_profiles or []
    }
    try:
        for u in d.updates:
            if all(path.endswith(".tags") for path in u.paths):
                await _retag(p, arns[u.have.name or ""], u.want, u.have)
            else:
                return await _delete(p, u.have, "changed: replaced")
        for profile in d.deletes:
            return await _delete(p, profile, "deleted")
        for profile in d.creates:
            return await _create(p, profile)
    except ResourceInUseError:
        return p.wait()  # another profile started moving meanwhile (a console, another tool)
    except AwsError as exc:
        raise ReconcileError(f"error updating Fargate profiles: {exc}") from exc
    return 0


async def _retag(p: Pass, arn: str, want: FargateProfile, have: FargateProfile) -> None:
    tags, current = want.tags or {}, have.tags or {}
    add = {k: v for k, v in tags.items() if current.get(k) != v}
    remove = [k for k in current if k not in tags]
    if add:
        await p.scope.tag_resource(arn, add)
    if remove:
        await p.scope.untag_resource(arn, remove)


async def _delete(p: Pass, profile: FargateProfile, why: str) -> Requeue:
    await p.scope.delete_fargate_profile(p.display, profile.name or "")
    p.event("FargateProfileDeleting", f"Fargate profile {profile.name} {why}")
    return p.wait()


async def _create(p: Pass, profile: FargateProfile) -> Requeue:
    name = profile.name or ""
    intent = f"CreateFargateProfile/{name}"
    await p.scope.create_fargate_profile(
        p.display,
        name,
        profile.pod_execution_role_arn or "",
        subnets=profile.subnets or None,  # none: EKS picks the cluster's private subnets
        selectors=[
            {k: v for k, v in (("namespace", s.namespace), ("labels", s.labels)) if v is not None}
            for s in profile.selectors or []
        ],
        tags=profile.tags,
        client_request_token=p.token(intent),
    )
    p.sent(intent)
    p.event("FargateProfileCreating", f"Fargate profile {name} requested")
    return p.wait()


async def gone(p: Pass) -> bool:
    """Delete phase: True once the cluster has no Fargate profile (EKS refuses DeleteCluster before);
    deletes one at a time, as EKS allows."""
    try:
        names = await p.scope.list_fargate_profiles(p.display)
    except NotFoundError:
        return True
    if not names:
        return True
    profiles = []
    for name in names:
        try:
            profiles.append(await p.scope.describe_fargate_profile(p.display, name))
        except NotFoundError:
            continue
    if any(f.get("status") in IN_FLIGHT for f in profiles):
        return False
    if profiles:
        with contextlib.suppress(ResourceInUseError, NotFoundError):
            await p.scope.delete_fargate_profile(p.display, str(profiles[0].get("fargateProfileName")))
            p.event(
                "FargateProfileDeleting", f"Fargate profile {profiles[0].get('fargateProfileName')} deleted"
            )
    return False
