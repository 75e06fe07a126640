"""keyed_diff serves more than node groups: examples for taints (keyed by (key, effect)) and for a keyed
list nested in another (access policies inside access entries), plus a list that repeats a key.

These shapes live only in the tests: the model gains those fields elsewhere.
"""

from __future__ import annotations

import msgspec

from controlplane.api import SyncPolicy
from controlplane.sync import ABSENT, Conflict, FieldChange, KeyedList, MergeLog, Update, keyed_diff

THREE_WAY, DESIRED_WINS = SyncPolicy.THREE_WAY, SyncPolicy.DESIRED_WINS


class Taint(msgspec.Struct, frozen=True):
    key: str
    effect: str
    value: str | None = None


TAINTS: KeyedList[tuple[str, str], Taint] = KeyedList(
    path="taints", key=lambda t: (t.key, t.effect), label=lambda k: f"{k[0]}:{k[1]}"
)


def test_taints_are_one_element_per_key_and_effect() -> None:
    base = [Taint("gpu", "NoSchedule", "true"), Taint("gpu", "NoExecute", "true")]
    desired = [Taint("gpu", "NoSchedule", "false"), Taint("gpu", "NoExecute", "true")]  # local edit
    upstream = [Taint("gpu", "NoExecute", "true"), Taint("spot", "NoSchedule")]  # console add and delete
    d = keyed_diff(TAINTS, policy=THREE_WAY, desired=desired, upstream=upstream, base=base)
    # The local edit is kept although upstream deleted the element: a conflict that local wins.
    assert d.merged == [*desired, Taint("spot", "NoSchedule")]
    assert d.conflicts == [
        Conflict(
            "taints[gpu:NoSchedule]",
            {"key": "gpu", "effect": "NoSchedule", "value": "false"},
            None,
            {"key": "gpu", "effect": "NoSchedule", "value": "true"},
        )
    ]
    assert d.adopted == [
        FieldChange("taints[spot:NoSchedule]", None, {"key": "spot", "effect": "NoSchedule", "value": None})
    ]
    assert d.creates == [Taint("gpu", "NoSchedule", "false")] and d.updates == [] and d.deletes == []
    assert d.push == ["taints[gpu:NoSchedule]"]


def test_desired_wins_pushes_taints_back_and_empty_deletes_all() -> None:
    upstream = [Taint("a", "NoSchedule", "1"), Taint("b", "NoExecute")]
    d = keyed_diff(TAINTS, policy=DESIRED_WINS, desired=[Taint("a", "NoSchedule", "2")], upstream=upstream)
    assert d.updates == [Update(Taint("a", "NoSchedule", "2"), upstream[0], ["taints[a:NoSchedule]"])]
    assert d.deletes == [upstream[1]] and d.creates == []
    assert d.push == ["taints[a:NoSchedule]", "taints[b:NoExecute]"]
    emptied = keyed_diff(TAINTS, policy=DESIRED_WINS, desired=[], upstream=upstream)
    assert emptied.deletes == upstream and emptied.push == ["taints[a:NoSchedule]", "taints[b:NoExecute]"]
    unmanaged = keyed_diff(TAINTS, policy=DESIRED_WINS, desired=None, upstream=upstream)
    assert unmanaged.merged is None and not unmanaged.mutates


def test_a_repeated_key_makes_the_list_one_value() -> None:
    twice = [Taint("a", "NoSchedule", "1"), Taint("a", "NoSchedule", "2")]
    d = keyed_diff(TAINTS, policy=DESIRED_WINS, desired=twice, upstream=[Taint("a", "NoSchedule", "1")])
    assert d.push == ["taints"] and not (d.creates or d.updates or d.deletes)
    merged = keyed_diff(TAINTS, policy=THREE_WAY, desired=twice, upstream=[], base=twice)
    assert merged.merged == [] and [c.path for c in merged.adopted] == ["taints"]


# --- a keyed list nested in a keyed list ---------------------------------------------------------------


class AccessPolicy(msgspec.Struct, frozen=True):
    policy_arn: str
    scope: str = "cluster"


class AccessEntry(msgspec.Struct, frozen=True):
    principal_arn: str
    groups: list[str] | None = None
    policies: list[AccessPolicy] | None = None


POLICIES: KeyedList[str, AccessPolicy] = KeyedList(path="accessPolicies", key=lambda p: p.policy_arn)


