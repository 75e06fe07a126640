"""The simulated EKS service: resources, lifecycles, rules and answers (no HTTP here).

Lifecycles are lazy and cheap: every pending transition is one entry in a heap ordered by its due
time, processed by ``advance(now)`` (called before each request and by one shared loop timer).
There is no task per cluster, so tens of thousands of clusters cost only their records.
"""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import msgspec

from . import _errors as err
from ._model import (
    LOG_TYPES,
    AddonRec,
    ClusterRec,
    NodegroupRec,
    Taint,
    UpdateRec,
    render_addon,
    render_cluster,
    render_nodegroup,
    render_update,
)
from ._rules import check_name, check_role, check_tags, minor, partition, random_hex, release_version
from ._settings import SimSettings
from ._shapes import (
    CreateAddonIn,
    CreateClusterIn,
    CreateNodegroupIn,
    LaunchTemplateIn,
    LoggingIn,
    TaintIn,
    UpdateClusterConfigIn,
    UpdateClusterVersionIn,
    UpdateNodegroupConfigIn,
    UpdateNodegroupVersionIn,
)
from ._wire import Json, page_answer, paginate

_MAX_UPDATES_KEPT = 1000  # terminal updates kept per cluster (bounded bookkeeping)
_TAINT_EFFECTS = ("NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE")
_CAPACITY_TYPES = ("ON_DEMAND", "SPOT", "CAPACITY_BLOCK")

ADDON_CATALOG: dict[str, tuple[str, str]] = {
    # name -> (type, version); one version compatible with every supported Kubernetes version.
    "vpc-cni": ("networking", "v1.19.2-eksbuild.1"),
    "coredns": ("networking", "v1.11.4-eksbuild.2"),
    "kube-proxy": ("networking", "v1.32.0-eksbuild.2"),
    "aws-ebs-csi-driver": ("storage", "v1.41.0-eksbuild.1"),
}


class AwsLookup(Protocol):
    """What EKS learns from other services (served by moto): launch templates and subnets."""

    def launch_template(
        self, region: str, lt_id: str | None, lt_name: str | None, version: str | None
    ) -> dict[str, str] | None:
        """``{id, name, version}`` with the version resolved to a number, or None when not found.
        Raises ``LookupError`` when the template exists but the version does not."""
        ...

    def subnet_vpc(self, region: str, subnet_id: str) -> str | None:
        """The VPC of a subnet, or None when moto does not know the subnet."""
        ...


class Endpoints(Protocol):
    """The downstream Kubernetes API endpoints (KubeFleet, or plain names when disabled)."""

    @property
    def ca_data(self) -> str: ...

    def add_cluster(self, name: str, endpoint_access: str) -> str: ...

    def remove_cluster(self, name: str) -> None: ...


def _check_logging(logging: LoggingIn) -> tuple[set[str], set[str]]:
    on: set[str] = set()
    off: set[str] = set()
    for setup in logging.clusterLogging:
        for t in setup.types:
            if t not in LOG_TYPES:
                raise err.invalid_parameter(
                    f"Unknown log type {t!r}; valid types are {', '.join(LOG_TYPES)}."
                )
        (on if setup.enabled else off).update(setup.types)
    if on & off:
        raise err.invalid_parameter("A log type cannot be both enabled and disabled.")
    return on, off


def _taint(t: TaintIn) -> Taint:
    if t.effect not in _TAINT_EFFECTS:
        raise err.invalid_parameter(f"Invalid taint effect {t.effect!r}.")
    return Taint(key=t.key, effect=t.effect, value=t.value)


