"""The store contract every backend implements (SQLite now, PostgreSQL later).

Semantics that hold for every backend:

- Lifecycle: ``async with store:`` opens (creating or migrating the schema) and closes (flushing pending
  status writes). Any call before open, during close or after close raises ``StoreClosed``.
- ``metadata.resourceVersion`` changes on every write of spec or metadata (create, ``update_spec``,
  ``mark_deleting``), never on a status write: status is written by the cluster actor all the time, and a
  user's PUT/PATCH carrying the resourceVersion they read must not fail with a spurious conflict because
  of it. ``metadata.generation`` changes only when the spec really changes. ``status.observedGeneration``
  belongs to the cluster actor; the store never touches it.
- Status writes are coalesced per cluster (the latest wins) and committed in batches by the store.
  Every read returns the latest status written, flushed or not (read-your-writes). ``durable=True`` returns
  once the status is committed (and synced to stable storage): write durably before acting on it.
- A status written for a cluster that does not exist (or no longer exists) is dropped at flush time.
- Names of clusters, settings and secrets are opaque strings; lists are ordered by name.
- Paged lists (``list_page``) are keyset scans: a page holds the clusters named after ``after``, so
  following pages returns every cluster that existed throughout exactly once, never one twice, and one
  created or deleted meanwhile at most once. Status filters judge the latest status this process knows
  (flushed or not); ``fleet_totals`` counts committed rows only, by aggregate queries.
- Change feed: every write that matters to another process (create, spec/metadata, mark deleting, delete,
  a committed status, a sync request, a setting, a credential) appends a ``Change`` in the same
  transaction. Sequence numbers grow strictly; changes older than ``change_retention`` are trimmed, and
  asking for changes after a trimmed one raises ``ChangesExpired`` (re-list, like Kubernetes' 410).
- Fences: a write given a ``Fence`` lands only if, in the same transaction, the fence's lease is still
  held at its epoch and unexpired; otherwise ``Fenced`` (status writes refused by a fence are dropped,
  and a durable writer waiting for one gets ``Fenced``). API writes carry no fence.
- Leases: ``acquire_leases`` takes free, expired or own shards (a new owner bumps the epoch);
  ``renew_leases`` extends leases still held at the given epochs; ``release_leases`` frees them at once.
  Lease and heartbeat times are the store's clock, in seconds since the epoch.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import TracebackType
from typing import Protocol, Self

from controlplane.api import Cluster, ClusterSpec, ClusterStatus, Credential, Event, Phase

from ._query import ClusterPage, ClusterQuery, DigestPage, FleetTotals
from ._records import Change, Fence, Lease, RawCluster, ReplicaRecord


class Store(Protocol):
    """Persistence of clusters, their status and events, credentials, settings and opaque secrets."""

    async def __aenter__(self) -> Self:
        """Open the store: connect, create or migrate the schema, start background flushing."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store: flush every pending status write, then release connections."""
        ...

    # --- clusters -----------------------------------------------------------------------------------
    async def create_cluster(self, cluster: Cluster) -> Cluster:
        """Store a new cluster with resourceVersion "1", generation 1 and a creationTimestamp (RFC 3339,
        UTC); return the stored object. ``AlreadyExists`` if the name is taken."""
        ...

    async def get_cluster(self, name: str) -> Cluster | None:
        """The cluster, with its latest status (flushed or not), or ``None``."""
        ...

    async def list_clusters(self, *, phase: Phase | None = None) -> list[Cluster]:
        """Every cluster (or those whose latest status is in ``phase``), ordered by name."""
        ...

    async def list_cluster_names(self) -> list[str]:
        """The names of every cluster, ordered."""
        ...

    async def list_page(self, query: ClusterQuery, *, after: str = "", limit: int) -> ClusterPage:
        """Up to ``limit`` clusters named after ``after`` that ``query`` selects (``_query.matches``),
        ordered by name, and whether more follow. Memory is bounded by the page, not the fleet."""
        ...

    async def list_digests(self, query: ClusterQuery, *, after: str = "", limit: int) -> DigestPage:
        """``list_page`` as digests: the same clusters, decoding only what filters and summary rows
        read (``api.ClusterDigest``), for lists that do not serve whole clusters."""
        ...

    async def get_clusters(self, names: Collection[str]) -> dict[str, Cluster]:
        """The named clusters that exist, by name (one read for a batch, e.g. a change-feed page)."""
        ...

    async def fleet_totals(self, *, sync_older_than: Collection[int] = ()) -> FleetTotals:
        """Fleet-wide counts (by phase, by version, conflicts, failures, sync ages for the given
        thresholds in seconds), computed by aggregate queries without loading clusters."""
        ...

    async def list_clusters_in_shards(self, shards: Collection[int]) -> list[Cluster]:
        """Every cluster whose shard is in ``shards``, ordered by name (a replica's own clusters)."""
        ...

    async def list_raw_clusters_in_shards(self, shards: Collection[int]) -> list[RawCluster]:
        """Like ``list_clusters_in_shards``, still encoded (a replica starts 50,000 actors without
        decoding 50,000 clusters; each decodes its own when its first message arrives)."""
        ...

    async def count_clusters_by_shard(self) -> dict[int, int]:
        """``{shard: number of clusters}`` for every shard that has any."""
        ...

    async def find_identity(self, display_name: str, region: str) -> dict[str, str]:
        """Clusters with this EKS name and region: ``{cluster name: amazonCredentialSecret}``."""
        ...

    async def update_spec(
        self,
        name: str,
        spec: ClusterSpec,
        *,
        expected_resource_version: str | None,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        fence: Fence | None = None,
    ) -> Cluster:
        """Replace the spec (and the labels and annotations unless ``None``) if the resourceVersion is
        still ``expected_resource_version`` (``None``: unconditionally). Bumps resourceVersion, and
        generation when the spec changed; a write that changes nothing is a no-op returning the current
        object. ``NotFound``, ``Conflict``, ``Fenced``."""
        ...

    async def mark_deleting(self, name: str) -> Cluster:
        """Set ``metadata.deletionTimestamp`` (once; later calls return the object unchanged) and bump
        resourceVersion. ``NotFound``."""
        ...

    async def write_status(
        self, name: str, status: ClusterStatus, *, durable: bool = False, fence: Fence | None = None
    ) -> None:
        """Record the cluster's status. Coalesced and batched; ``durable=True`` waits for the commit
        (raising ``StoreError`` if that batch failed, ``Fenced`` if its fence no longer held). May wait
        when too many writes are pending."""
        ...

    async def flush(self) -> None:
        """Commit every status written before this call."""
        ...

    async def delete_cluster(self, name: str, *, fence: Fence | None = None) -> bool:
        """Remove the cluster, its events and its pending status; ``False`` if it did not exist."""
        ...

    # --- events -------------------------------------------------------------------------------------
    async def append_event(self, name: str, event: Event, *, fence: Fence | None = None) -> None:
        """Append to the cluster's bounded event log (the oldest beyond the bound are dropped).
        ``NotFound`` if the cluster does not exist."""
        ...

    async def list_events(self, name: str, *, limit: int | None = None) -> list[Event]:
        """The cluster's newest ``limit`` events (all kept if ``None``), oldest first, newest last."""
        ...

    # --- credentials (stored with their secrets; the API layer never returns them) ---------------------
    async def put_credential(self, cred: Credential) -> Credential:
        """Create or replace; sets ``created`` (kept on replace) and ``updated``. Returns what is stored."""
        ...

    async def get_credential(self, namespace: str, name: str) -> Credential | None: ...

    async def list_credentials(self) -> list[Credential]:
        """Every credential, ordered by (namespace, name)."""
        ...

    async def delete_credential(self, namespace: str, name: str) -> bool:
        """``False`` if it did not exist."""
        ...

    # --- settings -----------------------------------------------------------------------------------
    async def get_setting(self, name: str) -> str | None: ...

    async def put_setting(self, name: str, value: str) -> None: ...

    async def list_settings(self) -> dict[str, str]: ...

    # --- opaque secrets (e.g. a cluster's service-account token), kept apart from cluster rows ----------
    async def put_secret(self, name: str, data: dict[str, str], *, fence: Fence | None = None) -> None: ...

    async def get_secret(self, name: str) -> dict[str, str] | None: ...

    async def delete_secret(self, name: str, *, fence: Fence | None = None) -> bool:
        """``False`` if it did not exist."""
        ...

    # --- the change feed ----------------------------------------------------------------------------
    async def request_sync(self, name: str) -> None:
        """Ask the cluster's owner for an immediate refresh (a ``sync`` change). ``NotFound``."""
        ...

    async def head(self) -> int:
        """The newest change's sequence number (0 for an empty feed)."""
        ...

    async def changes_since(self, after: int, *, limit: int = 1000) -> list[Change]:
        """Up to ``limit`` changes with ``seq > after``, oldest first. ``ChangesExpired`` if trimmed."""
        ...

    async def wait_for_change(self, after: int) -> int:
        """Return the head once it is past ``after`` (bound the wait with a cancel scope)."""
        ...

    # --- replicas and shard leases --------------------------------------------------------------------
    async def heartbeat(self, replica_id: str, address: str, *, started: float) -> float:
        """Record that the replica is alive; returns the store's clock."""
        ...

    async def list_replicas(self) -> list[ReplicaRecord]: ...

    async def remove_replica(self, replica_id: str) -> None: ...

    async def list_leases(self) -> list[Lease]: ...

    async def acquire_leases(self, owner: str, shards: Collection[int], duration: float) -> list[Lease]:
        """Take the free, expired or own shards among ``shards``; returns the leases now held."""
        ...

    async def renew_leases(self, owner: str, held: Mapping[int, int], duration: float) -> list[Lease]:
        """Extend the leases still held at the given epochs (shard -> epoch); returns the renewed ones."""
        ...

    async def release_leases(self, owner: str, shards: Collection[int]) -> None:
        """Free the shards at once (graceful hand-over); their epochs are kept."""
        ...
