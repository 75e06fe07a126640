"""Node groups: CreateNodegroup, DescribeNodegroup, ListNodegroups, DeleteNodegroup, and their
config and version updates."""

from __future__ import annotations

import uuid

import msgspec

from . import _errors as err
from ._access import ensure_compute_entry
from ._backend import EksBackend, Resource, settle, start_deleting
from ._model import ClusterRec, NodegroupRec, Taint, UpdateRec, render_nodegroup
from ._nodegroup_config import (
    apply_changes,
    check_scaling,
    check_update_config,
    check_version,
    config_plan,
    taint,
    version_plan,
)
from ._rules import check_name, check_role, check_tags, minor, release_version
from ._shapes import (
    CreateNodegroupIn,
    LaunchTemplateIn,
    UpdateNodegroupConfigIn,
    UpdateNodegroupVersionIn,
)
from ._updates import Plan, in_progress, refuse_if_nodegroup_updating, refuse_if_updating, request_update
from ._wire import Json, decode, page_answer

_CAPACITY_TYPES = ("ON_DEMAND", "SPOT", "CAPACITY_BLOCK")


def _nodegroup(c: ClusterRec, name: str) -> NodegroupRec:
    n = c.nodegroups.get(name)
    if n is None:
        raise err.nodegroup_not_found(c.name, name)
    return n


def _resolve_lt(b: EksBackend, region: str, lt: LaunchTemplateIn) -> dict[str, str]:
    if not lt.id and not lt.name:
        raise err.invalid_parameter("launchTemplate needs an id or a name.")
    if lt.id and lt.name:
        raise err.invalid_parameter("Specify either launchTemplate id or name, not both.")
    try:
        found = b.lookup.launch_template(region, lt.id, lt.name, lt.version)
    except LookupError as e:
        raise err.invalid_parameter(
            f"Launch template version {lt.version} does not exist for launch template {lt.id or lt.name}."
        ) from e
    if found is None:
        raise err.invalid_parameter(f"Launch template {lt.id or lt.name} does not exist.")
    return found


def new_nodegroup(
    b: EksBackend,
    c: ClusterRec,
    name: str,
    *,
    version: str,
    min_size: int,
    max_size: int,
    desired_size: int,
    subnets: list[str],
    node_role: str,
    instance_types: list[str] | None,
    disk_size: int | None,
    ami_type: str,
    capacity_type: str,
    labels: dict[str, str],
    taints: list[Taint],
    tags: dict[str, str],
    launch_template: dict[str, str] | None,
    remote_access: Json | None,
    status: str,
    token: str | None = None,
    release: str | None = None,
) -> NodegroupRec:
    suffix = str(uuid.uuid4())
    now = b.wall()
    n = NodegroupRec(
        name=name,
        arn=b.arn(c.region, f"nodegroup/{c.name}/{name}/{suffix}"),
        status=status,
        version=version,
        release_version=release or release_version(version),
        created_at=now,
        modified_at=now,
        capacity_type=capacity_type,
        min_size=min_size,
        max_size=max_size,
        desired_size=desired_size,
        subnets=subnets,
        ami_type=ami_type,
        node_role=node_role,
        asg_name=f"eks-{name}-{suffix}",
        labels=labels,
        taints=taints,
        tags=tags,
        instance_types=instance_types,
        disk_size=disk_size,
        launch_template=launch_template,
        remote_access=remote_access,
        token=token,
    )
    c.nodegroups[name] = n
    if status == "CREATING":
        b.schedule("nodegroup", c, n, b.settings.nodegroup_create_seconds)
    b.generation += 1
    return n


