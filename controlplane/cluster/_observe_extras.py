"""Reading the families beyond Rancher's: access entries (with their policies), Pod Identity
associations, add-ons and Fargate profiles.

A family costs one list call and one call per element (two per access entry), so it is read when the spec
manages it, or when the upstream spec has never shown it (the import, the first refresh); otherwise the
last answer stands, as for the EBS CSI add-on. A managed family is therefore always current; an unmanaged
one is what it was when first read (``controlplane sync`` after a spec edit that manages it reads it again).
A family the credential may not read is left out (null upstream) while unmanaged, so an older IAM policy
keeps refreshing; once managed, the denial is the refresh's error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from controlplane.api import EKSClusterConfigSpec
from controlplane.aws import AccessDeniedError, NotFoundError
from controlplane.sync import Extras, iam_principal

from ._context import Pass

T = TypeVar("T")
FAMILIES = ("access_entries", "pod_identity_associations", "addons", "fargate_profiles")
API_MODES = frozenset({"API", "API_AND_CONFIG_MAP"})


def families_to_read(spec: EKSClusterConfigSpec, previous: EKSClusterConfigSpec | None) -> set[str]:
    """The families this refresh reads (an add-on's Pod Identity associations come with the add-ons)."""
    read = {
        f
        for f in FAMILIES
        if getattr(spec, f) is not None or previous is None or getattr(previous, f) is None
    }
    if "addons" in read:
        read.add("pod_identity_associations")
    return read


async def _each(names: list[str], describe: Callable[[str], Awaitable[T]]) -> list[T]:
    """Describe every listed element concurrently; one deleted between the list and the describe is gone."""

    async def one(name: str) -> T | None:
        try:
            return await describe(name)
        except NotFoundError:
            return None

    return [x for x in await asyncio.gather(*(one(n) for n in names)) if x is not None]


async def _access_entries(p: Pass) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    scope, name = p.scope, p.display

    async def entry(arn: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        described, policies = await asyncio.gather(
            scope.describe_access_entry(name, arn), scope.list_associated_access_policies(name, arn)
        )
        return described, policies

    return await _each(await scope.list_access_entries(name), entry)


async def _associations(p: Pass) -> list[dict[str, Any]]:
    scope, name = p.scope, p.display
    summaries = await scope.list_pod_identity_associations(name)
    ids = [str(s.get("associationId") or "") for s in summaries]
    return await _each(ids, lambda aid: scope.describe_pod_identity_association(name, aid))


async def _addons(p: Pass) -> list[dict[str, Any]]:
    scope, name = p.scope, p.display
    return await _each(await scope.list_addons(name), lambda addon: scope.describe_addon(name, addon))


async def _fargate(p: Pass) -> list[dict[str, Any]]:
    scope, name = p.scope, p.display
    return await _each(
        await scope.list_fargate_profiles(name), lambda fp: scope.describe_fargate_profile(name, fp)
    )


async def our_principal(p: Pass) -> str:
    """The IAM principal this cluster's credential acts as (the form an access entry names)."""
    return iam_principal((await p.scope.get_caller_identity()).arn)


async def read_extras(
    p: Pass, cluster: dict[str, Any], nodegroups: list[dict[str, Any]]
) -> tuple[Extras, dict[str, Any]]:
    """The reads of this refresh, and the last known values of the families it does not read."""
    previous = p.status.eks_status.upstream_spec
    read = families_to_read(p.spec, previous)
    known = {f: getattr(previous, f) for f in FAMILIES if f not in read and previous is not None}
    mode = (cluster.get("accessConfig") or {}).get("authenticationMode")

    async def family(field: str, reader: Callable[[Pass], Awaitable[T]]) -> T | None:
        if field not in read:
            return None
        try:
            return await reader(p)
        except AccessDeniedError:
            if getattr(p.spec, field) is not None:
                raise
            return None

    async def entries(q: Pass) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        return await _access_entries(q) if mode in API_MODES else []

    access, associations, addons, fargate = await asyncio.gather(
        family("access_entries", entries),
        family("pod_identity_associations", _associations),
        family("addons", _addons),
        family("fargate_profiles", _fargate),
    )
    hidden: frozenset[str] = frozenset()
    bootstrap = p.spec.bootstrap_cluster_creator_admin_permissions
    if access and not p.spec.imported and bootstrap is not False:
        hidden = frozenset({await our_principal(p)})  # the creator's own admin entry: EKS made it for us
    extras = Extras(
        access_entries=access,
        pod_identity_associations=associations,
        addons=addons,
        fargate_profiles=fargate,
        hidden_principals=hidden,
    )
    return extras, known
