"""Managed node groups: the managed launch template, the node role, create, delete and update."""

from __future__ import annotations

from typing import Any

from controlplane.api import EKSClusterConfigSpec, NodeGroup, SyncPolicy
from controlplane.aws import AlreadyExistsError, AwsError, NotFoundError, ResourceInUseError, Template, render

from . import _plan
from ._context import Pass, ReconcileError
from ._observe import Observation


async def ensure_managed_launch_template(p: Pass) -> str:
    """The per-cluster ``rancher-managed-lt-<name>``; version 1 is a placeholder no node group uses."""
    eks = p.status.eks_status
    if eks.managed_launch_template_id:
        try:
            await p.scope.describe_launch_templates(ids=[eks.managed_launch_template_id])
            return eks.managed_launch_template_id
        except NotFoundError:
            pass
        except AwsError as exc:
            raise ReconcileError(
                "error getting or creating launch template: error checking for existing launch template: "
                f"{exc}"
            ) from exc
    name = _plan.launch_template_name(p.display)
    try:
        created = await p.scope.create_launch_template(
            name,
            {"UserData": _plan.PLACEHOLDER_USER_DATA},
            tags={_plan.LAUNCH_TEMPLATE_TAG_KEY: _plan.LAUNCH_TEMPLATE_TAG_VALUE},
        )
        lt_id = str(created["LaunchTemplateId"])
    except AlreadyExistsError:
        # Created by an earlier attempt that died before recording the ID: adopt it (the name is ours).
        found = await p.scope.describe_launch_templates(names=[name])
        if not found:
            raise ReconcileError(f"error getting or creating launch template: {name} vanished") from None
        lt_id = str(found[0]["LaunchTemplateId"])
    except AwsError as exc:
        raise ReconcileError(f"error getting or creating launch template: {exc}") from exc
    eks.managed_launch_template_id = lt_id
    await p.persist()
    return lt_id


async def node_role(p: Pass, ng: NodeGroup) -> str | None:
    """The node role ARN; None while the shared node-role stack is being created."""
    if ng.node_role:
        return ng.node_role
    eks = p.status.eks_status
    if eks.generated_node_role:
        return eks.generated_node_role
    template = Template.NODE_INSTANCE_ROLE_IPV6 if _plan.is_ipv6(p.spec) else Template.NODE_INSTANCE_ROLE
    outputs = await p.ensure_stack(
        _plan.node_role_stack_name(p.display),
        lambda: render(template, p.spec.region),
        capabilities=("CAPABILITY_IAM",),
        error_prefix="error creating nodegroup: error getting node instance role template",
    )
    if outputs is None:
        return None
    eks.generated_node_role = outputs.get("NodeInstanceRole", "")
    await p.persist()
    return eks.generated_node_role


async def _root_device(p: Pass, ng: NodeGroup) -> str:
    if not ng.image_id:
        return _plan.DEFAULT_ROOT_DEVICE
    images = await p.scope.describe_images([ng.image_id])
    if not images:
        raise ReconcileError(f"no images returned for id {ng.image_id}")
    return str(images[0].get("RootDeviceName") or _plan.DEFAULT_ROOT_DEVICE)


async def new_managed_version(p: Pass, lt_id: str, ng: NodeGroup) -> int:
    try:
        data = _plan.launch_template_data(ng, await _root_device(p, ng))
    except _plan.UserDataError as exc:
        raise ReconcileError(str(exc)) from exc
    created = await p.scope.create_launch_template_version(lt_id, data)
    return int(created["VersionNumber"])


