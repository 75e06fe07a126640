"""What a cluster list asks the store for, and the fleet totals it answers: pure records and predicates.

A ``ClusterQuery`` is the conjunction of its filters. Backends push what they can into their query (a
name range, the phase column, label tests with JSON functions) and must then keep exactly the clusters
``matches`` accepts: the predicate here is the definition, pushdown only an optimisation.
"""

from __future__ import annotations

import enum

import msgspec

from controlplane.api import Cluster, ClusterDigest, Phase

CONFLICT_CONDITION = "Conflict"
"""The condition a three-way sync sets (status ``True``) while a field changed both here and in AWS."""


class LabelOp(enum.StrEnum):
    """The operators of a Kubernetes label selector requirement."""

    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    NOT_EXISTS = "!"


class LabelRequirement(msgspec.Struct, frozen=True, gc=False):
    """One requirement of a label selector: ``key op values``. ``values`` is empty for the existence
    operators, one value for ``=``/``!=``, one or more for ``in``/``notin``."""

    key: str
    op: LabelOp
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """Kubernetes semantics: ``!=`` and ``notin`` also match objects without the key."""
        value = labels.get(self.key)
        op = self.op
        if op is LabelOp.EXISTS:
            return value is not None
        if op is LabelOp.NOT_EXISTS:
            return value is None
        if op is LabelOp.EQUALS or op is LabelOp.IN:
            return value is not None and value in self.values
        return value is None or value not in self.values


class ClusterQuery(msgspec.Struct, frozen=True, gc=False):
    """Filters of a cluster list, all of which must hold. The default selects every cluster."""

    labels: tuple[LabelRequirement, ...] = ()
    """A label selector: every requirement holds."""
    phase: Phase | None = None
    """Only clusters whose status is in this phase."""
    name_prefix: str = ""
    """Only clusters whose name starts with this."""
    conflict: bool = False
    """Only clusters with a ``Conflict`` condition whose status is ``True``."""
    failing: bool = False
    """Only clusters with a non-empty ``failureMessage``."""

    @property
    def filters_status(self) -> bool:
        """Whether a status write can change the verdict (label and name filters look at no status)."""
        return self.phase is not None or self.conflict or self.failing

    @property
    def is_everything(self) -> bool:
        return self == ClusterQuery()


def in_conflict(cluster: Cluster | ClusterDigest) -> bool:
    return any(c.type == CONFLICT_CONDITION and c.status == "True" for c in cluster.status.conditions)


def matches(query: ClusterQuery, cluster: Cluster | ClusterDigest) -> bool:
    """Whether ``cluster`` is selected by ``query`` (the definition every backend keeps)."""
    if query.name_prefix and not cluster.metadata.name.startswith(query.name_prefix):
        return False
    if query.phase is not None and cluster.status.phase != query.phase:
        return False
    if query.failing and not cluster.status.failure_message:
        return False
    if query.conflict and not in_conflict(cluster):
        return False
    labels = cluster.metadata.labels
    return all(r.matches(labels) for r in query.labels)


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every string starting with ``prefix`` in code-point (and so UTF-8 byte)
    order, for a ``name >= prefix AND name < bound`` range scan; ``None`` when there is none."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < 0x10FFFF:
            following = last + 1
            if 0xD800 <= following <= 0xDFFF:  # surrogates are not characters
                following = 0xE000
            return "".join(chars) + chr(following)
    return None


class ClusterPage(msgspec.Struct, gc=False):
    """One page of a cluster list, ordered by name."""

    items: list[Cluster]
    more: bool
    """Whether clusters after the last item match too (the next page starts after it)."""


class DigestPage(msgspec.Struct, gc=False):
    """One page of a cluster list as digests (``Store.list_digests``), ordered by name."""

    items: list[ClusterDigest]
    more: bool
    """Whether clusters after the last item match too (the next page starts after it)."""


class FleetTotals(msgspec.Struct, gc=False):
    """Fleet-wide counts computed by the store's aggregate queries (nothing is loaded per cluster)."""

    total: int = 0
    by_phase: dict[str, int] = msgspec.field(default_factory=dict)
    """Clusters per ``status.phase`` (``""`` is new)."""
    by_version: dict[str, int] = msgspec.field(default_factory=dict)
    """Clusters per Kubernetes version: the spec's, or the upstream one when the spec leaves it
    unmanaged (``""`` when neither is known yet)."""
    conflict: int = 0
    failing: int = 0
    never_synced: int = 0
    """Clusters without a ``lastSyncTime`` yet."""
    oldest_sync: str = ""
    """The oldest ``lastSyncTime`` (RFC 3339) among the clusters synced at least once."""
    sync_older_than: dict[int, int] = msgspec.field(default_factory=dict)
    """``{seconds: clusters whose last sync is older than that}`` for the thresholds asked for."""
