"""Property tests for the merge policies (hypothesis).

Specs are drawn from small value domains (None / [] / {} / a few values) and the spec and upstream are
derived from the applied spec field by field, so that "unchanged", "changed" and "changed to the same
value" all occur often.
"""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlplane.api import (
    AccessEntry,
    AccessPolicy,
    AccessScope,
    Addon,
    EKSClusterConfigSpec,
    FargateProfile,
    FargateSelector,
    LaunchTemplate,
    NodeGroup,
    NodeGroupUpdateConfig,
    PodIdentityAssociation,
    SyncPolicy,
    Taint,
    UpgradePolicy,
)
from controlplane.sync import (
    FORCED_FIELDS,
    KEYED_FIELDS,
    SYNCED_FIELDS,
    desired_wins,
    diff_fields,
    observe,
    rancher_merge,
    reconcile,
    three_way_merge,
)

replace = msgspec.structs.replace
SCALARS = [f for f in SYNCED_FIELDS if f not in KEYED_FIELDS]
KEYED_SPEC = [f for f in KEYED_FIELDS if f != "node_groups"]
NG_FIELDS = [f.name for f in msgspec.structs.fields(NodeGroup) if f.name != "nodegroup_name"]
JSON = {f.name: f.encode_name for f in msgspec.structs.fields(EKSClusterConfigSpec)}
NG_JSON = {f.name: f.encode_name for f in msgspec.structs.fields(NodeGroup)}

str_list = st.sampled_from([None, [], ["a"], ["a", "b"], ["b"]])
str_map = st.sampled_from([None, {}, {"k": "1"}, {"k": "2"}, {"k": "1", "j": "x"}])
opt_bool = st.sampled_from([None, True, False])

SPEC_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "amazon_credential_secret": st.sampled_from(["", "ns:a", "ns:b"]),
    "display_name": st.sampled_from(["", "c1", "c2"]),
    "region": st.sampled_from(["", "us-east-1", "eu-west-1"]),
    "ip_family": st.sampled_from([None, "ipv4", "ipv6"]),
    "imported": st.booleans(),
    "kubernetes_version": st.sampled_from([None, "1.29", "1.30", "1.31"]),
    "tags": str_map,
    "secrets_encryption": opt_bool,
    "kms_key": st.sampled_from([None, "", "arn:k1"]),
    "public_access": opt_bool,
    "private_access": opt_bool,
    "ebs_csi_driver": opt_bool,
    "public_access_sources": str_list,
    "logging_types": str_list,
    "subnets": str_list,
    "security_groups": str_list,
    "service_role": st.sampled_from([None, "", "role-a"]),
    "authentication_mode": st.sampled_from([None, "CONFIG_MAP", "API"]),
    "bootstrap_cluster_creator_admin_permissions": opt_bool,
    "upgrade_policy": st.sampled_from([None, UpgradePolicy(support_type="STANDARD"), UpgradePolicy()]),
    "deletion_protection": opt_bool,
}
ROLE = "arn:aws:iam::123456789012:role/"
VIEW = AccessPolicy(policy_arn="view", access_scope=AccessScope(type="cluster"))
KEYED_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "access_entries": st.lists(
        st.builds(
            AccessEntry,
            principal_arn=st.sampled_from([ROLE + "a", ROLE + "b", ROLE + "c"]),
            kubernetes_groups=st.sampled_from([None, [], ["g"]]),
            access_policies=st.sampled_from([None, [], [VIEW], [AccessPolicy(policy_arn="admin")]]),
        ),
        max_size=3,
        unique_by=lambda e: e.principal_arn,
    ),
    "pod_identity_associations": st.lists(
        st.builds(
            PodIdentityAssociation,
            namespace=st.sampled_from(["a", "b"]),
            service_account=st.sampled_from(["s", "t"]),
            role_arn=st.sampled_from([None, ROLE + "r1", ROLE + "r2"]),
        ),
        max_size=3,
        unique_by=lambda a: (a.namespace, a.service_account),
    ),
    "addons": st.lists(
        st.builds(
            Addon,
            name=st.sampled_from(["vpc-cni", "coredns", "kube-proxy"]),
            version=st.sampled_from([None, "v1", "v2", "latest"]),
            configuration_values=st.sampled_from([None, "{}", "a: 1"]),
        ),
        max_size=3,
        unique_by=lambda a: a.name,
    ),
    "fargate_profiles": st.lists(
        st.builds(
            FargateProfile,
            name=st.sampled_from(["f1", "f2"]),
            pod_execution_role_arn=st.sampled_from([ROLE + "p", ROLE + "q"]),
            selectors=st.sampled_from([None, [FargateSelector(namespace="x")]]),
        ),
        max_size=2,
        unique_by=lambda f: f.name,
    ),
}
NG_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "gpu": opt_bool,
    "arm": opt_bool,
    "image_id": st.sampled_from([None, "ami-1", "ami-2"]),
    "disk_size": st.sampled_from([None, 20, 40]),
    "instance_type": st.sampled_from(["", "t3.large", "m5.large"]),
    "labels": st.sampled_from([None, {}, {"k": "v"}, {"k": None}]),
    "ec2_ssh_key": st.sampled_from([None, "", "key"]),
    "desired_size": st.sampled_from([None, 1, 2, 3]),
    "max_size": st.sampled_from([None, 3, 5]),
    "min_size": st.sampled_from([None, 0, 1]),
    "subnets": str_list,
    "tags": st.sampled_from([None, {}, {"t": "1"}]),
    "resource_tags": st.sampled_from([None, {}, {"r": "1"}]),
    "user_data": st.sampled_from([None, "ud1"]),
    "version": st.sampled_from([None, "", "1.29", "1.30"]),
    "launch_template": st.sampled_from([None, LaunchTemplate(id="lt-1", name="n", version=1)]),
    "request_spot_instances": opt_bool,
    "spot_instance_types": str_list,
    "node_role": st.sampled_from([None, "arn:role"]),
    "taints": st.sampled_from(
        [None, [], [Taint(key="a", effect="NO_SCHEDULE")], [Taint(key="a", value="1", effect="NO_SCHEDULE")]]
    ),
    "update_config": st.sampled_from([None, NodeGroupUpdateConfig(max_unavailable=1)]),
}
NG_NAMES = ["a", "b", "c", "d"]


