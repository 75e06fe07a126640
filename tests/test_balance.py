"""The shard balancing rule, property-tested: after any sequence of joins, leaves and crashes every
shard has exactly one live owner, the split differs by at most one, and moves are minimal."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from controlplane.replicas import balance, targets

REPLICAS = [f"r{i}" for i in range(7)]


def _check(shards: int, live: set[str], owners: dict[int, str], result: dict[int, str]) -> None:
    if not live:
        assert result == {}
        return
    assert sorted(result) == list(range(shards))  # every shard, exactly one owner
    assert set(result.values()) <= live
    counts = Counter(result.values())
    per_replica = [counts.get(r, 0) for r in live]
    assert max(per_replica) - min(per_replica) <= 1
    # Minimal movement: a live owner never loses a shard while it is at or below its target.
    want = targets(shards, live, owners)
    held = Counter(o for o in owners.values() if o in live)
    for shard, owner in owners.items():
        if owner in live and held[owner] <= want[owner]:
            assert result[shard] == owner


events = st.lists(
    st.tuples(st.sampled_from(["join", "leave", "crash"]), st.sampled_from(REPLICAS)), max_size=25
)


@settings(max_examples=300)
@given(st.integers(min_value=1, max_value=64), events)
def test_any_sequence_of_joins_leaves_and_crashes_converges(
    shards: int, history: list[tuple[str, str]]
) -> None:
    live: set[str] = set()
    owners: dict[int, str] = {}
    for what, replica in history:
        if what == "join":
            live.add(replica)
        else:
            live.discard(replica)
            if what == "leave":  # a graceful leave hands its shards back; a crash leaves them owned
                owners = {s: o for s, o in owners.items() if o != replica}
        result = balance(shards, live, owners)
        _check(shards, live, owners, result)
        owners = result
        assert balance(shards, live, owners) == owners  # a balanced state is a fixed point


@given(st.integers(min_value=1, max_value=300), st.sets(st.sampled_from(REPLICAS), min_size=1))
def test_from_scratch_and_deterministic(shards: int, live: set[str]) -> None:
    first = balance(shards, live, {})
    _check(shards, live, {}, first)
    assert balance(shards, set(sorted(live, reverse=True)), {}) == first


def test_a_join_moves_only_what_the_newcomer_needs() -> None:
    owners = balance(256, {"a", "b"}, {})
    after = balance(256, {"a", "b", "c"}, owners)
    moved = [s for s in range(256) if after[s] != owners[s]]
    assert len(moved) == 85 and all(after[s] == "c" for s in moved)


def test_a_crash_moves_only_the_dead_replicas_shards() -> None:
    owners = balance(256, {"a", "b", "c"}, {})
    after = balance(256, {"a", "c"}, owners)
    assert [s for s in range(256) if after[s] != owners[s]] == [s for s in range(256) if owners[s] == "b"]
    assert Counter(after.values()) == {"a": 128, "c": 128}