async def create(p: Pass, ng: NodeGroup, desired: EKSClusterConfigSpec) -> float | None:
    """Create one node group; a float means "poll again" (node role stack in progress)."""
    name = ng.nodegroup_name or ""
    lt_id = await ensure_managed_launch_template(p)
    role = await node_role(p, ng)
    if role is None:
        return p.stack_poll()
    version_created: int | None = None
    if ng.launch_template is None:
        version_created = await new_managed_version(p, lt_id, ng)
        launch_template = {"id": lt_id, "version": str(version_created)}
    else:
        launch_template = {"id": ng.launch_template.id or ""}
        if ng.launch_template.version:
            launch_template["version"] = str(ng.launch_template.version)
    spot = bool(ng.request_spot_instances)
    version = _plan.nodegroup_version(ng, desired.kubernetes_version)
    intent = f"CreateNodegroup/{name}"
    try:
        await p.scope.create_nodegroup(
            p.display,
            name,
            role,
            ng.subnets or p.status.eks_status.subnets,
            scaling_config=_scaling(ng),
            labels={k: v or "" for k, v in (ng.labels or {}).items()},
            tags=dict(ng.resource_tags) if ng.resource_tags else None,
            launch_template=launch_template,
            instance_types=list(ng.spot_instance_types or []) if spot else None,
            ami_type=_plan.ami_type(ng),
            capacity_type="SPOT" if spot else "ON_DEMAND",
            # EKS refuses a version next to a launch template that names its own AMI.
            version=version if not ng.image_id and ng.launch_template is None else None,
            taints=_plan.wire_taints(ng.taints) if ng.taints else None,
            update_config=_plan.wire_update_config(ng.update_config) if ng.update_config else None,
            client_request_token=p.token(intent),
        )
        p.sent(intent)
    except AwsError as exc:
        if version_created is not None:
            # Only versions of our own template are removed (the operator also deleted the user's).
            await delete_versions(p, [str(version_created)])
        if isinstance(exc, ResourceInUseError):
            raise
        raise ReconcileError(f"error creating nodegroup: {exc}") from exc
    if version_created is not None:
        p.status.eks_status.managed_launch_template_versions[name] = str(version_created)
    p.event("NodegroupCreating", f"node group {name} requested")
    return None


def _scaling(ng: NodeGroup) -> dict[str, int] | None:
    scaling = {
        k: v
        for k, v in (("desiredSize", ng.desired_size), ("maxSize", ng.max_size), ("minSize", ng.min_size))
        if v is not None
    }
    return scaling or None


async def delete(p: Pass, name: str, raw: dict[str, Any] | None) -> None:
    try:
        current = await p.scope.describe_nodegroup(p.display, name)
    except NotFoundError:
        return
    if current.get("status") != "DELETING":
        await p.scope.delete_nodegroup(p.display, name)
        p.event("NodegroupDeleting", f"node group {name} deleted")
    lt = (raw or current).get("launchTemplate") or {}
    managed = p.status.eks_status.managed_launch_template_id
    if managed and lt.get("id") == managed and lt.get("version"):
        _queue_version_delete(p, str(lt["version"]))
    p.status.eks_status.managed_launch_template_versions.pop(name, None)


def _queue_version_delete(p: Pass, version: str) -> None:
    if version not in p.status.template_versions_to_delete and version != "1":
        p.status.template_versions_to_delete.append(version)