@st.composite
def nodegroups(draw: st.DrawFn) -> list[NodeGroup]:
    names = draw(st.lists(st.sampled_from(NG_NAMES), unique=True, max_size=4))
    return [NodeGroup(nodegroup_name=n, **{f: draw(s) for f, s in NG_VALUES.items()}) for n in names]


@st.composite
def specs(draw: st.DrawFn) -> EKSClusterConfigSpec:
    values = {f: draw(s) for f, s in SPEC_VALUES.items()}
    values |= {f: draw(st.none() | s) for f, s in KEYED_VALUES.items()}
    return EKSClusterConfigSpec(**values, node_groups=draw(st.none() | nodegroups()))


@st.composite
def derived(draw: st.DrawFn, base: EKSClusterConfigSpec) -> EKSClusterConfigSpec:
    """A spec that keeps each field (and each node-group field) of ``base`` or changes it."""
    keep = st.booleans()
    values: dict[str, Any] = {}
    for f, strat in SPEC_VALUES.items():
        values[f] = getattr(base, f) if draw(keep) else draw(strat)
    for f, strat in KEYED_VALUES.items():
        values[f] = getattr(base, f) if draw(keep) else draw(st.none() | strat)
    if base.node_groups is None or not draw(keep):
        groups = draw(st.none() | nodegroups()) if base.node_groups is None or draw(keep) else None
        if base.node_groups is not None and groups is None:
            groups = draw(nodegroups())
    else:
        groups = []
        for ng in base.node_groups:
            if draw(st.integers(0, 5)) == 0:
                continue  # deleted
            fields = {f: getattr(ng, f) if draw(keep) else draw(NG_VALUES[f]) for f in NG_FIELDS}
            groups.append(NodeGroup(nodegroup_name=ng.nodegroup_name, **fields))
        present = {ng.nodegroup_name for ng in groups} | {ng.nodegroup_name for ng in base.node_groups}
        for n in NG_NAMES:
            if n not in present and draw(st.integers(0, 3)) == 0:
                groups.append(NodeGroup(nodegroup_name=n, **{f: draw(s) for f, s in NG_VALUES.items()}))
    return EKSClusterConfigSpec(**values, node_groups=groups)