def create_nodegroup(b: EksBackend, region: str, cluster: str, req: CreateNodegroupIn) -> Json:
    c = b.cluster(region, cluster)
    check_name("Nodegroup", req.nodegroupName, 63)
    existing = c.nodegroups.get(req.nodegroupName)
    if existing is not None:
        if req.clientRequestToken is not None and existing.token == req.clientRequestToken:
            return {"nodegroup": render_nodegroup(c.name, existing)}
        raise err.in_use(
            f"NodeGroup already exists with name {req.nodegroupName} and cluster name {cluster}",
            clusterName=cluster,
            nodegroupName=req.nodegroupName,
        )
    if c.status in ("CREATING", "DELETING"):
        raise err.invalid_request(f"Cluster '{cluster}' is not in ACTIVE status", clusterName=cluster)
    refuse_if_updating(c)
    version = b.version(req.version or c.version)
    check_version(c.name, c.version, version, req.nodegroupName)
    if not req.subnets:
        raise err.invalid_parameter("Subnets are required.", nodegroupName=req.nodegroupName)
    check_role("nodeRole", req.nodeRole)
    sc = req.scalingConfig
    min_size = 1 if sc is None or sc.minSize is None else sc.minSize
    max_size = 2 if sc is None or sc.maxSize is None else sc.maxSize
    desired = 2 if sc is None or sc.desiredSize is None else sc.desiredSize
    check_scaling(min_size, max_size, desired)
    capacity = req.capacityType or "ON_DEMAND"
    if capacity not in _CAPACITY_TYPES:
        raise err.invalid_parameter(f"Invalid capacityType {capacity!r}.")
    lt: dict[str, str] | None = None
    if req.launchTemplate is not None:
        lt = _resolve_lt(b, region, req.launchTemplate)
        if req.diskSize is not None or req.remoteAccess is not None:
            raise err.invalid_parameter(
                "Disk size and remote access must be set in the launch template, not in the "
                "node group, when a launch template is used."
            )
    instance_types = req.instanceTypes
    disk = req.diskSize
    if lt is None:
        instance_types = instance_types or ["t3.medium"]
        disk = disk or 20
    ami = req.amiType or "AL2023_x86_64_STANDARD"
    tags = dict(req.tags or {})
    check_tags(tags)
    remote = None
    if req.remoteAccess is not None:
        remote = msgspec.structs.asdict(req.remoteAccess)
        remote = {k: v for k, v in remote.items() if v is not None}
    uc = req.updateConfig
    if uc is not None:
        check_update_config(uc.maxUnavailable, uc.maxUnavailablePercentage)
    n = new_nodegroup(
        b,
        c,
        req.nodegroupName,
        version=version,
        min_size=min_size,
        max_size=max_size,
        desired_size=desired,
        subnets=list(req.subnets),
        node_role=req.nodeRole,
        instance_types=instance_types,
        disk_size=disk,
        ami_type=ami,
        capacity_type=capacity,
        labels=dict(req.labels or {}),
        taints=[taint(t) for t in req.taints or []],
        tags=tags,
        launch_template=lt,
        remote_access=remote,
        status="CREATING",
        token=req.clientRequestToken,
        release=req.releaseVersion,
    )
    if uc is not None:
        n.max_unavailable = uc.maxUnavailable or 1
        n.max_unavailable_percentage = uc.maxUnavailablePercentage
    ensure_compute_entry(b, c, n.node_role, "EC2_LINUX")
    return {"nodegroup": render_nodegroup(c.name, n)}


def describe_nodegroup(b: EksBackend, region: str, cluster: str, name: str) -> Json:
    c = b.cluster(region, cluster)
    return {"nodegroup": render_nodegroup(c.name, _nodegroup(c, name))}


def list_nodegroups(
    b: EksBackend, region: str, cluster: str, max_results: int | None, token: str | None
) -> Json:
    c = b.cluster(region, cluster)
    return page_answer("nodegroups", sorted(c.nodegroups), max_results, token)


def delete_nodegroup(b: EksBackend, region: str, cluster: str, name: str) -> Json:
    c = b.cluster(region, cluster)
    n = _nodegroup(c, name)
    refuse_if_nodegroup_updating(c, n)
    if n.status in ("CREATING", "DELETING"):
        raise err.in_use(
            f"Nodegroup {name} cannot be deleted because it is currently {n.status}",
            clusterName=cluster,
            nodegroupName=name,
        )
    start_delete(b, c, n)
    return {"nodegroup": render_nodegroup(c.name, n)}


def start_delete(b: EksBackend, c: ClusterRec, n: NodegroupRec) -> None:
    """The node group is DELETING, and gone after the delete time."""
    start_deleting(b, "nodegroup", c, n, b.settings.nodegroup_delete_seconds)


