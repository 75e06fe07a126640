"""Phases ``active`` and ``updating``: eks-operator's checkAndUpdate + updateUpstreamClusterState.

Pre-flight gates first (cluster UPDATING, in-progress EKS updates, busy node groups), then at most one
cluster-level mutation per pass in the operator's order (then the authentication mode, upgrade policy and
deletion protection), then access entries, add-ons (the EBS CSI shortcut among them), Pod Identity
associations, Fargate profiles and node groups, and deferred launch-template cleanup.
Fixed on purpose (operator reference section 10): pagination everywhere,
bounded completed-update bookkeeping, node groups without a launch template are upgradable, a failed
call never deletes a version of a user's launch template, orphaned managed versions are collected,
the addon does not depend on ``nodeGroups`` being set, and a merge policy runs before any push.
"""

from __future__ import annotations

from typing import Any

from controlplane.api import EKSClusterConfigSpec, Phase, SyncPolicy
from controlplane.aws import AwsError, ResourceInUseError

from . import _access, _addon, _addons, _fargate, _nodegroups, _plan, _pod_identity
from ._context import Next, Pass, ReconcileError, Requeue
from ._create import record_endpoint
from ._observe import Observation, observe
from ._sync import adopt_before_push, store_upstream

BUSY_NODEGROUP_STATES = frozenset({"CREATING", "UPDATING", "DELETING"})


def runtime_validation(p: Pass) -> str | None:
    """validateUpdate (operator 3.2): the checks it runs at the start of every update pass."""
    spec = p.spec
    cluster_minor: int | None = None
    if spec.kubernetes_version:
        try:
            major_minor = _strict_version(spec.kubernetes_version)
        except ValueError:
            return f"invalid version format for cluster [{p.who}]: {spec.kubernetes_version}"
        cluster_minor = major_minor[1]
    errors: list[str] = []
    seen: set[str] = set()
    for ng in spec.node_groups or []:
        name = ng.nodegroup_name or ""
        if name in seen:
            errors.append(
                f"node group name [{name}] is not unique within the cluster [{p.who}] to avoid duplication"
            )
        seen.add(name)
        if ng.version is None or ng.version == "":
            continue
        try:
            ng_minor = _strict_version(ng.version)[1]
        except ValueError:
            errors.append(f"invalid version format for node group [{name}]: {ng.version}")
            continue
        if (
            cluster_minor is not None
            and ng.version != spec.kubernetes_version
            and cluster_minor - ng_minor > 3
        ):
            errors.append(
                f"versions for cluster [{spec.kubernetes_version}] and node group [{ng.version}] are not "
                "compatible: the node group version may only be up to three minor versions older than the "
                "cluster version"
            )
    return ";".join(errors) or None


def _strict_version(value: str) -> tuple[int, int]:
    parts = value.split(".")
    if len(parts) != 2 or not all(x.isdigit() and (x == "0" or not x.startswith("0")) for x in parts):
        raise ValueError(value)
    return int(parts[0]), int(parts[1])


async def _updates_in_progress(p: Pass) -> bool:
    """GetClusterUpdates: any cluster-level update not yet seen finished. Bookkeeping stays bounded:
    IDs that ListUpdates no longer returns are dropped, and at most N are kept."""
    try:
        ids = await p.scope.list_updates(p.display)
    except AwsError as exc:
        raise ReconcileError(f"failed to list updates: {exc}") from exc
    completed = set(p.status.completed_update_ids)
    in_progress = False
    newly_done: list[str] = []
    for update_id in ids:
        if update_id in completed:
            continue
        update = await p.scope.describe_update(p.display, update_id)
        if update.get("status") == "InProgress":
            in_progress = True
        else:
            newly_done.append(update_id)
    current = set(ids)
    kept = [u for u in p.status.completed_update_ids if u in current] + newly_done
    p.status.completed_update_ids = kept[-p.lifecycle.completed_update_ids_kept :]
    return in_progress


