"""Property tests of the real keyed lists (access entries with their policies, Pod Identity associations,
add-ons, Fargate profiles, taints): under every sync policy the diff converges, and nothing outside the
managed set is touched (a null list, a null field or nested list inside an element, an add-on's symbolic
version or its resolveConflicts).

What a push does to AWS is written here from the documented rules, independently of the diff code: a
create puts the desired element, a delete removes it, an update sets the managed fields of the element.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlplane.api import (
    AccessEntry,
    AccessPolicy,
    AccessScope,
    Addon,
    AddonPodIdentity,
    FargateProfile,
    FargateSelector,
    PodIdentityAssociation,
    SyncPolicy,
    Taint,
)
from controlplane.sync import (
    ACCESS_ENTRIES,
    ADDONS,
    FARGATE_PROFILES,
    POD_IDENTITY_ASSOCIATIONS,
    TAINTS,
    KeyedList,
    keyed_diff,
)

ROLE = "arn:aws:iam::123456789012:role/"
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POLICIES = [
    AccessPolicy(policy_arn="view", access_scope=AccessScope(type="cluster")),
    AccessPolicy(policy_arn="view", access_scope=AccessScope(type="namespace", namespaces=["a"])),
    AccessPolicy(policy_arn="admin", access_scope=AccessScope(type="cluster")),
]


def policy_lists() -> st.SearchStrategy[list[AccessPolicy] | None]:
    return st.none() | st.lists(st.sampled_from(POLICIES), max_size=2, unique_by=lambda p: p.policy_arn)


ELEMENTS: dict[str, st.SearchStrategy[Any]] = {
    "accessEntries": st.builds(
        AccessEntry,
        principal_arn=st.sampled_from([ROLE + "a", ROLE + "b", ROLE + "c"]),
        type=st.sampled_from([None, "STANDARD"]),
        kubernetes_groups=st.sampled_from([None, [], ["g"], ["g", "h"]]),
        username=st.sampled_from([None, "u1", "u2"]),
        tags=st.sampled_from([None, {}, {"t": "1"}]),
        access_policies=policy_lists(),
    ),
    "podIdentityAssociations": st.builds(
        PodIdentityAssociation,
        namespace=st.sampled_from(["a", "b"]),
        service_account=st.sampled_from(["s", "t"]),
        role_arn=st.sampled_from([None, ROLE + "r1", ROLE + "r2"]),
        tags=st.sampled_from([None, {}, {"t": "1"}]),
    ),
    "addons": st.builds(
        Addon,
        name=st.sampled_from(["vpc-cni", "coredns", "kube-proxy"]),
        version=st.sampled_from([None, "v1", "v2", "latest", "default"]),
        configuration_values=st.sampled_from([None, "{}", "a: 1"]),
        service_account_role_arn=st.sampled_from([None, ROLE + "x"]),
        pod_identity_associations=st.none()
        | st.lists(
            st.builds(
                AddonPodIdentity,
                service_account=st.sampled_from(["sa1", "sa2"]),
                role_arn=st.sampled_from([ROLE + "1", ROLE + "2"]),
            ),
            max_size=2,
            unique_by=lambda a: a.service_account,
        ),
        resolve_conflicts=st.sampled_from([None, "OVERWRITE"]),
    ),
    "fargateProfiles": st.builds(
        FargateProfile,
        name=st.sampled_from(["f1", "f2", "f3"]),
        pod_execution_role_arn=st.sampled_from([ROLE + "p", ROLE + "q"]),
        subnets=st.sampled_from([None, ["subnet-1"]]),
        selectors=st.sampled_from([None, [FargateSelector(namespace="x")], [FargateSelector(namespace="y")]]),
        tags=st.sampled_from([None, {}, {"t": "1"}]),
    ),
    "taints": st.builds(
        Taint,
        key=st.sampled_from(["a", "b"]),
        effect=st.sampled_from(["NO_SCHEDULE", "NO_EXECUTE"]),
        value=st.sampled_from([None, "", "1", "2"]),
    ),
}
LISTS: dict[str, KeyedList[Any, Any]] = {
    "accessEntries": ACCESS_ENTRIES,
    "podIdentityAssociations": POD_IDENTITY_ASSOCIATIONS,
    "addons": ADDONS,
    "fargateProfiles": FARGATE_PROFILES,
    "taints": TAINTS,
}


def unmanaged(field: str, value: object) -> bool:
    """The documented rule: null is unmanaged; so are an add-on's symbolic version and resolveConflicts."""
    return (
        value is None
        or field == "resolve_conflicts"
        or (field == "version" and value in ("default", "latest"))
    )


