"""Field bookkeeping shared by the merge policies: which fields sync touches, paths, managed-ness, diffs.

A field is *managed* when its value is non-null; ``[]``/``{}`` are managed. One exception: a node group's
``instanceType`` is a plain string in Rancher's Go type (never null), so ``""`` reads as "not set" there.

Paths use Rancher's JSON names: ``tags``, ``nodeGroups[<name>]`` (a whole node group: create or delete),
``nodeGroups[<name>].desiredSize`` (one field of one node group).
"""

from __future__ import annotations

from typing import Any

import msgspec

from controlplane.api import EKSClusterConfigSpec, NodeGroup, SyncPolicy

from ._changes import ABSENT, MergeLog
from ._keyed import KeyedList, keyed_diff

# Rancher's BuildEKSUpstreamSpec copies these from the spec into the upstream spec, so sync never changes
# them (and the operator never updates them after create): they are neither adopted nor pushed.
FORCED_FIELDS: tuple[str, ...] = (
    "display_name",
    "region",
    "amazon_credential_secret",
    "imported",
    "subnets",
    "security_groups",
    "service_role",
)

_SPEC_FIELDS = msgspec.structs.fields(EKSClusterConfigSpec)
_NG_FIELDS = msgspec.structs.fields(NodeGroup)

JSON_NAMES: dict[str, str] = {f.name: f.encode_name for f in _SPEC_FIELDS}
NODEGROUP_JSON_NAMES: dict[str, str] = {f.name: f.encode_name for f in _NG_FIELDS}

SYNCED_FIELDS: tuple[str, ...] = tuple(f.name for f in _SPEC_FIELDS if f.name not in FORCED_FIELDS)
"""Top-level attributes the merge policies reconcile, in struct order."""

NODEGROUP_FIELDS: tuple[str, ...] = tuple(f.name for f in _NG_FIELDS if f.name != "nodegroup_name")
"""Node-group attributes merged one by one (the name is the key)."""


def is_unset(attr: str, value: object) -> bool:
    """True when the value means "not managed" (null; ``""`` for a node group's ``instanceType``)."""
    return value is None or (attr == "instance_type" and value == "")


def nodegroup_key(ng: NodeGroup) -> str:
    return ng.nodegroup_name or ""


def _nodegroup_changes(path: str, want: NodeGroup, have: NodeGroup) -> list[str]:
    """One path per field managed in ``want`` whose value differs in ``have``."""
    return [
        f"{path}.{NODEGROUP_JSON_NAMES[attr]}"
        for attr in NODEGROUP_FIELDS
        if not is_unset(attr, getattr(want, attr)) and getattr(want, attr) != getattr(have, attr)
    ]


def _merge_nodegroup(
    log: MergeLog, path: str, mine: NodeGroup, base: NodeGroup | None, theirs: NodeGroup
) -> NodeGroup:
    """Field by field; a field unset in ``mine`` is unmanaged and stays unset, one unset upstream reports
    nothing, one unset in the base has no known base."""
    changes: dict[str, Any] = {}
    for attr in NODEGROUP_FIELDS:
        value = getattr(mine, attr)
        theirs_value = getattr(theirs, attr)
        if is_unset(attr, value) or is_unset(attr, theirs_value):
            continue
        if base is None:
            field_base: Any = ABSENT
        else:
            base_value = getattr(base, attr)
            field_base = None if is_unset(attr, base_value) else base_value
        merged = log.value(f"{path}.{NODEGROUP_JSON_NAMES[attr]}", value, field_base, theirs_value)
        if merged is not value:
            changes[attr] = merged
    return msgspec.structs.replace(mine, **changes) if changes else mine


NODE_GROUPS: KeyedList[str, NodeGroup] = KeyedList(
    path=JSON_NAMES["node_groups"], key=nodegroup_key, changes=_nodegroup_changes, merge=_merge_nodegroup
)
"""Node groups: keyed by ``nodegroupName``, compared and merged per managed field."""


def diff_fields(desired: EKSClusterConfigSpec, observed: EKSClusterConfigSpec) -> list[str]:
    """Paths of the managed fields of ``desired`` whose value differs in ``observed``.

    Only fields managed in ``desired`` count; the forced fields never do. For a managed ``nodeGroups``,
    a group only in ``desired`` (to create) or only in ``observed`` (to delete) is ``nodeGroups[<name>]``;
    a group in both yields one path per managed field that differs. List order of node groups does not
    matter (they are keyed by name); when a name repeats, ``nodeGroups`` is compared as one value.
    """
    paths: list[str] = []
    for attr in SYNCED_FIELDS:
        want = getattr(desired, attr)
        if want is None:
            continue
        have = getattr(observed, attr)
        if attr == "node_groups":
            paths += keyed_diff(NODE_GROUPS, policy=SyncPolicy.DESIRED_WINS, desired=want, upstream=have).push
        elif want != have:
            paths.append(JSON_NAMES[attr])
    return paths