def _managed_versions_from_aws(obs: Observation) -> dict[str, str]:
    managed = obs.managed_lt_id
    out: dict[str, str] = {}
    if not managed:
        return out
    for ng in obs.nodegroups:
        lt = ng.get("launchTemplate") or {}
        if lt.get("id") == managed and ng.get("status") != "DELETING":
            out[str(ng["nodegroupName"])] = str(lt.get("version") or "")
    return out


async def check_and_update(p: Pass) -> Next:
    """Phases ``active`` and ``updating``: gates, then at most one change; ``active`` once converged."""
    problem = runtime_validation(p)
    if problem:
        raise ReconcileError(problem)  # the failure moves an active cluster to updating
    cluster = await p.scope.describe_cluster(p.display)
    record_endpoint(p, cluster)
    if cluster.get("status") == "UPDATING" or await _updates_in_progress(p):
        # Entering updating is a pass of its own (at once); staying there polls.
        return Next(Phase.UPDATING, p.wait() if p.phase == Phase.UPDATING else 0)
    obs = await observe(p, cluster=cluster)
    store_upstream(p, obs)
    if any(ng.get("status") in BUSY_NODEGROUP_STATES for ng in obs.nodegroups):
        return Next(Phase.UPDATING, p.wait())
    # AWS is the truth for which managed version each node group runs (covers a crash after create).
    if obs.managed_lt_id:
        p.status.eks_status.managed_launch_template_versions = _managed_versions_from_aws(obs)
    if p.phase == Phase.ACTIVE and p.status.template_versions_to_delete:
        await _nodegroups.delete_versions(p, p.status.template_versions_to_delete)
        p.status.template_versions_to_delete = []
        return Next(Phase.ACTIVE, 0)
    if p.cluster.spec.sync_policy == SyncPolicy.OBSERVE:
        p.converged = True
        return Next(Phase.ACTIVE, None)
    desired = await adopt_before_push(p, obs)
    if desired is None:
        return p.stay(0)  # the spec changed under us; the next pass uses the new one
    outcome: Requeue = await _push(p, desired, obs)
    if outcome is not _DONE:
        # Something is in flight (a mutation, a node group, a stack): not converged yet.
        return Next(Phase.UPDATING, outcome)
    if p.phase == Phase.UPDATING:
        await _nodegroups.collect_orphan_versions(p, obs)
    p.converged = True
    # Replaced launch-template versions are deleted by the next pass, in active (the operator's rule:
    # only once the rolling update that replaced them has finished).
    return Next(Phase.ACTIVE, 0 if p.status.template_versions_to_delete else None)


_DONE: Any = object()


async def _push(p: Pass, desired: EKSClusterConfigSpec, obs: Observation) -> Any:
    if _plan.is_ipv6(desired):
        await _addon.ensure_ipv6_oidc_provider(p, obs)  # the operator's step 0, on every pass
    upstream = obs.operator_view(p)
    if desired.kubernetes_version and upstream.kubernetes_version:
        problem = _plan.version_problem(desired.kubernetes_version, upstream.kubernetes_version)
        if problem:
            raise ReconcileError(problem)
    if desired.authentication_mode and upstream.authentication_mode:
        problem = _plan.mode_problem(desired.authentication_mode, upstream.authentication_mode)
        if problem:
            raise ReconcileError(problem)  # never sent: EKS refuses a step back
    mutation = _plan.next_cluster_mutation(desired, upstream)
    if mutation is not None:
        if mutation.kind == "version":
            problem = await _addons.upgrade_problem(p, desired, mutation.params["version"])
            if problem:
                raise ReconcileError(problem)
        await _apply_cluster_mutation(p, mutation, str(obs.cluster.get("arn") or ""))
        return 0
    # EKS's order: access (needs the mode above), add-ons (after a control-plane upgrade they move before
    # the node groups), Pod Identity (needs its agent add-on), Fargate, then node groups.
    for step in (_access.push, _addons.push, _pod_identity.push, _fargate.push):
        outcome = await step(p, desired, upstream, obs)
        if outcome is not None:
            return outcome
    if desired.node_groups is not None:
        outcome = await _push_nodegroups(p, desired, upstream, obs)
        if outcome is not _DONE:
            return outcome
    return _DONE