@st.composite
def triples(
    draw: st.DrawFn,
) -> tuple[EKSClusterConfigSpec, EKSClusterConfigSpec | None, EKSClusterConfigSpec]:
    applied = draw(specs())
    spec = draw(derived(applied))
    upstream = draw(derived(applied))
    # Derived specs share value objects with the applied one; real inputs never alias each other.
    spec, upstream = fresh(spec), fresh(upstream)
    return spec, (None if draw(st.integers(0, 7)) == 0 else applied), upstream


def fresh(spec: EKSClusterConfigSpec) -> EKSClusterConfigSpec:
    return msgspec.json.decode(msgspec.json.encode(spec), type=EKSClusterConfigSpec)


def by_name(groups: list[NodeGroup] | None) -> dict[str, NodeGroup]:
    return {ng.nodegroup_name or "": ng for ng in groups or []}


def unset(attr: str, value: object) -> bool:
    return value is None or (attr == "instance_type" and value == "")


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- rancher -------------------------------------------------------------------------------------------


def rancher_reference(spec: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec) -> dict[str, Any]:
    """Rancher's map merge on the JSON-builtins forms, written independently of the implementation:
    for every key of the upstream map, a spec key that is present (non-null) takes the upstream value."""
    forced = {JSON[f] for f in FORCED_FIELDS}
    out = msgspec.to_builtins(spec)
    for key, value in msgspec.to_builtins(upstream).items():
        if key in out and key not in forced:
            out[key] = value
    return out  # type: ignore[no-any-return]


@SETTINGS
@given(specs(), specs())
def test_rancher_merge_is_ranchers_map_merge(
    spec: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec
) -> None:
    merged = rancher_merge(spec, upstream)
    assert msgspec.to_builtins(merged) == rancher_reference(spec, upstream)
    for f in SYNCED_FIELDS:
        if getattr(spec, f) is None:
            assert getattr(merged, f) is None
    for f in FORCED_FIELDS:
        assert getattr(merged, f) == getattr(spec, f)
    assert rancher_merge(merged, upstream) == merged


def check_rancher_policy_gated_by_update_in_progress(
    t: tuple[EKSClusterConfigSpec, EKSClusterConfigSpec | None, EKSClusterConfigSpec],
) -> None:
    spec, applied, upstream = t
    result = reconcile(SyncPolicy.RANCHER, spec, applied, upstream)
    if applied is None or spec != applied:
        assert result.spec == spec and result.adopted == []
    else:
        assert result.spec == rancher_merge(spec, upstream)
    assert result.push == diff_fields(result.spec, upstream)


# --- three-way -----------------------------------------------------------------------------------------


def check_three_way_top_level_fields(
    t: tuple[EKSClusterConfigSpec, EKSClusterConfigSpec | None, EKSClusterConfigSpec],
) -> None:
    spec, applied, upstream = t
    result = three_way_merge(spec, applied, upstream)
    conflict_paths = {c.path for c in result.conflicts}
    for f in FORCED_FIELDS:
        assert getattr(result.spec, f) == getattr(spec, f)
    for f in SCALARS:
        s, u = getattr(spec, f), getattr(upstream, f)
        a = getattr(applied, f) if applied is not None else None
        r = getattr(result.spec, f)
        if s is None:
            assert r is None  # unmanaged: never adopted
            continue
        if a is None or u is None:
            assert r == s  # no base, or no upstream value: nothing to adopt, local kept
            assert JSON[f] not in conflict_paths
            continue
        if s == a and u != a:
            assert r == u  # upstream-only change adopted, never reverted
        elif s != a and u == a:
            assert r == s  # local-only change kept
        else:
            assert r == s
        both = s != a and u != a and s != u
        assert (JSON[f] in conflict_paths) == both