class EksBackend:
    """All simulated EKS state of every region, plus the rules of the API."""

    def __init__(
        self,
        settings: SimSettings,
        *,
        clock: Callable[[], float],
        wall: Callable[[], float],
        endpoints: Endpoints,
        lookup: AwsLookup,
        on_due: Callable[[float], None] = lambda due: None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._wall = wall
        self._endpoints = endpoints
        self._lookup = lookup
        self._on_due = on_due
        self._regions: dict[str, dict[str, ClusterRec]] = {}
        self._sorted: dict[str, list[str]] = {}
        self._heap: list[tuple[float, int, str, ClusterRec, Any]] = []
        self._seq = itertools.count()
        self._cluster_body: dict[str, bytes] = {}
        self.generation = 0
        """Bumped on every change; the persister saves when it moved."""

    # --- bookkeeping ----------------------------------------------------------------------------

    def _touch(self, c: ClusterRec) -> None:
        self._cluster_body.pop(c.arn, None)
        self.generation += 1

    def _schedule(self, kind: str, c: ClusterRec, rec: Any, seconds: float) -> None:
        due = self._clock() + self.settings.scaled(seconds)
        rec.due = due
        heapq.heappush(self._heap, (due, next(self._seq), kind, c, rec))
        self._on_due(due)

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def advance(self, now: float | None = None) -> None:
        """Apply every transition due by ``now``. Stale heap entries (rescheduled or removed
        records) are skipped by comparing the record's current ``due``."""
        heap = self._heap
        if not heap:
            return
        t = self._clock() if now is None else now
        while heap and heap[0][0] <= t:
            due, _, kind, c, rec = heapq.heappop(heap)
            if rec.due != due or self._regions.get(c.region, {}).get(c.name) is not c:
                continue
            rec.due = None
            self._transition(kind, c, rec)

    def _transition(self, kind: str, c: ClusterRec, rec: Any) -> None:
        if kind == "cluster":
            if c.status == "CREATING":
                c.status = "ACTIVE"
                self._touch(c)
            elif c.status == "DELETING":
                self._drop_cluster(c)
        elif kind == "update":
            self._complete_update(c, rec)
        elif kind == "nodegroup":
            if rec.status == "CREATING":
                rec.status = "ACTIVE"
                rec.modified_at = self._wall()
            elif rec.status == "DELETING":
                del c.nodegroups[rec.name]
            self.generation += 1
        elif kind == "addon":
            if rec.status == "CREATING":
                rec.status = "ACTIVE"
                rec.modified_at = self._wall()
            elif rec.status == "DELETING":
                del c.addons[rec.name]
            self.generation += 1

    def _region(self, region: str) -> dict[str, ClusterRec]:
        r = self._regions.get(region)
        if r is None:
            r = self._regions[region] = {}
        return r

    def _add_cluster(self, c: ClusterRec) -> None:
        self._region(c.region)[c.name] = c
        self._sorted.pop(c.region, None)
        c.endpoint = self._endpoints.add_cluster(c.name, c.endpoint_access)
        c.ca_data = self._endpoints.ca_data
        self._touch(c)

    def _drop_cluster(self, c: ClusterRec) -> None:
        del self._regions[c.region][c.name]
        self._sorted.pop(c.region, None)
        self._endpoints.remove_cluster(c.name)
        self._touch(c)

    def _cluster(self, region: str, name: str) -> ClusterRec:
        c = self._regions.get(region, {}).get(name)
        if c is None:
            raise err.cluster_not_found(name)
        return c

    def clusters(self) -> Iterator[ClusterRec]:
        for r in self._regions.values():
            yield from r.values()

    def restore(self, c: ClusterRec, remaining: dict[int, float]) -> None:
        """Re-insert a persisted cluster; ``remaining`` maps ``id(record)`` to the delay left."""
        self._add_cluster(c)
        recs: list[tuple[str, Any]] = [("cluster", c)]
        recs += [("nodegroup", n) for n in c.nodegroups.values()]
        recs += [("addon", a) for a in c.addons.values()]
        recs += [("update", u) for u in c.updates.values()]
        for kind, rec in recs:
            left = remaining.get(id(rec))
            if left is not None:
                due = self._clock() + max(left, 0.0)
                rec.due = due
                heapq.heappush(self._heap, (due, next(self._seq), kind, c, rec))
                self._on_due(due)

    def reset(self) -> None:
        for c in list(self.clusters()):
            self._endpoints.remove_cluster(c.name)
        self._regions.clear()
        self._sorted.clear()
        self._heap.clear()
        self._cluster_body.clear()
        self.generation += 1

    # --- helpers ----------------------------------------------------------------------------

    def _arn(self, region: str, resource: str) -> str:
        return f"arn:{partition(region)}:eks:{region}:{self.settings.account_id}:{resource}"

    def _version(self, version: str | None) -> str:
        v = version or self.settings.default_kubernetes_version
        if v not in self.settings.kubernetes_versions:
            raise err.invalid_parameter(
                f"unsupported Kubernetes version {v}; supported versions: "
                + ", ".join(self.settings.kubernetes_versions)
            )
        return v

    def _in_progress(self, c: ClusterRec, nodegroup: str | None = None) -> UpdateRec | None:
        for u in reversed(c.updates.values()):
            if u.status == "InProgress" and u.nodegroup == nodegroup and u.addon is None:
                return u
        return None

    def _refuse_if_updating(self, c: ClusterRec) -> None:
        u = self._in_progress(c)
        if u is not None:
            raise err.in_use(f"Cluster {c.name} currently has update {u.id} in progress", clusterName=c.name)

    def _require_active(self, c: ClusterRec) -> None:
        self._refuse_if_updating(c)
        if c.status != "ACTIVE":
            raise err.in_use(
                f"Cluster {c.name} is currently {c.status}; the operation requires ACTIVE.",
                clusterName=c.name,
            )

    def _new_update(
        self,
        c: ClusterRec,
        type_: str,
        params: list[tuple[str, str]],
        changes: Json,
        token: str | None,
        *,
        nodegroup: NodegroupRec | None = None,
        seconds: float,
    ) -> UpdateRec:
        u = UpdateRec(
            id=str(uuid.uuid4()),
            type=type_,
            status="InProgress",
            created_at=self._wall(),
            params=params,
            changes=changes,
            nodegroup=nodegroup.name if nodegroup else None,
            token=token,
        )
        c.updates[u.id] = u
        self._trim_updates(c)
        if nodegroup is None:
            c.status = "UPDATING"
        else:
            nodegroup.status = "UPDATING"
            nodegroup.modified_at = u.created_at
        self._schedule("update", c, u, seconds)
        self._touch(c)
        return u

    def _trim_updates(self, c: ClusterRec) -> None:
        extra = len(c.updates) - _MAX_UPDATES_KEPT
        if extra <= 0:
            return
        for uid in [uid for uid, u in c.updates.items() if u.status != "InProgress"][:extra]:
            del c.updates[uid]

    def _find_token_update(self, c: ClusterRec, token: str | None, nodegroup: str | None) -> Json | None:
        # botocore fills clientRequestToken on every call: a retried request returns the same update.
        if token is None:
            return None
        for u in c.updates.values():
            if u.token == token and u.nodegroup == nodegroup:
                return {"update": render_update(u)}
        return None

    def _complete_update(self, c: ClusterRec, u: UpdateRec) -> None:
        u.status = "Successful"
        ch = u.changes
        now = self._wall()
        if u.nodegroup is not None:
            n = c.nodegroups.get(u.nodegroup)
            if n is not None:
                self._apply_nodegroup_changes(n, ch)
                n.modified_at = now
                if n.status == "UPDATING" and self._in_progress(c, n.name) is None:
                    n.status = "ACTIVE"
        else:
            if "version" in ch:
                c.version = ch["version"]
                c.platform_version = "eks.1"
            if "public" in ch:
                c.public_access = ch["public"]
                c.private_access = ch["private"]
                c.public_access_cidrs = ch["cidrs"]
                access = "public" if c.public_access else self.settings.private_endpoint_access
                if access != c.endpoint_access:
                    # Re-registering keeps the downstream objects and changes only reachability.
                    c.endpoint_access = access
                    c.endpoint = self._endpoints.add_cluster(c.name, access)
            if "logging" in ch:
                c.logging = list(ch["logging"])
            if c.status == "UPDATING" and self._in_progress(c) is None:
                c.status = "ACTIVE"
        self._touch(c)

    @staticmethod
    def _apply_nodegroup_changes(n: NodegroupRec, ch: Json) -> None:
        if "min" in ch:
            n.min_size = ch["min"]
        if "max" in ch:
            n.max_size = ch["max"]
        if "desired" in ch:
            n.desired_size = ch["desired"]
        if ch.get("labels_add") or ch.get("labels_remove"):
            labels = dict(n.labels)
            for k in ch.get("labels_remove", []):
                labels.pop(k, None)
            labels.update(ch.get("labels_add", {}))
            n.labels = labels
        if ch.get("taints_add") or ch.get("taints_remove"):
            removed = {(t["key"], t["effect"]) for t in ch.get("taints_remove", [])}
            added = [Taint(**t) for t in ch.get("taints_add", [])]
            keys = {(t.key, t.effect) for t in added}
            n.taints = [t for t in n.taints if (t.key, t.effect) not in removed | keys] + added
        if "version" in ch:
            n.version = ch["version"]
            n.release_version = ch["release_version"]
        if "launch_template" in ch:
            n.launch_template = ch["launch_template"]
        if "max_unavailable" in ch:
            n.max_unavailable = ch["max_unavailable"]

    # --- clusters -------------------------------------------------------------------------------

    def new_cluster(
        self,
        region: str,
        name: str,
        *,
        version: str,
        role_arn: str,
        subnet_ids: list[str],
        security_group_ids: list[str],
        public: bool,
        private: bool,
        cidrs: list[str],
        ip_family: str,
        logging: list[str],
        tags: dict[str, str],
        encryption: list[Json] | None,
        endpoint_access: str | None,
        status: str,
        token: str | None = None,
        authentication_mode: str = "CONFIG_MAP",
    ) -> ClusterRec:
        vpc = None
        for s in subnet_ids:
            vpc = self._lookup.subnet_vpc(region, s)
            if vpc:
                break
        c = ClusterRec(
            name=name,
            region=region,
            arn=self._arn(region, f"cluster/{name}"),
            id=str(uuid.uuid4()),
            status=status,
            version=version,
            platform_version="eks.1",
            role_arn=role_arn,
            created_at=self._wall(),
            endpoint_access=endpoint_access
            or ("public" if public else self.settings.private_endpoint_access),
            subnet_ids=subnet_ids,
            security_group_ids=security_group_ids,
            cluster_security_group_id="sg-" + random_hex(17),
            vpc_id=vpc or "vpc-" + random_hex(17),
            public_access=public,
            private_access=private,
            public_access_cidrs=cidrs,
            ip_family=ip_family,
            service_cidr="fd00:" + random_hex(4) + ":" + random_hex(4) + "::/108"
            if ip_family == "ipv6"
            else "10.100.0.0/16",
            oidc_id=random_hex(32).upper(),
            logging=logging,
            encryption=encryption,
            tags=tags,
            token=token,
            authentication_mode=authentication_mode,
        )
        self._add_cluster(c)
        if status == "CREATING":
            self._schedule("cluster", c, c, self.settings.cluster_create_seconds)
        return c

    def create_cluster(self, region: str, req: CreateClusterIn) -> Json:
        check_name("Cluster", req.name, 100)
        existing = self._regions.get(region, {}).get(req.name)
        if existing is not None:
            if req.clientRequestToken is not None and existing.token == req.clientRequestToken:
                return {"cluster": render_cluster(existing)}
            raise err.in_use(f"Cluster already exists with name: {req.name}", clusterName=req.name)
        version = self._version(req.version)
        check_role("roleArn", req.roleArn)
        vpc = req.resourcesVpcConfig
        subnets = list(vpc.subnetIds or [])
        if len(subnets) < 2:
            raise err.invalid_parameter(
                "Subnets specified must be in at least two different AZs", clusterName=req.name
            )
        public = True if vpc.endpointPublicAccess is None else vpc.endpointPublicAccess
        private = bool(vpc.endpointPrivateAccess)
        if not public and not private:
            raise err.invalid_parameter(
                "Cluster endpoint must have public or private access enabled.", clusterName=req.name
            )
        ip_family = "ipv4"
        if req.kubernetesNetworkConfig and req.kubernetesNetworkConfig.ipFamily:
            ip_family = req.kubernetesNetworkConfig.ipFamily
            if ip_family not in ("ipv4", "ipv6"):
                raise err.invalid_parameter(f"Invalid ipFamily {ip_family!r}.")
        default_cidrs = ["0.0.0.0/0", "::/0"] if ip_family == "ipv6" else ["0.0.0.0/0"]
        cidrs = list(vpc.publicAccessCidrs) if vpc.publicAccessCidrs else default_cidrs
        on: set[str] = set()
        if req.logging is not None:
            on, _ = _check_logging(req.logging)
        tags = dict(req.tags or {})
        check_tags(tags)
        encryption: list[Json] | None = None
        if req.encryptionConfig:
            encryption = []
            for e in req.encryptionConfig:
                if e.provider is None or not e.provider.keyArn or e.resources != ["secrets"]:
                    raise err.invalid_parameter(
                        "encryptionConfig needs provider.keyArn and resources ['secrets']."
                    )
                encryption.append({"resources": ["secrets"], "provider": {"keyArn": e.provider.keyArn}})
        auth_mode = "CONFIG_MAP"
        if req.accessConfig and req.accessConfig.authenticationMode:
            auth_mode = req.accessConfig.authenticationMode
        c = self.new_cluster(
            region,
            req.name,
            version=version,
            role_arn=req.roleArn,
            subnet_ids=subnets,
            security_group_ids=list(vpc.securityGroupIds or []),
            public=public,
            private=private,
            cidrs=cidrs,
            ip_family=ip_family,
            logging=[t for t in LOG_TYPES if t in on],
            tags=tags,
            encryption=encryption,
            endpoint_access=None,
            status="CREATING",
            token=req.clientRequestToken,
            authentication_mode=auth_mode,
        )
        return {"cluster": render_cluster(c)}

    def describe_cluster(self, region: str, name: str) -> bytes:
        c = self._regions.get(region, {}).get(name)
        if c is None:
            raise err.cluster_not_found(name)
        body = self._cluster_body.get(c.arn)
        if body is None:
            body = self._cluster_body[c.arn] = msgspec.json.encode({"cluster": render_cluster(c)})
        return body

    def list_clusters(self, region: str, max_results: int | None, token: str | None) -> Json:
        names = self._sorted.get(region)
        if names is None:
            names = self._sorted[region] = sorted(self._regions.get(region, {}))
        return page_answer("clusters", names, max_results, token)

    def delete_cluster(self, region: str, name: str) -> Json:
        c = self._cluster(region, name)
        if c.status == "DELETING":
            return {"cluster": render_cluster(c)}
        self._refuse_if_updating(c)
        if c.nodegroups:
            raise err.in_use(
                f"Cluster has nodegroups attached: {', '.join(sorted(c.nodegroups))}", clusterName=name
            )
        c.status = "DELETING"
        for a in c.addons.values():
            a.status = "DELETING"
        self._schedule("cluster", c, c, self.settings.cluster_delete_seconds)
        self._touch(c)
        return {"cluster": render_cluster(c)}

    def update_cluster_version(self, region: str, name: str, req: UpdateClusterVersionIn) -> Json:
        c = self._cluster(region, name)
        again = self._find_token_update(c, req.clientRequestToken, None)
        if again is not None:
            return again
        self._require_active(c)
        target = self._version(req.version)
        cur, new = minor(c.version), minor(target)
        assert cur is not None and new is not None
        if new == cur:
            raise err.invalid_parameter(
                f"Cluster {name} is already at the desired version {target}.", clusterName=name
            )
        if new[0] != cur[0] or new[1] != cur[1] + 1:
            raise err.invalid_parameter(
                f"Unsupported Kubernetes minor version update from {c.version} to {target}",
                clusterName=name,
            )
        if not req.force:
            behind = sorted(n.name for n in c.nodegroups.values() if n.version != c.version)
            if behind:
                raise err.invalid_request(
                    f"Nodegroups {', '.join(behind)} must be updated to match cluster version "
                    f"{c.version} before updating cluster version",
                    clusterName=name,
                )
        u = self._new_update(
            c,
            "VersionUpdate",
            [("Version", target), ("PlatformVersion", "eks.1")],
            {"version": target},
            req.clientRequestToken,
            seconds=self.settings.cluster_update_seconds,
        )
        return {"update": render_update(u)}

    def update_cluster_config(self, region: str, name: str, req: UpdateClusterConfigIn) -> Json:
        c = self._cluster(region, name)
        again = self._find_token_update(c, req.clientRequestToken, None)
        if again is not None:
            return again
        unsupported = [
            k
            for k in (
                "accessConfig",
                "upgradePolicy",
                "zonalShiftConfig",
                "computeConfig",
                "kubernetesNetworkConfig",
                "storageConfig",
                "remoteNetworkConfig",
                "deletionProtection",
            )
            if getattr(req, k) is not None
        ]
        if unsupported:
            raise err.invalid_parameter(
                f"The simulator does not support updating {', '.join(unsupported)}.", clusterName=name
            )
        if (req.resourcesVpcConfig is None) == (req.logging is None):
            raise err.invalid_parameter("Only one type of update can be allowed.", clusterName=name)
        self._require_active(c)
        if req.logging is not None:
            on, off = _check_logging(req.logging)
            enabled = (set(c.logging) | on) - off
            if enabled == set(c.logging):
                raise err.invalid_parameter(
                    "No changes needed for the logging config provided", clusterName=name
                )
            new_logging = [t for t in LOG_TYPES if t in enabled]
            value = msgspec.json.encode(
                [{"types": [t for t in LOG_TYPES if t in on], "enabled": True}]
                + ([{"types": [t for t in LOG_TYPES if t in off], "enabled": False}] if off else [])
            ).decode()
            u = self._new_update(
                c,
                "LoggingUpdate",
                [("ClusterLogging", value)],
                {"logging": new_logging},
                req.clientRequestToken,
                seconds=self.settings.cluster_update_seconds,
            )
            return {"update": render_update(u)}
        vpc = req.resourcesVpcConfig
        assert vpc is not None
        if vpc.subnetIds is not None or vpc.securityGroupIds is not None:
            raise err.invalid_parameter(
                "The simulator does not support updating subnetIds or securityGroupIds.", clusterName=name
            )
        public = c.public_access if vpc.endpointPublicAccess is None else vpc.endpointPublicAccess
        private = c.private_access if vpc.endpointPrivateAccess is None else vpc.endpointPrivateAccess
        cidrs = c.public_access_cidrs if vpc.publicAccessCidrs is None else list(vpc.publicAccessCidrs)
        if not cidrs:
            cidrs = ["0.0.0.0/0", "::/0"] if c.ip_family == "ipv6" else ["0.0.0.0/0"]
        if not public and not private:
            raise err.invalid_parameter(
                "Cluster endpoint must have public or private access enabled.", clusterName=name
            )
        if (public, private, sorted(cidrs)) == (
            c.public_access,
            c.private_access,
            sorted(c.public_access_cidrs),
        ):
            raise err.invalid_parameter(
                f"Cluster is already at the desired configuration with endpointPrivateAccess: "
                f"{str(private).lower()} , endpointPublicAccess: {str(public).lower()}, and Public "
                f"Endpoint Restrictions: [{', '.join(cidrs)}]",
                clusterName=name,
            )
        params: list[tuple[str, str]] = []
        if vpc.endpointPublicAccess is not None:
            params.append(("EndpointPublicAccess", str(public).lower()))
        if vpc.endpointPrivateAccess is not None:
            params.append(("EndpointPrivateAccess", str(private).lower()))
        if vpc.publicAccessCidrs is not None:
            params.append(("PublicAccessCidrs", msgspec.json.encode(cidrs).decode()))
        u = self._new_update(
            c,
            "EndpointAccessUpdate",
            params,
            {"public": public, "private": private, "cidrs": cidrs},
            req.clientRequestToken,
            seconds=self.settings.cluster_update_seconds,
        )
        return {"update": render_update(u)}

    def list_updates(
        self,
        region: str,
        name: str,
        *,
        nodegroup: str | None,
        addon: str | None,
        max_results: int | None,
        token: str | None,
    ) -> Json:
        c = self._cluster(region, name)
        if nodegroup is not None and nodegroup not in c.nodegroups:
            raise err.nodegroup_not_found(name, nodegroup)
        if addon is not None and addon not in c.addons:
            raise err.addon_not_found(name, addon)
        ids = [u.id for u in c.updates.values() if u.nodegroup == nodegroup and u.addon == addon]
        return page_answer("updateIds", ids, max_results, token, ordered=False)

    def describe_update(
        self, region: str, name: str, update_id: str, nodegroup: str | None, addon: str | None
    ) -> Json:
        c = self._cluster(region, name)
        u = c.updates.get(update_id)
        if u is None or u.nodegroup != nodegroup or u.addon != addon:
            raise err.update_not_found(name, update_id)
        return {"update": render_update(u)}

    # --- node groups ----------------------------------------------------------------------------

    def _nodegroup(self, c: ClusterRec, name: str) -> NodegroupRec:
        n = c.nodegroups.get(name)
        if n is None:
            raise err.nodegroup_not_found(c.name, name)
        return n

    def _resolve_lt(self, region: str, lt: LaunchTemplateIn) -> dict[str, str]:
        if not lt.id and not lt.name:
            raise err.invalid_parameter("launchTemplate needs an id or a name.")
        if lt.id and lt.name:
            raise err.invalid_parameter("Specify either launchTemplate id or name, not both.")
        try:
            found = self._lookup.launch_template(region, lt.id, lt.name, lt.version)
        except LookupError as e:
            raise err.invalid_parameter(
                f"Launch template version {lt.version} does not exist for launch template {lt.id or lt.name}."
            ) from e
        if found is None:
            raise err.invalid_parameter(f"Launch template {lt.id or lt.name} does not exist.")
        return found

    def new_nodegroup(
        self,
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
        now = self._wall()
        n = NodegroupRec(
            name=name,
            arn=self._arn(c.region, f"nodegroup/{c.name}/{name}/{suffix}"),
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
            self._schedule("nodegroup", c, n, self.settings.nodegroup_create_seconds)
        self.generation += 1
        return n

    def create_nodegroup(self, region: str, cluster: str, req: CreateNodegroupIn) -> Json:
        c = self._cluster(region, cluster)
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
        self._refuse_if_updating(c)
        version = self._version(req.version or c.version)
        if minor(version) > minor(c.version):  # type: ignore[operator]
            raise err.invalid_parameter(
                f"Requested Nodegroup version {version} is newer than the cluster version {c.version}",
                clusterName=cluster,
                nodegroupName=req.nodegroupName,
            )
        if not req.subnets:
            raise err.invalid_parameter("Subnets are required.", nodegroupName=req.nodegroupName)
        check_role("nodeRole", req.nodeRole)
        sc = req.scalingConfig
        min_size = 1 if sc is None or sc.minSize is None else sc.minSize
        max_size = 2 if sc is None or sc.maxSize is None else sc.maxSize
        desired = 2 if sc is None or sc.desiredSize is None else sc.desiredSize
        _check_scaling(min_size, max_size, desired)
        capacity = req.capacityType or "ON_DEMAND"
        if capacity not in _CAPACITY_TYPES:
            raise err.invalid_parameter(f"Invalid capacityType {capacity!r}.")
        lt: dict[str, str] | None = None
        if req.launchTemplate is not None:
            lt = self._resolve_lt(region, req.launchTemplate)
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
        n = self.new_nodegroup(
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
            taints=[_taint(t) for t in req.taints or []],
            tags=tags,
            launch_template=lt,
            remote_access=remote,
            status="CREATING",
            token=req.clientRequestToken,
            release=req.releaseVersion,
        )
        return {"nodegroup": render_nodegroup(c.name, n)}

    def describe_nodegroup(self, region: str, cluster: str, name: str) -> Json:
        c = self._cluster(region, cluster)
        return {"nodegroup": render_nodegroup(c.name, self._nodegroup(c, name))}

    def list_nodegroups(self, region: str, cluster: str, max_results: int | None, token: str | None) -> Json:
        c = self._cluster(region, cluster)
        return page_answer("nodegroups", sorted(c.nodegroups), max_results, token)

    def delete_nodegroup(self, region: str, cluster: str, name: str) -> Json:
        c = self._cluster(region, cluster)
        n = self._nodegroup(c, name)
        u = self._in_progress(c, name)
        if u is not None:
            raise err.in_use(
                f"Nodegroup {name} currently has update {u.id} in progress",
                clusterName=cluster,
                nodegroupName=name,
            )
        if n.status in ("CREATING", "DELETING"):
            raise err.in_use(
                f"Nodegroup {name} cannot be deleted because it is currently {n.status}",
                clusterName=cluster,
                nodegroupName=name,
            )
        n.status = "DELETING"
        n.modified_at = self._wall()
        self._schedule("nodegroup", c, n, self.settings.nodegroup_delete_seconds)
        self.generation += 1
        return {"nodegroup": render_nodegroup(c.name, n)}

    def _nodegroup_update_guard(self, c: ClusterRec, n: NodegroupRec) -> None:
        self._refuse_if_updating(c)
        u = self._in_progress(c, n.name)
        if u is not None:
            raise err.in_use(
                f"Nodegroup {n.name} currently has update {u.id} in progress",
                clusterName=c.name,
                nodegroupName=n.name,
            )
        if n.status != "ACTIVE":
            raise err.in_use(
                f"Nodegroup {n.name} is currently {n.status}; the update requires ACTIVE.",
                clusterName=c.name,
                nodegroupName=n.name,
            )

    def update_nodegroup_config(
        self, region: str, cluster: str, name: str, req: UpdateNodegroupConfigIn
    ) -> Json:
        c = self._cluster(region, cluster)
        n = self._nodegroup(c, name)
        again = self._find_token_update(c, req.clientRequestToken, name)
        if again is not None:
            return again
        self._nodegroup_update_guard(c, n)
        changes: Json = {}
        params: list[tuple[str, str]] = []
        sc = req.scalingConfig
        if sc is not None:
            mn = n.min_size if sc.minSize is None else sc.minSize
            mx = n.max_size if sc.maxSize is None else sc.maxSize
            ds = n.desired_size if sc.desiredSize is None else sc.desiredSize
            _check_scaling(mn, mx, ds)
            for key, label, value in (
                ("min", "MinSize", sc.minSize),
                ("max", "MaxSize", sc.maxSize),
                ("desired", "DesiredSize", sc.desiredSize),
            ):
                if value is not None:
                    changes[key] = value
                    params.append((label, str(value)))
        if req.labels is not None:
            add = dict(req.labels.addOrUpdateLabels or {})
            remove = list(req.labels.removeLabels or [])
            both = set(add) & set(remove)
            if both:
                raise err.invalid_parameter(
                    f"Labels {sorted(both)} cannot be both added and removed.", nodegroupName=name
                )
            if add:
                changes["labels_add"] = add
                params.append(("LabelsToAdd", msgspec.json.encode(add).decode()))
            if remove:
                changes["labels_remove"] = remove
                params.append(("LabelsToRemove", msgspec.json.encode(remove).decode()))
        if req.taints is not None:
            add_t = [msgspec.structs.asdict(_taint(t)) for t in req.taints.addOrUpdateTaints or []]
            rem_t = [msgspec.structs.asdict(_taint(t)) for t in req.taints.removeTaints or []]
            if add_t:
                changes["taints_add"] = add_t
                params.append(("TaintsToAdd", msgspec.json.encode(add_t).decode()))
            if rem_t:
                changes["taints_remove"] = rem_t
                params.append(("TaintsToRemove", msgspec.json.encode(rem_t).decode()))
        if req.updateConfig is not None and req.updateConfig.maxUnavailable is not None:
            changes["max_unavailable"] = req.updateConfig.maxUnavailable
            params.append(("MaxUnavailable", str(req.updateConfig.maxUnavailable)))
        if not changes:
            raise err.invalid_parameter(
                "No changes needed for the nodegroup config provided", nodegroupName=name
            )
        u = self._new_update(
            c,
            "ConfigUpdate",
            params,
            changes,
            req.clientRequestToken,
            nodegroup=n,
            seconds=self.settings.nodegroup_update_seconds,
        )
        return {"update": render_update(u)}

    def update_nodegroup_version(
        self, region: str, cluster: str, name: str, req: UpdateNodegroupVersionIn
    ) -> Json:
        c = self._cluster(region, cluster)
        n = self._nodegroup(c, name)
        again = self._find_token_update(c, req.clientRequestToken, name)
        if again is not None:
            return again
        self._nodegroup_update_guard(c, n)
        changes: Json = {}
        params: list[tuple[str, str]] = []
        if req.launchTemplate is not None:
            if n.launch_template is None:
                raise err.invalid_parameter(
                    "The node group was not created with a launch template; a launch template "
                    "cannot be added by an update.",
                    nodegroupName=name,
                )
            lt = self._resolve_lt(region, req.launchTemplate)
            if lt["id"] != n.launch_template["id"]:
                raise err.invalid_parameter(
                    f"Launch template {lt['id']} is not the node group's launch template "
                    f"{n.launch_template['id']}; only its version can be changed.",
                    nodegroupName=name,
                )
            changes["launch_template"] = lt
            params.append(("LaunchTemplateName", lt["name"]))
            params.append(("LaunchTemplateVersion", lt["version"]))
        if req.version is not None:
            target = self._version(req.version)
        elif req.launchTemplate is not None:
            target = n.version
        else:
            target = c.version
        if minor(target) > minor(c.version):  # type: ignore[operator]
            raise err.invalid_parameter(
                f"Requested Nodegroup version {target} is newer than the cluster version {c.version}",
                clusterName=cluster,
                nodegroupName=name,
            )
        if minor(target) < minor(n.version):  # type: ignore[operator]
            raise err.invalid_parameter(
                f"Nodegroup {name} cannot be downgraded from {n.version} to {target}",
                clusterName=cluster,
                nodegroupName=name,
            )
        release = req.releaseVersion or release_version(target)
        changes["version"] = target
        changes["release_version"] = release
        params.append(("Version", target))
        params.append(("ReleaseVersion", release))
        u = self._new_update(
            c,
            "VersionUpdate",
            params,
            changes,
            req.clientRequestToken,
            nodegroup=n,
            seconds=self.settings.nodegroup_update_seconds,
        )
        return {"update": render_update(u)}

    # --- tags -----------------------------------------------------------------------------------

    def _tagged(self, arn: str) -> tuple[ClusterRec, Any]:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "eks":
            raise err.bad_request(f"Invalid ARN: {arn}")
        region, resource = parts[3], parts[5]
        kind, _, rest = resource.partition("/")
        names = rest.split("/")
        c = self._regions.get(region, {}).get(names[0]) if names and names[0] else None
        if kind == "cluster" and len(names) == 1:
            if c is not None and c.arn == arn:
                return c, c
        elif kind in ("nodegroup", "addon") and len(names) == 3:
            if c is not None:
                sub = (c.nodegroups if kind == "nodegroup" else c.addons).get(names[1])
                if sub is not None and sub.arn == arn:
                    return c, sub
        else:
            raise err.bad_request(f"Invalid ARN: {arn}")
        raise err.tag_not_found(arn)

    def tag_resource(self, arn: str, tags: dict[str, str]) -> Json:
        c, rec = self._tagged(arn)
        merged = {**rec.tags, **tags}
        check_tags(merged)
        rec.tags = merged
        self._touch(c)
        return {}

    def untag_resource(self, arn: str, keys: list[str]) -> Json:
        c, rec = self._tagged(arn)
        if not keys:
            raise err.bad_request("tagKeys must not be empty.")
        rec.tags = {k: v for k, v in rec.tags.items() if k not in keys}
        self._touch(c)
        return {}

    def list_tags(self, arn: str) -> Json:
        _, rec = self._tagged(arn)
        return {"tags": rec.tags}

    # --- add-ons --------------------------------------------------------------------------------

    def create_addon(self, region: str, cluster: str, req: CreateAddonIn) -> Json:
        c = self._cluster(region, cluster)
        existing = c.addons.get(req.addonName)
        if existing is not None:
            if req.clientRequestToken is not None and existing.token == req.clientRequestToken:
                return {"addon": render_addon(c.name, existing)}
            raise err.in_use("Addon already exists.", clusterName=cluster, addonName=req.addonName)
        catalog = ADDON_CATALOG.get(req.addonName)
        if catalog is None:
            raise err.invalid_parameter(
                f"Addon {req.addonName} specified is not supported",
                clusterName=cluster,
                addonName=req.addonName,
            )
        if req.addonVersion is not None and req.addonVersion != catalog[1]:
            raise err.invalid_parameter(
                f"Addon version {req.addonVersion} specified is not supported", addonName=req.addonName
            )
        if c.status not in ("ACTIVE", "UPDATING"):
            raise err.invalid_request(f"Cluster '{cluster}' is not in ACTIVE status", clusterName=cluster)
        tags = dict(req.tags or {})
        check_tags(tags)
        now = self._wall()
        a = AddonRec(
            name=req.addonName,
            arn=self._arn(region, f"addon/{cluster}/{req.addonName}/{uuid.uuid4()}"),
            status="CREATING",
            version=catalog[1],
            created_at=now,
            modified_at=now,
            service_account_role_arn=req.serviceAccountRoleArn,
            configuration_values=req.configurationValues,
            tags=tags,
            token=req.clientRequestToken,
        )
        c.addons[a.name] = a
        self._schedule("addon", c, a, self.settings.addon_create_seconds)
        self.generation += 1
        return {"addon": render_addon(c.name, a)}

    def describe_addon(self, region: str, cluster: str, name: str) -> Json:
        c = self._cluster(region, cluster)
        a = c.addons.get(name)
        if a is None:
            raise err.addon_not_found(cluster, name)
        return {"addon": render_addon(c.name, a)}

    def delete_addon(self, region: str, cluster: str, name: str) -> Json:
        c = self._cluster(region, cluster)
        a = c.addons.get(name)
        if a is None:
            raise err.addon_not_found(cluster, name)
        if a.status != "DELETING":
            a.status = "DELETING"
            a.modified_at = self._wall()
            self._schedule("addon", c, a, self.settings.addon_delete_seconds)
            self.generation += 1
        return {"addon": render_addon(c.name, a)}

    def list_addons(self, region: str, cluster: str, max_results: int | None, token: str | None) -> Json:
        c = self._cluster(region, cluster)
        return page_answer("addons", sorted(c.addons), max_results, token)

    def describe_addon_versions(
        self, k8s_version: str | None, addon: str | None, max_results: int | None, token: str | None
    ) -> Json:
        versions = list(self.settings.kubernetes_versions)
        if k8s_version is not None:
            versions = [v for v in versions if v == k8s_version]
        names = sorted(n for n in ADDON_CATALOG if addon is None or n == addon)
        page, nxt = paginate(names, max_results, token)
        addons = []
        for n in page:
            kind, ver = ADDON_CATALOG[n]
            addons.append(
                {
                    "addonName": n,
                    "type": kind,
                    "addonVersions": [
                        {
                            "addonVersion": ver,
                            "architecture": ["amd64", "arm64"],
                            "computeTypes": ["ec2"],
                            "compatibilities": [
                                {"clusterVersion": v, "platformVersions": ["*"], "defaultVersion": True}
                                for v in versions
                            ],
                            "requiresConfiguration": False,
                            "requiresIamPermissions": n == "aws-ebs-csi-driver",
                        }
                    ],
                    "publisher": "eks",
                    "owner": "aws",
                }
            )
        out: Json = {"addons": addons}
        if nxt:
            out["nextToken"] = nxt
        return out

    # --- console (control API) ------------------------------------------------------------------

    def console_delete_cluster(self, region: str, name: str) -> None:
        """Delete as the console does: node groups first, the cluster once they are gone."""
        c = self._cluster(region, name)
        for n in c.nodegroups.values():
            if n.status != "DELETING":
                n.status = "DELETING"
                self._schedule("nodegroup", c, n, self.settings.nodegroup_delete_seconds)
        c.status = "DELETING"
        for a in c.addons.values():
            a.status = "DELETING"
        delay = self.settings.cluster_delete_seconds
        if c.nodegroups:
            delay += self.settings.nodegroup_delete_seconds
        self._schedule("cluster", c, c, delay)
        self._touch(c)

    def cluster(self, region: str, name: str) -> ClusterRec:
        return self._cluster(region, name)

    def start_update(
        self,
        c: ClusterRec,
        type_: str,
        params: list[tuple[str, str]],
        changes: Json,
        nodegroup: NodegroupRec | None = None,
    ) -> UpdateRec:
        seconds = (
            self.settings.cluster_update_seconds
            if nodegroup is None
            else self.settings.nodegroup_update_seconds
        )
        return self._new_update(c, type_, params, changes, None, nodegroup=nodegroup, seconds=seconds)

    def touch(self, c: ClusterRec) -> None:
        self._touch(c)


def _check_scaling(min_size: int, max_size: int, desired: int) -> None:
    if min_size < 0 or desired < 0 or max_size < 1:
        raise err.invalid_parameter("Scaling sizes must be non-negative and maxSize at least 1.")
    if min_size > max_size:
        raise err.invalid_parameter(
            f"Minimum capacity {min_size} can't be greater than maximum capacity {max_size}"
        )
    if desired < min_size:
        raise err.invalid_parameter(
            f"Desired capacity {desired} can't be lower than minimum capacity {min_size}"
        )
    if desired > max_size:
        raise err.invalid_parameter(
            f"Desired capacity {desired} can't be greater than maximum capacity {max_size}"
        )
