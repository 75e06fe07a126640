"""Table tests for the merge policies and diff_fields."""

from __future__ import annotations

import msgspec

from controlplane.api import EKSClusterConfigSpec, NodeGroup, SyncPolicy
from controlplane.sync import (
    Conflict,
    FieldChange,
    diff_fields,
    rancher_merge,
    reconcile,
    three_way_merge,
    update_in_progress,
)

replace = msgspec.structs.replace

IMPORTED = EKSClusterConfigSpec(
    display_name="prod", region="us-east-1", amazon_credential_secret="ns:cred", imported=True
)


def ng(name: str, **fields: object) -> NodeGroup:
    return NodeGroup(nodegroup_name=name, **fields)  # type: ignore[arg-type]


UPSTREAM = replace(
    IMPORTED,
    kubernetes_version="1.30",
    tags={"team": "a"},
    public_access=True,
    private_access=False,
    public_access_sources=["0.0.0.0/0"],
    logging_types=[],
    ebs_csi_driver=False,
    secrets_encryption=False,
    kms_key="",
    node_groups=[ng("a", desired_size=2, labels={}, instance_type="t3.large", version="1.30")],
)


def test_imported_null_spec_is_never_modified_nor_pushed() -> None:
    for policy in SyncPolicy:
        for applied in (None, IMPORTED):
            result = reconcile(policy, IMPORTED, applied, UPSTREAM)
            assert result.spec == IMPORTED, policy
            assert result.push == [] and result.adopted == [] and result.conflicts == []


def test_rancher_merge_replaces_managed_fields_wholesale() -> None:
    spec = replace(IMPORTED, tags={}, public_access_sources=[], node_groups=[ng("a", desired_size=5)])
    merged = rancher_merge(spec, UPSTREAM)
    assert merged.tags == {"team": "a"}
    assert merged.public_access_sources == ["0.0.0.0/0"]  # [] is managed: the fixture example
    assert merged.node_groups == UPSTREAM.node_groups  # replaced whole, nulls inside filled
    assert merged.kubernetes_version is None and merged.logging_types is None
    assert merged.node_groups is not UPSTREAM.node_groups  # no aliasing of the upstream spec


def test_rancher_policy_skips_while_update_in_progress() -> None:
    spec = replace(IMPORTED, kubernetes_version="1.31")
    assert update_in_progress(spec, None)
    assert update_in_progress(spec, replace(IMPORTED, kubernetes_version="1.30"))
    assert update_in_progress(replace(IMPORTED, tags={}), IMPORTED)  # {} vs null differ
    result = reconcile(SyncPolicy.RANCHER, spec, replace(IMPORTED, kubernetes_version="1.30"), UPSTREAM)
    assert result.spec == spec and result.push == ["kubernetesVersion"]
    settled = reconcile(SyncPolicy.RANCHER, spec, spec, UPSTREAM)
    assert settled.spec.kubernetes_version == "1.30"
    assert settled.adopted == [FieldChange("kubernetesVersion", "1.31", "1.30")]
    assert settled.push == []


def test_three_way_adopts_upstream_only_and_pushes_local_only() -> None:
    applied = replace(IMPORTED, kubernetes_version="1.30", tags={"team": "a"}, public_access=True)
    spec = replace(applied, public_access=False)  # local edit
    upstream = replace(UPSTREAM, tags={"team": "b"})  # console edit
    result = three_way_merge(spec, applied, upstream)
    assert result.spec.tags == {"team": "b"}
    assert result.spec.public_access is False
    assert result.adopted == [FieldChange("tags", {"team": "a"}, {"team": "b"})]
    assert result.conflicts == []
    assert result.push == ["publicAccess"]
    assert result.spec_changed


def test_three_way_conflict_local_wins() -> None:
    applied = replace(IMPORTED, kubernetes_version="1.29")
    spec = replace(IMPORTED, kubernetes_version="1.31")
    result = three_way_merge(spec, applied, UPSTREAM)
    assert result.spec == spec
    assert result.conflicts == [Conflict("kubernetesVersion", "1.31", "1.30", "1.29")]
    assert result.push == ["kubernetesVersion"]
    assert result.conflicts[0].message == (
        'kubernetesVersion changed both locally and upstream: local "1.31", upstream "1.30" '
        '(applied "1.29"); keeping local'
    )


