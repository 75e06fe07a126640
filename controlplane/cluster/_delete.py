"""Phase ``deleting``: remove everything we created, wait until AWS is really clean, then forget.

Unlike the operator (reference section 8 and defects 6-7): every upstream node group is deleted (not only
those in the spec, which would block DeleteCluster), the cluster and every stack are waited for, a
stack that fails to delete is retried and reported, a create that failed in phase ``""`` still has its
partial stacks removed, and the OIDC provider we created is removed. Imported clusters are never
touched in AWS.
"""

from __future__ import annotations

import contextlib

from controlplane.api import Phase
from controlplane.aws import NotFoundError

from . import _fargate, _plan
from ._context import Next, Pass, Requeue

GONE = Next(Phase.DELETING, None, gone=True)


async def delete(p: Pass) -> Next:
    """Phase ``deleting``: ``GONE`` once AWS is clean (the actor then drops the cluster), else poll."""
    after = await _remove_everything(p)
    return GONE if after is None else p.stay(after)


async def _remove_everything(p: Pass) -> Requeue:
    """None once AWS is clean; otherwise seconds until the next poll."""
    if p.spec.imported:
        return None
    name = p.display
    if p.status.create_request_token:  # CreateCluster was called at least once
        remaining = await _nodegroups_gone(p)
        if not remaining:
            return p.wait()
        if not await _fargate.gone(p):
            return p.wait()
        await _launch_template_gone(p)
        if not await _cluster_gone(p):
            return p.wait()
    stacks: list[str] = []
    if p.spec.ebs_csi_driver:
        stacks.append(_plan.ebs_role_stack_name(name))
    # Stacks we may have started, even if the create died before recording them: deterministic names
    # make "is it there?" one DescribeStacks call.
    if not p.spec.service_role:
        stacks.append(_plan.service_role_stack_name(name))
    if not p.spec.subnets:
        stacks.append(_plan.vpc_stack_name(name))
    stacks.append(_plan.node_role_stack_name(name))
    gone = [await p.stack_gone(stack) for stack in stacks]
    if not all(gone):
        return p.stack_poll()
    if p.status.created_oidc_provider_arn:
        with contextlib.suppress(NotFoundError):
            await p.scope.delete_open_id_connect_provider(p.status.created_oidc_provider_arn)
        p.status.created_oidc_provider_arn = ""
    return None


async def _nodegroups_gone(p: Pass) -> bool:
    try:
        names = await p.scope.list_nodegroups(p.display)
    except NotFoundError:
        return True
    for ng in names:
        try:
            current = await p.scope.describe_nodegroup(p.display, ng)
        except NotFoundError:
            continue
        if current.get("status") != "DELETING":
            await p.scope.delete_nodegroup(p.display, ng)
            p.event("NodegroupDeleting", f"node group {ng} deleted")
    return not names


async def _launch_template_gone(p: Pass) -> None:
    lt_id = p.status.eks_status.managed_launch_template_id
    if not lt_id:
        return
    with contextlib.suppress(NotFoundError):
        await p.scope.delete_launch_template(lt_id)
    p.status.eks_status.managed_launch_template_id = ""
    p.status.eks_status.managed_launch_template_versions = {}
    p.status.template_versions_to_delete = []


async def _cluster_gone(p: Pass) -> bool:
    try:
        cluster = await p.scope.describe_cluster(p.display)
    except NotFoundError:
        return True
    if cluster.get("deletionProtection") and p.spec.deletion_protection is False:
        # Turned off in the spec, not yet in AWS (the delete came right after the edit): do it first.
        if cluster.get("status") == "ACTIVE":
            intent = "UpdateCluster/deletion-protection"
            await p.scope.update_cluster_config(
                p.display, deletion_protection=False, client_request_token=p.token(intent)
            )
            p.sent(intent)
            p.event("Updating", "turn deletion protection off before deleting the cluster")
        return False
    if cluster.get("status") != "DELETING":
        await p.scope.delete_cluster(p.display)
        p.event("Deleting", f"EKS cluster {p.display} deleted")
    return False
