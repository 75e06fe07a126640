"""Field bookkeeping shared by the merge policies: which fields sync touches, paths, managed-ness, diffs.

A field is *managed* when its value is non-null; ``[]``/``{}`` are managed. One exception: a node group's
``instanceType`` is a plain string in Rancher's Go type (never null), so ``""`` reads as "not set" there.

Paths use Rancher's JSON names: ``tags``, ``nodeGroups[<name>]`` (a whole node group: create or delete),
``nodeGroups[<name>].desiredSize`` (one field of one node group).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from controlplane.api import EKSClusterConfigSpec, NodeGroup

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


def nodegroup_path(name: str, attr: str | None = None) -> str:
    base = f"nodeGroups[{name}]"
    return base if attr is None else f"{base}.{NODEGROUP_JSON_NAMES[attr]}"


def by_name(groups: Sequence[NodeGroup]) -> dict[str, NodeGroup] | None:
    """Node groups keyed by name in list order, or None when a name repeats (then merged as one value)."""
    out: dict[str, NodeGroup] = {}
    for ng in groups:
        key = nodegroup_key(ng)
        if key in out:
            return None
        out[key] = ng
    return out


def _nodegroup_diff(name: str, want: NodeGroup, have: NodeGroup) -> list[str]:
    return [
        nodegroup_path(name, attr)
        for attr in NODEGROUP_FIELDS
        if not is_unset(attr, getattr(want, attr)) and getattr(want, attr) != getattr(have, attr)
    ]


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
        if attr != "node_groups":
            if want != have:
                paths.append(JSON_NAMES[attr])
            continue
        want_map = by_name(want)
        have_map = by_name(have) if have is not None else {}
        if want_map is None or have_map is None:
            if want != have:
                paths.append(JSON_NAMES[attr])
            continue
        for name, ng in want_map.items():
            other = have_map.get(name)
            if other is None:
                paths.append(nodegroup_path(name))
            else:
                paths.extend(_nodegroup_diff(name, ng, other))
        paths.extend(nodegroup_path(name) for name in have_map if name not in want_map)
    return paths
