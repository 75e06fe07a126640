"""Property tests for keyed_diff over generic keyed elements, under all four sync policies (hypothesis).

The elements are taints (keyed by the pair (key, effect), compared whole), the simplest list that is not a
list of node groups. Desired and upstream lists are derived from the applied (base) list element by element,
so "unchanged", "changed", "deleted", "added" and "changed the same way on both sides" all occur often.
The expectations are written per key, independently of the implementation.
"""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlplane.api import SyncPolicy
from controlplane.sync import KeyedDiff, KeyedList, keyed_diff


class Taint(msgspec.Struct, frozen=True):
    key: str
    effect: str
    value: str | None = None


Key = tuple[str, str]


def taint_key(t: Taint) -> Key:
    return (t.key, t.effect)


TAINTS: KeyedList[Key, Taint] = KeyedList(path="taints", key=taint_key, label=lambda k: f"{k[0]}:{k[1]}")
IDS: list[Key] = [(k, e) for k in ("a", "b", "c") for e in ("NoSchedule", "NoExecute")]
VALUES = [None, "1", "2"]
Lists = tuple[list[Taint] | None, list[Taint] | None, list[Taint] | None]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def taint_lists(draw: st.DrawFn) -> list[Taint]:
    ids = draw(st.lists(st.sampled_from(IDS), unique=True, max_size=5))
    return [Taint(k, e, draw(st.sampled_from(VALUES))) for k, e in ids]


@st.composite
def derived(draw: st.DrawFn, base: list[Taint]) -> list[Taint]:
    """A list that keeps, edits or deletes each element of ``base`` and may add new ones, in any order."""
    out: list[Taint] = []
    for t in base:
        choice = draw(st.integers(0, 5))
        if choice == 0:
            continue  # deleted
        out.append(Taint(t.key, t.effect, draw(st.sampled_from(VALUES))) if choice == 1 else t)
    present = {taint_key(t) for t in base}
    for k, e in IDS:
        if (k, e) not in present and draw(st.integers(0, 3)) == 0:
            out.append(Taint(k, e, draw(st.sampled_from(VALUES))))
    return list(draw(st.permutations(out)))


@st.composite
def triples(draw: st.DrawFn) -> Lists:
    """(desired, upstream, base); each may be null: unmanaged, not reported, no base known."""
    base = draw(taint_lists())
    desired, upstream = draw(derived(base)), draw(derived(base))
    null = st.integers(0, 7).map(lambda n: n == 0)
    return (
        None if draw(null) else desired,
        None if draw(null) else upstream,
        None if draw(null) else base,
    )


def by_key(items: list[Taint] | None) -> dict[Key, Taint]:
    return {taint_key(t): t for t in items or []}


def path(k: Key) -> str:
    return f"taints[{k[0]}:{k[1]}]"


def diff(policy: SyncPolicy, t: Lists) -> KeyedDiff[Taint]:
    desired, upstream, base = t
    return keyed_diff(TAINTS, policy=policy, desired=desired, upstream=upstream, base=base)


def apply(upstream: list[Taint] | None, d: KeyedDiff[Taint]) -> dict[Key, Taint]:
    """What upstream holds after the creates, updates and deletes were carried out."""
    out = by_key(upstream)
    for t in d.deletes:
        assert out.pop(taint_key(t)) == t
    for u in d.updates:
        assert out[taint_key(u.have)] == u.have and taint_key(u.want) == taint_key(u.have)
        out[taint_key(u.want)] = u.want
    for t in d.creates:
        assert taint_key(t) not in out
        out[taint_key(t)] = t
    return out


def mutated(d: KeyedDiff[Taint]) -> set[Key]:
    return {taint_key(t) for t in [*d.creates, *d.deletes]} | {taint_key(u.have) for u in d.updates}


@SETTINGS
@given(triples(), st.sampled_from(list(SyncPolicy)))
def test_every_policy_converges_and_touches_only_what_differs(t: Lists, policy: SyncPolicy) -> None:
    """Applying the result to upstream gives the merged list; only elements where the merged list and
    upstream differ are touched; nothing is left to push afterwards; the inputs are never mutated."""
    before = msgspec.json.encode(t)
    desired, upstream, _ = t
    d = diff(policy, t)
    assert msgspec.json.encode(t) == before
    if policy is SyncPolicy.OBSERVE or d.merged is None:
        assert not d.mutates and mutated(d) == set()
        return
    assert apply(upstream, d) == by_key(d.merged)
    merged, have = by_key(d.merged), by_key(upstream)
    differing = {k for k in merged.keys() | have.keys() if merged.get(k) != have.get(k)}
    assert mutated(d) == differing
    assert sorted(d.push) == sorted(path(k) for k in differing)
    assert set(merged) <= set(by_key(desired)) | set(have)
    healed = list(apply(upstream, d).values())
    assert keyed_diff(TAINTS, policy=policy, desired=d.merged, upstream=healed, base=t[2]).push == []


