"""The ``/_sim/`` control API: pre-create clusters, change them as the console would, read state."""

from __future__ import annotations

from typing import Any

import msgspec

from . import _clusters, _eks, _nodegroups
from . import _errors as err
from ._backend import EksBackend
from ._model import LOG_TYPES, ClusterRec, NodegroupRec, render_update
from ._rules import minor
from ._settings import EndpointAccess
from ._wire import Json


class NodegroupSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    desiredSize: int = 2
    minSize: int = 1
    maxSize: int = 3
    instanceType: str = "t3.medium"
    labels: dict[str, str] = {}
    tags: dict[str, str] = {}
    version: str | None = None
    diskSize: int = 20
    subnets: list[str] | None = None
    nodeRole: str | None = None
    amiType: str = "AL2023_x86_64_STANDARD"
    capacityType: str = "ON_DEMAND"
    launchTemplate: dict[str, str] | None = None


class ClusterSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    region: str | None = None
    version: str | None = None
    publicAccess: bool = True
    privateAccess: bool = False
    endpointAccess: EndpointAccess | None = None
    publicAccessSources: list[str] | None = None
    tags: dict[str, str] = {}
    loggingTypes: list[str] = []
    subnets: list[str] | None = None
    securityGroups: list[str] = []
    roleArn: str | None = None
    ipFamily: str = "ipv4"
    nodegroups: list[NodegroupSpec] = []


class BatchSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    count: int
    prefix: str = "sim-"
    start: int = 0
    template: dict[str, Any] = {}


class NodegroupPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    desiredSize: int | None = None
    minSize: int | None = None
    maxSize: int | None = None
    labels: dict[str, str] | None = None
    tags: dict[str, str] | None = None
    version: str | None = None


class ClusterPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    region: str | None = None
    tags: dict[str, str] | None = None
    publicAccess: bool | None = None
    privateAccess: bool | None = None
    publicAccessSources: list[str] | None = None
    loggingTypes: list[str] | None = None
    version: str | None = None
    nodegroups: dict[str, NodegroupPatch] = {}
    deleteNodegroups: list[str] = []


def _fake_id(prefix: str, seed: str) -> str:
    return f"{prefix}-{abs(hash(seed)) % 16**17:017x}"


def create_cluster(b: EksBackend, spec: ClusterSpec) -> ClusterRec:
    """An ACTIVE cluster with ACTIVE node groups, as if it had been made outside the control plane."""
    s = b.settings
    region = spec.region or s.default_region
    if b.find(region, spec.name) is not None:
        raise err.in_use(f"Cluster already exists with name: {spec.name}", clusterName=spec.name)
    version = b.version(spec.version)
    for t in spec.loggingTypes:
        if t not in LOG_TYPES:
            raise err.invalid_parameter(f"Unknown log type {t!r}.")
    subnets = spec.subnets or [_fake_id("subnet", spec.name + "a"), _fake_id("subnet", spec.name + "b")]
    cidrs = spec.publicAccessSources or (["0.0.0.0/0", "::/0"] if spec.ipFamily == "ipv6" else ["0.0.0.0/0"])
    c = _clusters.new_cluster(
        b,
        region,
        spec.name,
        version=version,
        role_arn=spec.roleArn or f"arn:aws:iam::{s.account_id}:role/{spec.name}-eks-service-role",
        subnet_ids=subnets,
        security_group_ids=list(spec.securityGroups),
        public=spec.publicAccess,
        private=spec.privateAccess,
        cidrs=cidrs,
        ip_family=spec.ipFamily,
        logging=[t for t in LOG_TYPES if t in spec.loggingTypes],
        tags=dict(spec.tags),
        encryption=None,
        endpoint_access=spec.endpointAccess,
        status="ACTIVE",
    )
    for ng in spec.nodegroups:
        _new_nodegroup(b, c, ng, status="ACTIVE")
    return c


def _new_nodegroup(b: EksBackend, c: ClusterRec, ng: NodegroupSpec, status: str) -> NodegroupRec:
    version = b.version(ng.version or c.version)
    if minor(version) > minor(c.version):  # type: ignore[operator]
        raise err.invalid_parameter(f"Node group version {version} is newer than the cluster's.")
    lt = ng.launchTemplate
    return _nodegroups.new_nodegroup(
        b,
        c,
        ng.name,
        version=version,
        min_size=ng.minSize,
        max_size=ng.maxSize,
        desired_size=ng.desiredSize,
        subnets=ng.subnets or list(c.subnet_ids),
        node_role=ng.nodeRole or f"arn:aws:iam::{b.settings.account_id}:role/{c.name}-node-instance-role",
        instance_types=None if lt else [ng.instanceType],
        disk_size=None if lt else ng.diskSize,
        ami_type=ng.amiType,
        capacity_type=ng.capacityType,
        labels=dict(ng.labels),
        taints=[],
        tags=dict(ng.tags),
        launch_template=lt,
        remote_access=None,
        status=status,
    )