def entry_changes(path: str, want: AccessEntry, have: AccessEntry) -> list[str]:
    paths = [f"{path}.groups"] if want.groups is not None and want.groups != have.groups else []
    nested = keyed_diff(
        POLICIES,
        policy=DESIRED_WINS,
        desired=want.policies,
        upstream=have.policies,
        path=f"{path}.accessPolicies",
    )
    return paths + nested.push


def merge_entry(
    log: MergeLog, path: str, mine: AccessEntry, base: AccessEntry | None, theirs: AccessEntry
) -> AccessEntry:
    groups = mine.groups
    if groups is not None:
        groups = log.value(f"{path}.groups", groups, ABSENT if base is None else base.groups, theirs.groups)
    nested = keyed_diff(
        POLICIES,
        policy=THREE_WAY,
        desired=mine.policies,
        upstream=theirs.policies,
        base=[] if base is None else base.policies,  # a new entry had no policies
        path=f"{path}.accessPolicies",
    )
    log.adopted += nested.adopted
    log.conflicts += nested.conflicts
    if groups is mine.groups and nested.merged is mine.policies:
        return mine
    return AccessEntry(mine.principal_arn, groups, nested.merged)


ENTRIES: KeyedList[str, AccessEntry] = KeyedList(
    path="accessEntries", key=lambda e: e.principal_arn, changes=entry_changes, merge=merge_entry
)
ADMIN, VIEW, EDIT = AccessPolicy("admin"), AccessPolicy("view"), AccessPolicy("edit")


def test_nested_policies_merge_per_policy_inside_each_entry() -> None:
    base = [AccessEntry("role/ops", ["g1"], [VIEW]), AccessEntry("role/dev", None, [VIEW])]
    desired = [
        AccessEntry("role/ops", ["g1"], [VIEW, AccessPolicy("admin", "ns")]),  # local: add admin@ns
        AccessEntry("role/dev", None, None),  # policies unmanaged here
    ]
    upstream = [
        AccessEntry("role/ops", ["g2"], [VIEW, ADMIN]),  # console: groups g2, admin@cluster
        AccessEntry("role/dev", None, [VIEW, EDIT]),
    ]
    d = keyed_diff(ENTRIES, policy=THREE_WAY, desired=desired, upstream=upstream, base=base)
    assert d.merged == [
        AccessEntry("role/ops", ["g2"], [VIEW, AccessPolicy("admin", "ns")]),
        desired[1],  # an unmanaged nested list is never touched: edit stays upstream, unadopted
    ]
    assert d.adopted == [FieldChange("accessEntries[role/ops].groups", ["g1"], ["g2"])]
    assert d.conflicts == [
        Conflict(
            "accessEntries[role/ops].accessPolicies[admin]",
            {"policy_arn": "admin", "scope": "ns"},
            {"policy_arn": "admin", "scope": "cluster"},
            None,  # added on both sides
        )
    ]
    assert d.push == ["accessEntries[role/ops].accessPolicies[admin]"]
    assert [u.have.principal_arn for u in d.updates] == ["role/ops"]


def test_nested_policies_desired_wins_and_new_entries() -> None:
    upstream = [AccessEntry("role/ops", None, [VIEW, EDIT])]
    desired = [AccessEntry("role/ops", None, [ADMIN]), AccessEntry("role/new", ["g"], [VIEW])]
    d = keyed_diff(ENTRIES, policy=DESIRED_WINS, desired=desired, upstream=upstream)
    assert d.push == [
        "accessEntries[role/ops].accessPolicies[admin]",
        "accessEntries[role/ops].accessPolicies[view]",
        "accessEntries[role/ops].accessPolicies[edit]",
        "accessEntries[role/new]",
    ]
    assert d.creates == [desired[1]] and d.deletes == []
    # An entry added upstream and deleted nowhere else is adopted whole, with its nested list.
    adopted = keyed_diff(ENTRIES, policy=THREE_WAY, desired=[], upstream=upstream, base=[])
    assert adopted.merged == upstream and adopted.merged[0] is not upstream[0]
    # Deleted locally while a nested policy was added upstream: a conflict on the entry, local wins.
    base = [AccessEntry("role/ops", None, [VIEW])]
    gone = keyed_diff(ENTRIES, policy=THREE_WAY, desired=[], upstream=upstream, base=base)
    assert gone.merged == [] and [c.path for c in gone.conflicts] == ["accessEntries[role/ops]"]
    assert gone.deletes == upstream
