"""Who should own which shard: a pure function of the live replicas and the current owners.

Every replica computes it from the same view of the store and acts only on its own part (take what is
wanted and free, hand over what is wanted elsewhere), so the fleet converges without a leader.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping


def targets(shards: int, live: Collection[str], owners: Mapping[int, str]) -> dict[str, int]:
    """How many shards each live replica should own: an even split (counts differ by at most one).
    The replicas that get one more are those that already own the most (fewest moves), then by id."""
    replicas = sorted(set(live))
    if not replicas:
        return {}
    base, extra = divmod(shards, len(replicas))
    held = {r: 0 for r in replicas}
    for owner in owners.values():
        if owner in held:
            held[owner] += 1
    ranked = sorted(replicas, key=lambda r: (-held[r], r))
    return {r: base + (1 if i < extra else 0) for i, r in enumerate(ranked)}


def balance(shards: int, live: Collection[str], owners: Mapping[int, str]) -> dict[int, str]:
    """The wanted owner of every shard in ``range(shards)``.

    - Every shard gets exactly one live owner (none if no replica is live: the result is empty).
    - Counts differ by at most one (``targets``).
    - A live owner keeps its shards up to its target (lowest shard numbers first); shards of dead or
      absent owners and the surplus of over-full replicas go, lowest first, to the replicas below target,
      in id order. So a join moves only what the newcomer needs, and a crash moves only the dead one's.
    """
    want = targets(shards, live, owners)
    if not want:
        return {}
    result: dict[int, str] = {}
    kept = dict.fromkeys(want, 0)
    loose: list[int] = []
    for shard in range(shards):
        owner = owners.get(shard, "")
        if owner in want and kept[owner] < want[owner]:
            result[shard] = owner
            kept[owner] += 1
        else:
            loose.append(shard)
    hungry = iter([r for r in sorted(want) for _ in range(want[r] - kept[r])])
    for shard in loose:
        result[shard] = next(hungry)
    return result
