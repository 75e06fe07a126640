"""What the admin API needs from the rest of the service: a small protocol, implemented by service.py.

Nothing else: every write goes to the store, whose change feed carries it to the replica that owns the
cluster (``controlplane.replicas``), so one replica or ten behave the same.
"""

from __future__ import annotations

from typing import Protocol

from ..store import Lease, ReplicaRecord


class ReplicaView(Protocol):
    """This replica, as the API shows it."""

    def ready(self) -> bool:
        """True once the replica has joined and every shard it owns has its actors running."""
        ...

    @property
    def replica_id(self) -> str: ...

    @property
    def lease_duration(self) -> float:
        """A replica whose heartbeat is older than this is shown as not alive."""
        ...


__all__ = ["Lease", "ReplicaRecord", "ReplicaView"]
