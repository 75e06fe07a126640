"""Field bookkeeping shared by the merge policies: which fields sync touches, paths, managed-ness, diffs.

A field is *managed* when its value is non-null; ``[]``/``{}`` are managed. One exception: a node group's
``instanceType`` is a plain string in Rancher's Go type (never null), so ``""`` reads as "not set" there.

Paths use Rancher's JSON names: ``tags``, ``nodeGroups[<name>]`` (a whole node group: create or delete),
``nodeGroups[<name>].desiredSize`` (one field of one node group).
"""

from __future__ import annotations

import msgspec

from controlplane.api import EKSClusterConfigSpec, NodeGroup, SyncPolicy

from ._features import KEYED_FIELDS, NODE_GROUPS, is_unset, nodegroup_key
from ._features import NODEGROUP_FIELDS as NODEGROUP_FIELD_RULES
from ._keyed import keyed_diff

__all__ = [
    "FORCED_FIELDS",
    "JSON_NAMES",
    "KEYED_FIELDS",
    "NODE_GROUPS",
    "diff_fields",
    "is_unset",
    "nodegroup_key",
]

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

NODEGROUP_FIELDS: tuple[str, ...] = tuple(NODEGROUP_FIELD_RULES.names)
"""Node-group attributes merged one by one (the name is the key)."""


def diff_fields(desired: EKSClusterConfigSpec, observed: EKSClusterConfigSpec) -> list[str]:
    """Paths of the managed fields of ``desired`` whose value differs in ``observed``.

    Only fields managed in ``desired`` count; the forced fields never do. For a managed keyed list
    (``nodeGroups``, ``accessEntries``, ``addons``...), an element only in ``desired`` (to create) or only
    in ``observed`` (to delete) is ``nodeGroups[<name>]``; one in both yields one path per managed field
    that differs. List order does not matter (elements are keyed); when a key repeats, the list is compared
    as one value.
    """
    paths: list[str] = []
    for attr in SYNCED_FIELDS:
        want = getattr(desired, attr)
        if want is None:
            continue
        have = getattr(observed, attr)
        keyed = KEYED_FIELDS.get(attr)
        if keyed is not None:
            paths += keyed_diff(keyed, policy=SyncPolicy.DESIRED_WINS, desired=want, upstream=have).push
        elif want != have:
            paths.append(JSON_NAMES[attr])
    return paths