def check_three_way_node_groups(
    t: tuple[EKSClusterConfigSpec, EKSClusterConfigSpec | None, EKSClusterConfigSpec],
) -> None:
    spec, applied, upstream = t
    result = three_way_merge(spec, applied, upstream)
    if spec.node_groups is None:
        assert result.spec.node_groups is None
        return
    if upstream.node_groups is None:
        assert result.spec.node_groups == spec.node_groups
        return
    S, U, R = by_name(spec.node_groups), by_name(upstream.node_groups), by_name(result.spec.node_groups)
    base_known = applied is not None and applied.node_groups is not None
    B = by_name(applied.node_groups) if base_known and applied is not None else U
    conflicts = {c.path for c in result.conflicts}
    adopted = {c.path for c in result.adopted}
    for n in set(S) | set(U) | set(B):
        path = f"nodeGroups[{n}]"
        if n in S and n not in U:
            if n in B and S[n] == B[n]:
                assert n not in R  # deleted upstream only: deletion adopted
            else:
                assert R.get(n) == S[n]  # local addition or local edit: kept
                assert (path in conflicts) == (n in B)
        elif n not in S and n in U:
            if n not in B:
                assert R.get(n) == U[n]  # added upstream only: adopted
            else:
                assert n not in R  # deleted locally: stays deleted
        elif n in S and n in U:
            s_ng, u_ng, r_ng = S[n], U[n], R[n]
            b_ng = B.get(n)
            for f in NG_FIELDS:
                if f == "taints":
                    continue  # a keyed list inside the node group (tests/sync/test_keyed_features.py)
                s, u, r = getattr(s_ng, f), getattr(u_ng, f), getattr(r_ng, f)
                fpath = f"{path}.{NG_JSON[f]}"
                if unset(f, s):
                    assert r == s  # null inside a managed node group stays null
                    assert fpath not in conflicts and fpath not in adopted
                    continue
                if b_ng is None:
                    a: Any = None
                    absent = True
                else:
                    a, absent = getattr(b_ng, f), False
                    if unset(f, a):
                        a = u  # no base for that field: upstream is the base
                if unset(f, u):
                    assert r == s
                    assert fpath not in conflicts
                    continue
                local, remote = (True, True) if absent else (s != a, u != a)
                if remote and not local:
                    assert r == u
                else:
                    assert r == s
                assert (fpath in conflicts) == (local and remote and s != u)
        else:
            assert n not in R  # deleted on both sides


def check_three_way_is_idempotent_and_push_is_the_remaining_diff(
    t: tuple[EKSClusterConfigSpec, EKSClusterConfigSpec | None, EKSClusterConfigSpec],
) -> None:
    spec, applied, upstream = t
    first = three_way_merge(spec, applied, upstream)
    second = three_way_merge(first.spec, applied, upstream)
    assert second.spec == first.spec
    assert second.adopted == []
    assert second.conflicts == first.conflicts
    assert first.push == diff_fields(first.spec, upstream)
    assert first.spec_changed == (first.spec != spec)


@SETTINGS
@given(specs())
def test_three_way_no_change_when_all_equal(spec: EKSClusterConfigSpec) -> None:
    result = three_way_merge(spec, spec, spec)
    assert result.spec == spec and result.adopted == [] and result.conflicts == [] and result.push == []


@SETTINGS
@given(specs(), st.sampled_from([None, "base"]), st.sampled_from(list(SyncPolicy)))
def test_null_spec_is_never_modified_nor_pushed(
    upstream: EKSClusterConfigSpec, applied_kind: str | None, policy: SyncPolicy
) -> None:
    spec = EKSClusterConfigSpec(display_name="c1", region="us-east-1", imported=True)
    applied = spec if applied_kind else None
    result = reconcile(policy, spec, applied, upstream)
    assert result.spec == spec and result.push == [] and result.conflicts == []