def test_three_way_same_change_on_both_sides_is_no_conflict() -> None:
    applied = replace(IMPORTED, kubernetes_version="1.29")
    spec = replace(IMPORTED, kubernetes_version="1.30")
    result = three_way_merge(spec, applied, UPSTREAM)
    assert result.conflicts == [] and result.adopted == [] and result.push == []


def test_three_way_without_applied_spec_local_wins_and_nothing_is_adopted() -> None:
    spec = replace(IMPORTED, kubernetes_version="1.31", tags={"team": "a"})
    result = three_way_merge(spec, None, UPSTREAM)
    assert result.spec == spec
    assert result.adopted == [] and result.conflicts == []
    assert result.push == ["kubernetesVersion"]


def test_three_way_nodegroups_per_group_and_field() -> None:
    applied = replace(
        IMPORTED,
        node_groups=[
            ng("keep", desired_size=2, max_size=3, labels={}),
            ng("gone-upstream", desired_size=1),
            ng("edited-gone", desired_size=1),
            ng("deleted-locally", desired_size=1),
        ],
    )
    spec = replace(
        IMPORTED,
        node_groups=[
            ng("keep", desired_size=2, max_size=5, labels={}),  # local max 3 -> 5
            ng("gone-upstream", desired_size=1),
            ng("edited-gone", desired_size=4),  # edited locally, deleted upstream
            ng("new-local", desired_size=1),
        ],
    )
    upstream = replace(
        IMPORTED,
        node_groups=[
            ng("keep", desired_size=4, max_size=3, labels={"a": "b"}, instance_type="t3.large"),
            ng("deleted-locally", desired_size=1),
            ng("console", desired_size=7),
        ],
    )
    result = three_way_merge(spec, applied, upstream)
    groups = {g.nodegroup_name: g for g in result.spec.node_groups or []}
    assert list(groups) == ["keep", "edited-gone", "new-local", "console"]
    assert groups["keep"] == ng("keep", desired_size=4, max_size=5, labels={"a": "b"})  # instanceType unset
    assert groups["console"] == ng("console", desired_size=7)
    assert {c.path for c in result.conflicts} == {"nodeGroups[edited-gone]"}
    assert [c.path for c in result.adopted] == [
        "nodeGroups[keep].labels",  # NodeGroup field order
        "nodeGroups[keep].desiredSize",
        "nodeGroups[gone-upstream]",
        "nodeGroups[console]",
    ]
    assert result.push == [
        "nodeGroups[keep].maxSize",
        "nodeGroups[edited-gone]",
        "nodeGroups[new-local]",
        "nodeGroups[deleted-locally]",
    ]


def test_three_way_deleted_locally_but_edited_upstream_is_a_conflict() -> None:
    applied = replace(IMPORTED, node_groups=[ng("x", desired_size=1)])
    spec = replace(IMPORTED, node_groups=[])
    upstream = replace(IMPORTED, node_groups=[ng("x", desired_size=3)])
    result = three_way_merge(spec, applied, upstream)
    assert result.spec.node_groups == []
    assert [c.path for c in result.conflicts] == ["nodeGroups[x]"]
    assert result.conflicts[0].local is None
    assert result.push == ["nodeGroups[x]"]


def test_desired_wins_and_observe() -> None:
    spec = replace(IMPORTED, tags={"team": "z"}, node_groups=[ng("a", desired_size=2)])
    dw = reconcile(SyncPolicy.DESIRED_WINS, spec, spec, UPSTREAM)
    assert dw.spec is spec and dw.push == ["tags"]
    ob = reconcile(SyncPolicy.OBSERVE, spec, None, UPSTREAM)
    assert ob.spec is spec and ob.push == [] and ob.adopted == []


def test_diff_fields_paths() -> None:
    desired = replace(
        IMPORTED,
        kubernetes_version="1.30",
        logging_types=["api"],
        subnets=["s-1"],  # forced: never diffed
        node_groups=[ng("a", desired_size=3, instance_type="t3.large"), ng("b")],
    )
    observed = replace(UPSTREAM, node_groups=[ng("a", desired_size=2, instance_type="t3.large"), ng("c")])
    assert diff_fields(desired, observed) == [
        "loggingTypes",
        "nodeGroups[a].desiredSize",
        "nodeGroups[b]",
        "nodeGroups[c]",
    ]
    assert diff_fields(IMPORTED, observed) == []