def patch_cluster(b: EksBackend, region: str, name: str, p: ClusterPatch) -> Json:
    """Change a cluster as the console would. Version, endpoint and logging changes and node group
    scaling/label/version changes go through UPDATING with update IDs; tags change at once. Unlike
    the API, several updates may start in one patch (the test author asked for all of them)."""
    c = b.cluster(region, name)
    if c.status not in ("ACTIVE", "UPDATING"):
        raise err.in_use(f"Cluster {name} is {c.status}.", clusterName=name)
    started: list[Json] = []
    if p.tags is not None:
        c.tags = dict(p.tags)
        b.touch(c)
    if p.version is not None and p.version != c.version:
        target = b.version(p.version)
        u = _eks.start_update(
            b, c, "VersionUpdate", [("Version", target), ("PlatformVersion", "eks.1")], {"version": target}
        )
        started.append(render_update(u))
    if p.publicAccess is not None or p.privateAccess is not None or p.publicAccessSources is not None:
        public = c.public_access if p.publicAccess is None else p.publicAccess
        private = c.private_access if p.privateAccess is None else p.privateAccess
        cidrs = c.public_access_cidrs if p.publicAccessSources is None else list(p.publicAccessSources)
        if not public and not private:
            raise err.invalid_parameter("Cluster endpoint must have public or private access enabled.")
        params = [
            ("EndpointPublicAccess", str(public).lower()),
            ("EndpointPrivateAccess", str(private).lower()),
        ]
        if p.publicAccessSources is not None:
            params.append(("PublicAccessCidrs", msgspec.json.encode(cidrs).decode()))
        u = _eks.start_update(
            b,
            c,
            "EndpointAccessUpdate",
            params,
            {"public": public, "private": private, "cidrs": cidrs or ["0.0.0.0/0"]},
        )
        started.append(render_update(u))
    if p.loggingTypes is not None:
        for t in p.loggingTypes:
            if t not in LOG_TYPES:
                raise err.invalid_parameter(f"Unknown log type {t!r}.")
        enabled = [t for t in LOG_TYPES if t in p.loggingTypes]
        value = msgspec.json.encode([{"types": enabled, "enabled": True}]).decode()
        u = _eks.start_update(b, c, "LoggingUpdate", [("ClusterLogging", value)], {"logging": enabled})
        started.append(render_update(u))
    for ng_name, ngp in p.nodegroups.items():
        n = c.nodegroups.get(ng_name)
        if n is None:
            spec = NodegroupSpec(
                name=ng_name,
                **{k: v for k, v in msgspec.structs.asdict(ngp).items() if v is not None},
            )
            _new_nodegroup(b, c, spec, status="CREATING")
            continue
        if ngp.tags is not None:
            n.tags = dict(ngp.tags)
        changes: Json = {}
        params = []
        for key, label, size in (
            ("min", "MinSize", ngp.minSize),
            ("max", "MaxSize", ngp.maxSize),
            ("desired", "DesiredSize", ngp.desiredSize),
        ):
            if size is not None:
                changes[key] = size
                params.append((label, str(size)))
        if ngp.labels is not None:
            add = {k: v for k, v in ngp.labels.items() if n.labels.get(k) != v}
            remove = [k for k in n.labels if k not in ngp.labels]
            if add:
                changes["labels_add"] = add
                params.append(("LabelsToAdd", msgspec.json.encode(add).decode()))
            if remove:
                changes["labels_remove"] = remove
                params.append(("LabelsToRemove", msgspec.json.encode(remove).decode()))
        if changes:
            u = _eks.start_update(b, c, "ConfigUpdate", params, changes, nodegroup=n)
            started.append(render_update(u))
        if ngp.version is not None and ngp.version != n.version:
            target = b.version(ngp.version)
            rel = f"{target}.0-20250501"
            u = _eks.start_update(
                b,
                c,
                "VersionUpdate",
                [("Version", target), ("ReleaseVersion", rel)],
                {"version": target, "release_version": rel},
                nodegroup=n,
            )
            started.append(render_update(u))
        b.touch(c)
    for ng_name in p.deleteNodegroups:
        n = c.nodegroups.get(ng_name)
        if n is None:
            raise err.nodegroup_not_found(name, ng_name)
        if n.status != "DELETING":
            n.status = "DELETING"
            b.schedule("nodegroup", c, n, b.settings.nodegroup_delete_seconds)
            b.touch(c)
    return {"updates": started}


def state(b: EksBackend) -> list[Json]:
    out: list[Json] = []
    for c in b.clusters():
        out.append(
            {
                "name": c.name,
                "region": c.region,
                "arn": c.arn,
                "status": c.status,
                "version": c.version,
                "endpoint": c.endpoint,
                "endpointAccess": c.endpoint_access,
                "publicAccess": c.public_access,
                "privateAccess": c.private_access,
                "publicAccessSources": c.public_access_cidrs,
                "loggingTypes": c.logging,
                "tags": c.tags,
                "nodegroups": [
                    {
                        "name": n.name,
                        "arn": n.arn,
                        "status": n.status,
                        "version": n.version,
                        "desiredSize": n.desired_size,
                        "minSize": n.min_size,
                        "maxSize": n.max_size,
                        "labels": n.labels,
                        "tags": n.tags,
                        "launchTemplate": n.launch_template,
                    }
                    for n in c.nodegroups.values()
                ],
                "addons": [{"name": a.name, "status": a.status} for a in c.addons.values()],
                "updates": [
                    {"id": u.id, "type": u.type, "status": u.status, "nodegroup": u.nodegroup}
                    for u in c.updates.values()
                ],
            }
        )
    return out