async def update(  # noqa: PLR0917 - the pass's six views of one node group
    p: Pass,
    want: NodeGroup,
    have: NodeGroup,
    desired: EKSClusterConfigSpec,
    upstream: EKSClusterConfigSpec,
    raw: dict[str, Any],
) -> bool:
    """One node group's updates; True when a call was made (the pass then ends in ``updating``)."""
    name = want.nodegroup_name or ""
    managed_id = p.status.eks_status.managed_launch_template_id
    upstream_lt = have.launch_template
    is_managed = (
        want.launch_template is None
        and upstream_lt is not None
        and bool(managed_id)
        and upstream_lt.id == managed_id
    )
    new_version: int | None = None
    lt_input: dict[str, str] | None = None
    if upstream_lt is not None:
        target_id, target_version = None, None
        if is_managed:
            if _plan.launch_template_differs(want, have):
                new_version = await new_managed_version(p, managed_id, want)
                target_id, target_version = managed_id, new_version
        elif want.launch_template is not None:
            target_id, target_version = want.launch_template.id, want.launch_template.version
        if target_id and target_version is not None and target_version != upstream_lt.version:
            lt_input = {"id": target_id, "version": str(target_version)}
    version_input: str | None = None
    want_version = _plan.nodegroup_version(want, desired.kubernetes_version)
    # Node groups with no launch template are upgradable too (operator defect 2 fixed); a node group
    # never runs ahead of its cluster, so its upgrade waits for the cluster's.
    if want_version and (is_managed or upstream_lt is None) and want_version != have.version:
        cluster_version = upstream.kubernetes_version or ""
        if not cluster_version or _plan.parse_version(want_version) <= _plan.parse_version(cluster_version):
            version_input = want_version
    if lt_input or version_input:
        intent = f"UpdateNodegroupVersion/{name}"
        try:
            await p.scope.update_nodegroup_version(
                p.display,
                name,
                version=version_input,
                launch_template=lt_input,
                client_request_token=p.token(intent),
            )
            p.sent(intent)
        except AwsError:
            if new_version is not None:
                await delete_versions(p, [str(new_version)])
            raise
        if new_version is not None:
            if upstream_lt is not None and upstream_lt.version:
                _queue_version_delete(p, str(upstream_lt.version))
            p.status.eks_status.managed_launch_template_versions[name] = str(new_version)
        p.event("NodegroupUpdating", f"node group {name}: version/launch template update")
        return True
    # rancher and desired-wins send the spec's whole scaling config with any config update, like the
    # operator; three-way sends sizes only when one differs (see nodegroup_config_update).
    full_scaling = p.cluster.spec.sync_policy in (SyncPolicy.RANCHER, SyncPolicy.DESIRED_WINS)
    config = _plan.nodegroup_config_update(want, have, full_scaling=full_scaling)
    if config:
        intent = f"UpdateNodegroupConfig/{name}"
        await p.scope.update_nodegroup_config(
            p.display,
            name,
            labels=config.get("labels"),
            scaling_config=config.get("scalingConfig"),
            taints=config.get("taints"),
            update_config=config.get("updateConfig"),
            client_request_token=p.token(intent),
        )
        p.sent(intent)
        p.event("NodegroupUpdating", f"node group {name}: {', '.join(sorted(config))} update")
        return True
    tag_changes = _plan.nodegroup_tag_changes(want, have)
    if tag_changes:
        add, remove = tag_changes
        arn = str(raw.get("nodegroupArn") or "")
        try:
            if add:
                await p.scope.tag_resource(arn, add)
            if remove:
                await p.scope.untag_resource(arn, remove)
        except AwsError as exc:
            raise ReconcileError(f"error updating cluster tags: {exc}") from exc
        p.event("NodegroupTagged", f"node group {name}: tags updated")
        return True
    return False


async def delete_versions(p: Pass, versions: list[str]) -> None:
    """Best effort, like the operator: versions that do not exist any more count as deleted."""
    lt_id = p.status.eks_status.managed_launch_template_id
    numbers = sorted({int(v) for v in versions if v.isdigit() and v != "1"})
    if not lt_id or not numbers:
        return
    try:
        await p.scope.delete_launch_template_versions(lt_id, numbers)
    except NotFoundError:
        return


async def collect_orphan_versions(p: Pass, obs: Observation) -> None:
    """Delete managed-template versions no node group uses and nothing remembers (a crash between
    CreateLaunchTemplateVersion and the node group call would otherwise leak one; rancher #42272)."""
    lt_id = obs.managed_lt_id
    if not lt_id:
        return
    try:
        versions = await p.scope.describe_launch_template_versions(lt_id)
    except NotFoundError:
        return
    in_use = set(p.status.eks_status.managed_launch_template_versions.values())
    for ng in obs.nodegroups:
        lt = ng.get("launchTemplate") or {}
        if lt.get("id") == lt_id:
            in_use.add(str(lt.get("version") or ""))
    orphans = [
        str(v["VersionNumber"])
        for v in versions
        if str(v.get("VersionNumber")) not in in_use and not v.get("DefaultVersion")
    ]
    if orphans:
        await delete_versions(p, orphans)
        deleted = set(orphans)
        p.status.template_versions_to_delete = [
            v for v in p.status.template_versions_to_delete if v not in deleted
        ]
        p.event("LaunchTemplateVersionsCollected", f"deleted unused launch template versions {orphans}")
