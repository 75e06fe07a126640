"""Reading a cluster's state from AWS: the raw answers the pure upstream builders need."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from controlplane.aws import AwsError, NotFoundError
from controlplane.sync import (
    Extras,
    UpstreamResult,
    build_upstream_cluster_state,
    build_upstream_spec,
    managed_launch_template_versions_needed,
)

from . import _plan
from ._context import Pass
from ._observe_extras import read_extras


class Observation(msgspec.Struct, kw_only=True):
    """One consistent read of the cluster, its node groups, managed LT versions and the EBS addon."""

    cluster: dict[str, Any]
    nodegroups: list[dict[str, Any]]
    lt_versions: dict[tuple[str, str], dict[str, Any] | None]
    ebs_addon: dict[str, Any] | None
    managed_lt_id: str
    known_ebs_csi_driver: bool | None = None
    """Set when the addon was not read this time: the value the last read found."""
    extras: Extras = msgspec.field(default_factory=Extras)
    """Access entries, Pod Identity associations, add-ons and Fargate profiles (those read this time)."""
    known: dict[str, Any] = msgspec.field(default_factory=dict)
    """Upstream values of the families not read this time, as the last read found them."""
    version_support: tuple[str, str] | None = None
    """(Kubernetes version, EKS's support status of it) when read this time (once per version)."""

    def upstream(self, p: Pass) -> UpstreamResult:
        """Rancher's upstream spec (managed LT lifted into fields; forced fields from the spec)."""
        result = build_upstream_spec(
            p.spec,
            self.cluster,
            self.nodegroups,
            self.lt_versions,
            cluster_name=p.name,
            managed_launch_template_id=self.managed_lt_id,
            ebs_addon=self.ebs_addon,
            extras=self.extras,
        )
        known = dict(self.known)
        if self.known_ebs_csi_driver is not None:
            known["ebs_csi_driver"] = self.known_ebs_csi_driver
        if not known:
            return result
        spec = msgspec.structs.replace(result.spec, **known)
        return msgspec.structs.replace(result, spec=spec)

    def operator_view(self, p: Pass) -> Any:
        """The operator's view (keeps node groups' launch templates), used to plan pushes."""
        view = build_upstream_cluster_state(
            self.cluster,
            self.nodegroups,
            self.lt_versions,
            display_name=p.display,
            managed_launch_template_id=self.managed_lt_id,
            ebs_addon=self.ebs_addon,
            include_managed_launch_template=True,
            extras=self.extras,
        )
        return msgspec.structs.replace(view, **self.known) if self.known else view


async def observe(p: Pass, *, cluster: dict[str, Any] | None = None) -> Observation:
    """Every read a refresh or an update pass needs, node groups described concurrently."""
    scope = p.scope
    if cluster is None:
        cluster = await scope.describe_cluster(p.display)
    names = await scope.list_nodegroups(p.display)

    async def describe(ng: str) -> dict[str, Any] | None:
        try:
            return await scope.describe_nodegroup(p.display, ng)
        except NotFoundError:
            return None  # deleted between the list and the describe

    described = await asyncio.gather(*(describe(n) for n in names))
    nodegroups = [ng for ng in described if ng is not None]
    managed = p.status.eks_status.managed_launch_template_id
    lt_versions: dict[tuple[str, str], dict[str, Any] | None] = {}
    needed = managed_launch_template_versions_needed(nodegroups, managed)
    if needed:
        try:
            found = await scope.describe_launch_template_versions(managed, [v for _, v in needed])
        except NotFoundError:
            found = None
        by_version = {str(v.get("VersionNumber")): v for v in found or []}
        for key in needed:
            if found is None:
                lt_versions[key] = None
            elif key[1] in by_version:
                lt_versions[key] = by_version[key[1]]
    ebs_addon: dict[str, Any] | None = None
    previous = p.status.eks_status.upstream_spec
    # The addon is read when the spec manages it, and once to learn it; otherwise the last answer
    # stands: one call less per refresh (DescribeAddon was a fifth of a 2-node-group refresh).
    ebs_checked = p.spec.ebs_csi_driver is not None or previous is None
    if ebs_checked:
        try:
            ebs_addon = await scope.describe_addon(p.display, _plan.EBS_ADDON_NAME)
        except NotFoundError:
            ebs_addon = None
        except AwsError as exc:
            raise AwsError(
                f"error checking if ebs csi driver addon is installed in cluster [{p.display}]: {exc}"
            ) from exc
    extras, known = await read_extras(p, cluster, nodegroups)
    version = str(cluster.get("version") or "")
    support: tuple[str, str] | None = None
    if version and version != p.status.eks_status.version_support_of:
        status = await p.deps.versions.status(scope, version)
        if status:
            support = (version, status)
    return Observation(
        cluster=cluster,
        nodegroups=nodegroups,
        lt_versions=lt_versions,
        ebs_addon=ebs_addon,
        managed_lt_id=managed,
        known_ebs_csi_driver=None if ebs_checked else previous.ebs_csi_driver if previous else None,
        extras=extras,
        known=known,
        version_support=support,
    )