def check_inputs_are_not_mutated(
    t: tuple[EKSClusterConfigSpec, EKSClusterConfigSpec | None, EKSClusterConfigSpec],
) -> None:
    before = msgspec.json.encode(t)
    upstream_before = msgspec.json.encode(t[2])
    for policy in SyncPolicy:
        result = reconcile(policy, *t)
        assert msgspec.json.encode(t) == before
        # Adopted values are copies: mutating the result never reaches the upstream spec.
        for ng in result.spec.node_groups or []:
            if ng.labels is not None:
                ng.labels["mutated"] = "x"
        if result.spec.tags is not None:
            result.spec.tags["mutated"] = "x"
        assert msgspec.json.encode(t[2]) == upstream_before
        before = msgspec.json.encode(t)


# --- desired-wins / observe ----------------------------------------------------------------------------


def apply_pushes(
    spec: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec, paths: list[str]
) -> EKSClusterConfigSpec:
    """What AWS looks like after the actor pushed ``paths`` of ``spec`` (independent of the merge code):
    a path inside a keyed list's element replaces that element's field (a nested list whole) or the whole
    element with the desired one."""
    top = {v: k for k, v in JSON.items()}
    changes: dict[str, Any] = {}
    for path in paths:
        name, bracket, rest = path.partition("[")
        attr = top[name]
        if not bracket:
            changes[attr] = getattr(spec, attr)
            continue
        rules = KEYED_FIELDS[attr]
        label = lambda e, r=rules: r.label(r.key(e))  # noqa: E731
        have = {label(e): e for e in changes.get(attr, getattr(upstream, attr)) or []}
        want = {label(e): e for e in getattr(spec, attr) or []}
        element, _, field = rest.partition("]")
        field = field.lstrip(".").split("[", 1)[0].split(".", 1)[0]
        if not field:
            if element in want:
                have[element] = want[element]
            else:
                have.pop(element, None)
        else:
            f_attr = {f.encode_name: f.name for f in msgspec.structs.fields(type(want[element]))}[field]
            have[element] = replace(have[element], **{f_attr: getattr(want[element], f_attr)})
        changes[attr] = list(have.values()) if getattr(upstream, attr) is not None or have else None
    return replace(upstream, **changes)


@SETTINGS
@given(specs(), specs())
def test_desired_wins_converges(spec: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec) -> None:
    result = desired_wins(spec, upstream)
    assert result.spec is spec and result.adopted == [] and result.conflicts == []
    healed = apply_pushes(spec, upstream, result.push)
    assert diff_fields(spec, healed) == []
    for f in SCALARS:
        if getattr(spec, f) is not None:
            assert getattr(healed, f) == getattr(spec, f)
    if spec.node_groups is not None:
        assert set(by_name(healed.node_groups)) == set(by_name(spec.node_groups))
    for f in KEYED_SPEC:
        want = getattr(spec, f)
        if want is not None:
            rules = KEYED_FIELDS[f]
            assert {rules.key(e) for e in getattr(healed, f) or []} == {rules.key(e) for e in want}


def check_observe_never_pushes(
    t: tuple[EKSClusterConfigSpec, EKSClusterConfigSpec | None, EKSClusterConfigSpec],
) -> None:
    spec, applied, upstream = t
    assert observe(spec).push == []
    result = reconcile(SyncPolicy.OBSERVE, spec, applied, upstream)
    assert result.spec is spec and result.push == [] and result.adopted == []


Triple = tuple[EKSClusterConfigSpec, EKSClusterConfigSpec | None, EKSClusterConfigSpec]


@SETTINGS
@given(triples())
def test_three_way_invariants(t: Triple) -> None:
    """Upstream-only changes adopted (never reverted), local-only changes kept, conflicts exactly when both
    sides changed to different values, null stays null, idempotent, push = remaining diff."""
    check_three_way_top_level_fields(t)
    check_three_way_node_groups(t)
    check_three_way_is_idempotent_and_push_is_the_remaining_diff(t)


@SETTINGS
@given(triples())
def test_policies_on_triples(t: Triple) -> None:
    """Rancher's gate, observe never pushes, no policy mutates its inputs or aliases the upstream spec."""
    check_rancher_policy_gated_by_update_in_progress(t)
    check_observe_never_pushes(t)
    check_inputs_are_not_mutated(t)
