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
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from controlplane.api import Cluster, ClusterSpec, ClusterStatus, Credential, Event, Phase


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

    async def update_spec(
        self,
        name: str,
        spec: ClusterSpec,
        *,
        expected_resource_version: str | None,
        labels: dict[str, str] | None = None,
    ) -> Cluster:
        """Replace the spec (and the labels unless ``None``) if the resourceVersion is still
        ``expected_resource_version`` (``None``: unconditionally). Bumps resourceVersion, and generation
        when the spec changed; a write that changes nothing is a no-op returning the current object.
        ``NotFound``, ``Conflict``."""
        ...

    async def mark_deleting(self, name: str) -> Cluster:
        """Set ``metadata.deletionTimestamp`` (once; later calls return the object unchanged) and bump
        resourceVersion. ``NotFound``."""
        ...

    async def write_status(self, name: str, status: ClusterStatus, *, durable: bool = False) -> None:
        """Record the cluster's status. Coalesced and batched; ``durable=True`` waits for the commit
        (raising ``StoreError`` if that batch failed). May wait when too many writes are pending."""
        ...

    async def flush(self) -> None:
        """Commit every status written before this call."""
        ...

    async def delete_cluster(self, name: str) -> bool:
        """Remove the cluster, its events and its pending status; ``False`` if it did not exist."""
        ...

    # --- events -------------------------------------------------------------------------------------
    async def append_event(self, name: str, event: Event) -> None:
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
    async def put_secret(self, name: str, data: dict[str, str]) -> None: ...

    async def get_secret(self, name: str) -> dict[str, str] | None: ...

    async def delete_secret(self, name: str) -> bool:
        """``False`` if it did not exist."""
        ...
