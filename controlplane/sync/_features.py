"""How each keyed list of the spec is keyed, compared and merged (all through ``keyed_diff``).

* ``nodeGroups`` by ``nodegroupName``; inside a node group, ``taints`` by (``key``, ``effect``);
* ``accessEntries`` by ``principalArn``; inside an entry, ``accessPolicies`` by ``policyArn``;
* ``podIdentityAssociations`` by (``namespace``, ``serviceAccount``);
* ``addons`` by ``name``; inside an add-on, ``podIdentityAssociations`` by ``serviceAccount``;
* ``fargateProfiles`` by ``name``.

Elements are compared field by field (``_elements``). Two add-on fields are never compared: ``version``
when it is ``default`` or ``latest`` (the actor resolves it for the cluster's Kubernetes version, so a
console change of the version of such an add-on is not adopted) and ``resolveConflicts`` (how to push,
never reported by AWS).
"""

from __future__ import annotations

from typing import Any

import msgspec

from controlplane.api import (
    AccessEntry,
    AccessPolicy,
    Addon,
    AddonPodIdentity,
    FargateProfile,
    NodeGroup,
    PodIdentityAssociation,
    Taint,
)

from ._changes import ABSENT, MergeLog
from ._elements import fields_of, keyed, unset_if_none
from ._keyed import KeyedList

SYMBOLIC_ADDON_VERSIONS = frozenset({"default", "latest"})


def is_unset(attr: str, value: object) -> bool:
    """True when the value means "not managed" (null; ``""`` for a node group's ``instanceType``)."""
    return value is None or (attr == "instance_type" and value == "")


# --- taints: the value "" and no value are the same taint -------------------------------------------


def _plain_taint(t: Taint) -> Taint:
    return t if t.value else msgspec.structs.replace(t, value=None)


def _taint_changes(path: str, want: Taint, have: Taint) -> list[str]:
    return [] if _plain_taint(want) == _plain_taint(have) else [path]


def _merge_taint(log: MergeLog, path: str, mine: Taint, base: Taint | None, theirs: Taint) -> Taint:
    if _plain_taint(mine) == _plain_taint(theirs):
        return mine
    shown_base: Any = ABSENT if base is None else _plain_taint(base)
    merged = log.value(path, _plain_taint(mine), shown_base, _plain_taint(theirs))
    return mine if merged == _plain_taint(mine) else merged


def taint_key(t: Taint) -> tuple[str, str]:
    return (t.key or "", t.effect or "")


TAINTS: KeyedList[tuple[str, str], Taint] = KeyedList(
    path="taints",
    key=taint_key,
    label=lambda k: f"{k[0]}:{k[1]}",
    changes=_taint_changes,
    merge=_merge_taint,
)

# --- node groups ----------------------------------------------------------------------------------


def nodegroup_key(ng: NodeGroup) -> str:
    return ng.nodegroup_name or ""


NODEGROUP_FIELDS = fields_of(NodeGroup, keys=("nodegroup_name",), ignored=is_unset, nested={"taints": TAINTS})
NODE_GROUPS: KeyedList[str, NodeGroup] = keyed("nodeGroups", nodegroup_key, NODEGROUP_FIELDS)
"""Node groups: keyed by ``nodegroupName``, compared and merged per managed field."""

# --- access entries -------------------------------------------------------------------------------

ACCESS_POLICIES: KeyedList[str, AccessPolicy] = keyed("accessPolicies", lambda p: p.policy_arn or "")
ACCESS_ENTRIES: KeyedList[str, AccessEntry] = keyed(
    "accessEntries",
    lambda e: e.principal_arn or "",
    fields_of(AccessEntry, keys=("principal_arn",), nested={"access_policies": ACCESS_POLICIES}),
)

# --- Pod Identity ---------------------------------------------------------------------------------


def association_key(a: PodIdentityAssociation) -> tuple[str, str]:
    return (a.namespace or "", a.service_account or "")


POD_IDENTITY_ASSOCIATIONS: KeyedList[tuple[str, str], PodIdentityAssociation] = keyed(
    "podIdentityAssociations",
    association_key,
    fields_of(PodIdentityAssociation, keys=("namespace", "service_account")),
    label=lambda k: f"{k[0]}/{k[1]}",
)

# --- add-ons --------------------------------------------------------------------------------------


def _addon_ignored(attr: str, value: object) -> bool:
    if attr == "resolve_conflicts":
        return True
    return unset_if_none(attr, value) or (attr == "version" and value in SYMBOLIC_ADDON_VERSIONS)


ADDON_ASSOCIATIONS: KeyedList[str, AddonPodIdentity] = keyed(
    "podIdentityAssociations", lambda a: a.service_account or ""
)
ADDONS: KeyedList[str, Addon] = keyed(
    "addons",
    lambda a: a.name or "",
    fields_of(
        Addon,
        keys=("name",),
        ignored=_addon_ignored,
        nested={"pod_identity_associations": ADDON_ASSOCIATIONS},
    ),
)

# --- Fargate profiles -----------------------------------------------------------------------------

FARGATE_PROFILES: KeyedList[str, FargateProfile] = keyed(
    "fargateProfiles", lambda f: f.name or "", fields_of(FargateProfile, keys=("name",))
)

KEYED_FIELDS: dict[str, KeyedList[Any, Any]] = {
    "node_groups": NODE_GROUPS,
    "access_entries": ACCESS_ENTRIES,
    "pod_identity_associations": POD_IDENTITY_ASSOCIATIONS,
    "addons": ADDONS,
    "fargate_profiles": FARGATE_PROFILES,
}
"""Every keyed-list attribute of the spec and how it is keyed."""