def update_nodegroup_config(
    b: EksBackend, region: str, cluster: str, name: str, req: UpdateNodegroupConfigIn
) -> Json:
    c = b.cluster(region, cluster)
    n = _nodegroup(c, name)

    def plan() -> Plan:
        sc, labels, taints, uc = req.scalingConfig, req.labels, req.taints, req.updateConfig
        plan = config_plan(
            n,
            min_size=sc.minSize if sc else None,
            max_size=sc.maxSize if sc else None,
            desired_size=sc.desiredSize if sc else None,
            labels_add=dict(labels.addOrUpdateLabels or {}) if labels else None,
            labels_remove=list(labels.removeLabels or []) if labels else None,
            taints_add=taints.addOrUpdateTaints if taints else None,
            taints_remove=taints.removeTaints if taints else None,
            max_unavailable=uc.maxUnavailable if uc else None,
            max_unavailable_percentage=uc.maxUnavailablePercentage if uc else None,
        )
        if not plan.changes:
            raise err.invalid_parameter(
                "No changes needed for the nodegroup config provided", nodegroupName=name
            )
        return plan

    return request_update(b, c, "ConfigUpdate", req.clientRequestToken, plan, nodegroup=n)


def update_nodegroup_version(
    b: EksBackend, region: str, cluster: str, name: str, req: UpdateNodegroupVersionIn
) -> Json:
    c = b.cluster(region, cluster)
    n = _nodegroup(c, name)

    def plan() -> Plan:
        lt: dict[str, str] | None = None
        if req.launchTemplate is not None:
            if n.launch_template is None:
                raise err.invalid_parameter(
                    "The node group was not created with a launch template; a launch template "
                    "cannot be added by an update.",
                    nodegroupName=name,
                )
            lt = _resolve_lt(b, region, req.launchTemplate)
            if lt["id"] != n.launch_template["id"]:
                raise err.invalid_parameter(
                    f"Launch template {lt['id']} is not the node group's launch template "
                    f"{n.launch_template['id']}; only its version can be changed.",
                    nodegroupName=name,
                )
        if req.version is not None:
            target = b.version(req.version)
        elif req.launchTemplate is not None:
            target = n.version
        else:
            target = c.version
        check_version(c.name, c.version, target, name)
        if minor(target) < minor(n.version):  # type: ignore[operator]
            raise err.invalid_parameter(
                f"Nodegroup {name} cannot be downgraded from {n.version} to {target}",
                clusterName=cluster,
                nodegroupName=name,
            )
        return version_plan(target, req.releaseVersion, lt)

    return request_update(b, c, "VersionUpdate", req.clientRequestToken, plan, nodegroup=n)


def _nodegroup_due(b: EksBackend, c: ClusterRec, n: NodegroupRec) -> None:
    settle(b, c.nodegroups, n)


def _apply_nodegroup_update(b: EksBackend, c: ClusterRec, u: UpdateRec) -> None:
    n = c.nodegroups.get(u.nodegroup or "")
    if n is None:
        return
    apply_changes(n, u.changes)
    n.modified_at = b.wall()
    if n.status == "UPDATING" and in_progress(c, n.name) is None:
        n.status = "ACTIVE"


RESOURCE = Resource(
    routes={
        ("POST", ("clusters", "*", "node-groups")): (
            "CreateNodegroup",
            lambda b, r, s, q, body: create_nodegroup(b, r, s[1], decode(body, CreateNodegroupIn)),
        ),
        ("GET", ("clusters", "*", "node-groups")): (
            "ListNodegroups",
            lambda b, r, s, q, body: list_nodegroups(b, r, s[1], q.int("maxResults"), q.get("nextToken")),
        ),
        ("GET", ("clusters", "*", "node-groups", "*")): (
            "DescribeNodegroup",
            lambda b, r, s, q, body: describe_nodegroup(b, r, s[1], s[3]),
        ),
        ("DELETE", ("clusters", "*", "node-groups", "*")): (
            "DeleteNodegroup",
            lambda b, r, s, q, body: delete_nodegroup(b, r, s[1], s[3]),
        ),
        ("POST", ("clusters", "*", "node-groups", "*", "update-config")): (
            "UpdateNodegroupConfig",
            lambda b, r, s, q, body: update_nodegroup_config(
                b, r, s[1], s[3], decode(body, UpdateNodegroupConfigIn)
            ),
        ),
        ("POST", ("clusters", "*", "node-groups", "*", "update-version")): (
            "UpdateNodegroupVersion",
            lambda b, r, s, q, body: update_nodegroup_version(
                b, r, s[1], s[3], decode(body, UpdateNodegroupVersionIn)
            ),
        ),
    },
    kind="nodegroup",
    records=lambda c: c.nodegroups.values(),
    on_due=_nodegroup_due,
    apply_update=_apply_nodegroup_update,
    tagged=True,
)