@SETTINGS
@given(triples(), st.sampled_from(list(SyncPolicy)))
def test_an_unmanaged_list_is_never_touched(t: Lists, policy: SyncPolicy) -> None:
    """A null desired list: no element is adopted, created, updated or deleted, whatever upstream holds."""
    _, upstream, base = t
    d = keyed_diff(TAINTS, policy=policy, desired=None, upstream=upstream, base=base)
    assert d == KeyedDiff(None, [], [], [], [], [], [])


@SETTINGS
@given(triples())
def test_observe_never_produces_a_mutation(t: Lists) -> None:
    d = diff(SyncPolicy.OBSERVE, t)
    assert d.merged is t[0] and not d.mutates
    assert not (d.creates or d.deletes or d.updates or d.adopted or d.conflicts)


@SETTINGS
@given(triples())
def test_desired_wins_converges_to_desired(t: Lists) -> None:
    desired, upstream, _ = t
    d = diff(SyncPolicy.DESIRED_WINS, t)
    assert d.merged is desired and d.adopted == [] and d.conflicts == []
    if desired is not None:
        assert apply(upstream, d) == by_key(desired)


@SETTINGS
@given(triples())
def test_rancher_matches_ranchers_rule(t: Lists) -> None:
    """Rancher's map merge: a managed (non-null) field takes a non-null upstream value whole."""
    desired, upstream, _ = t
    d = diff(SyncPolicy.RANCHER, t)
    expected = upstream if desired is not None and upstream is not None else desired
    assert d.merged == expected and d.conflicts == []
    assert (d.merged is desired) == (desired is None or upstream is None or desired == upstream)
    if d.merged is desired:
        assert d.adopted == []
    else:
        assert d.merged is not upstream  # a copy: never aliases the upstream spec
        assert [(c.path, c.old, c.new) for c in d.adopted] == [
            ("taints", msgspec.to_builtins(desired), msgspec.to_builtins(upstream))
        ]
    if upstream is not None:
        assert d.push == []


@SETTINGS
@given(triples())
def test_three_way_per_key(t: Lists) -> None:
    """Per key: an upstream-only change (edit, addition, deletion) is adopted and never reverted; a
    local-only change is kept; a change on both sides to different values is a conflict that local wins;
    with no base known, upstream is the base."""
    desired, upstream, base = t
    d = diff(SyncPolicy.THREE_WAY, t)
    if desired is None or upstream is None:
        assert d.merged is desired and d.adopted == [] and d.conflicts == []
        return
    S, U, R = by_key(desired), by_key(upstream), by_key(d.merged)
    B = by_key(base) if base is not None else U
    conflicts = [c.path for c in d.conflicts]
    adopted = [c.path for c in d.adopted]
    assert len(set(conflicts)) == len(conflicts) and len(set(adopted)) == len(adopted)
    for k in S.keys() | U.keys() | B.keys():
        s, u, b, r = S.get(k), U.get(k), B.get(k), R.get(k)
        local, remote = s != b, u != b
        assert r == (u if remote and not local else s)
        assert (path(k) in conflicts) == (local and remote and s != u)
        assert (path(k) in adopted) == (remote and not local)
    kept = [taint_key(x) for x in desired if taint_key(x) in R]
    added = [taint_key(x) for x in upstream if taint_key(x) not in S and taint_key(x) in R]
    assert [taint_key(x) for x in d.merged or []] == kept + added  # local order, then upstream additions
    assert (d.merged is desired) == (d.adopted == [])


@SETTINGS
@given(triples())
def test_three_way_is_idempotent(t: Lists) -> None:
    _, upstream, base = t
    first = diff(SyncPolicy.THREE_WAY, t)
    second = keyed_diff(
        TAINTS, policy=SyncPolicy.THREE_WAY, desired=first.merged, upstream=upstream, base=base
    )
    assert second.merged is first.merged and second.adopted == []
    assert second.conflicts == first.conflicts and second.push == first.push