async def _apply_cluster_mutation(p: Pass, m: _plan.ClusterMutation, arn: str) -> None:
    scope, name = p.scope, p.display
    intent = f"UpdateCluster/{m.kind}"
    try:
        if m.kind == "version":
            await scope.update_cluster_version(
                name, m.params["version"], client_request_token=p.token(intent)
            )
        elif m.kind in ("access", "cidrs"):
            await scope.update_cluster_config(
                name,
                resources_vpc_config=m.params["resourcesVpcConfig"],
                client_request_token=p.token(intent),
            )
        elif m.kind == "logging":
            await scope.update_cluster_config(
                name, logging=m.params["logging"], client_request_token=p.token(intent)
            )
        elif m.kind == "authentication":
            await scope.update_cluster_config(
                name, access_config=m.params["accessConfig"], client_request_token=p.token(intent)
            )
        elif m.kind == "upgrade-policy":
            await scope.update_cluster_config(
                name, upgrade_policy=m.params["upgradePolicy"], client_request_token=p.token(intent)
            )
        elif m.kind == "deletion-protection":
            await scope.update_cluster_config(
                name, deletion_protection=m.params["deletionProtection"], client_request_token=p.token(intent)
            )
        else:
            if m.params["add"]:
                try:
                    await scope.tag_resource(arn, m.params["add"])
                except AwsError as exc:
                    raise ReconcileError(
                        f"error updating cluster tags: error tagging cluster []: {exc}"
                    ) from exc
            if m.params["remove"]:
                try:
                    await scope.untag_resource(arn, m.params["remove"])
                except AwsError as exc:
                    raise ReconcileError(
                        f"error updating cluster tags: error untagging cluster []: {exc}"
                    ) from exc
    except ResourceInUseError:
        raise  # as is: an UpdateInProgressError clears the failure message and the pass is retried
    except AwsError as exc:
        outer, inner = _MUTATION_ERRORS[m.kind]
        raise ReconcileError(f"{outer}: error updating cluster [{p.who}] {inner}: {exc}") from exc
    p.sent(intent)
    p.event("Updating", m.description)


_MUTATION_ERRORS = {
    "version": ("error updating cluster version", "kubernetes version"),
    "access": ("error updating cluster access config", "public/private access"),
    "cidrs": ("error updating cluster public access sources", "public access sources"),
    "logging": ("error updating logging types", "logging types"),
    "authentication": ("error updating authentication mode", "authentication mode"),
    "upgrade-policy": ("error updating upgrade policy", "upgrade policy"),
    "deletion-protection": ("error updating deletion protection", "deletion protection"),
}


async def _push_nodegroups(
    p: Pass, desired: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec, obs: Observation
) -> Any:
    plan = _plan.nodegroup_plan(desired, upstream)
    raw = {str(ng["nodegroupName"]): ng for ng in obs.nodegroups}
    changed = False
    for ng in plan.creates:
        if ng.nodegroup_name not in raw:
            outcome = await _nodegroups.create(p, ng, desired)
            if outcome is not None:
                return outcome
            changed = True
    for ng in plan.deletes:
        name = ng.nodegroup_name or ""
        await _nodegroups.delete(p, name, raw.get(name))
        changed = True
    if changed:
        await p.persist()
        return 0
    updated = False
    for pair in plan.updates:
        raw_ng = raw[pair.have.nodegroup_name or ""]
        updated = await _nodegroups.update(p, pair.want, pair.have, desired, upstream, raw_ng) or updated
    if updated:
        return 0
    return _DONE