def plain(value: Any) -> Any:
    """Taints: the value "" and no value are the same taint."""
    if isinstance(value, Taint) and not value.value:
        return msgspec.structs.replace(value, value=None)
    return value


def apply_update(want: Any, have: Any) -> Any:
    if isinstance(want, Taint):
        return want
    changes = {
        f.name: getattr(want, f.name)
        for f in msgspec.structs.fields(type(want))
        if not unmanaged(f.name, getattr(want, f.name))
    }
    return msgspec.structs.replace(have, **changes)


def lists(name: str) -> st.SearchStrategy[list[Any]]:
    rules = LISTS[name]
    return st.lists(ELEMENTS[name], max_size=3, unique_by=rules.key)


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, list[Any] | None, list[Any] | None, list[Any] | None, SyncPolicy]:
    name = draw(st.sampled_from(sorted(LISTS)))
    nullable = st.none() | lists(name)
    return name, draw(nullable), draw(nullable), draw(nullable), draw(st.sampled_from(list(SyncPolicy)))


@SETTINGS
@given(cases())
def test_the_diff_converges_and_touches_only_the_managed_set(
    case: tuple[str, list[Any] | None, list[Any] | None, list[Any] | None, SyncPolicy],
) -> None:
    name, desired, upstream, base, policy = case
    rules = LISTS[name]
    d = keyed_diff(rules, policy=policy, desired=desired, upstream=upstream, base=base)
    if desired is None or policy is SyncPolicy.OBSERVE:
        assert not (d.creates or d.updates or d.deletes or d.push)  # unmanaged, or read-only
        assert d.merged is desired
        return
    merged = d.merged
    assert merged is not None
    have = {rules.key(e): e for e in upstream or []}
    want = {rules.key(e): e for e in merged}
    # Only desired elements are created, only upstream elements outside the desired list are deleted,
    # and an update changes nothing but the desired element's managed fields.
    assert {rules.key(e) for e in d.creates} == set(want) - set(have)
    assert {rules.key(e) for e in d.deletes} == set(have) - set(want)
    for u in d.updates:
        assert rules.key(u.want) in want and u.have is have[rules.key(u.want)]
        assert plain(apply_update(u.want, u.have)) != plain(u.have)
    # Elements equal in their managed fields are left alone.
    touched = {rules.key(u.want) for u in d.updates}
    for k in set(want) & set(have):
        if plain(apply_update(want[k], have[k])) == plain(have[k]):
            assert k not in touched
    # Pushing the ops makes AWS hold the merged list: nothing is left to push, under any policy.
    healed = {k: e for k, e in have.items() if k in want}
    for u in d.updates:
        healed[rules.key(u.want)] = apply_update(u.want, u.have)
    for e in d.creates:
        healed[rules.key(e)] = e
    for again in (SyncPolicy.DESIRED_WINS, SyncPolicy.THREE_WAY, SyncPolicy.RANCHER):
        second = keyed_diff(rules, policy=again, desired=merged, upstream=list(healed.values()), base=merged)
        assert second.push == [], (again, second.push)


@pytest.mark.parametrize("version", ["latest", "default"])
def test_a_symbolic_addon_version_is_neither_pushed_nor_adopted(version: str) -> None:
    mine = [Addon(name="vpc-cni", version=version, resolve_conflicts="OVERWRITE")]
    theirs = [Addon(name="vpc-cni", version="v1.19.2-eksbuild.1")]
    for policy in (SyncPolicy.THREE_WAY, SyncPolicy.DESIRED_WINS):
        d = keyed_diff(ADDONS, policy=policy, desired=mine, upstream=theirs, base=mine)
        assert d.merged == mine and d.push == [] and d.adopted == []


def test_access_policies_are_per_policy_inside_an_entry() -> None:
    view, ns_view, admin = POLICIES
    base = [AccessEntry(principal_arn=ROLE + "a", access_policies=[view])]
    mine = [AccessEntry(principal_arn=ROLE + "a", access_policies=[view, admin])]
    theirs = [AccessEntry(principal_arn=ROLE + "a", kubernetes_groups=["g"], access_policies=[ns_view])]
    d = keyed_diff(ACCESS_ENTRIES, policy=SyncPolicy.THREE_WAY, desired=mine, upstream=theirs, base=base)
    # The console narrowed view to a namespace: adopted; the local admin is pushed; groups unmanaged.
    assert d.merged == [AccessEntry(principal_arn=ROLE + "a", access_policies=[ns_view, admin])]
    assert [c.path for c in d.adopted] == [f"accessEntries[{ROLE}a].accessPolicies[view]"]
    assert d.push == [f"accessEntries[{ROLE}a].accessPolicies[admin]"]
