"""What the admin API needs from the rest of the service: a small protocol, implemented by service.py."""

from __future__ import annotations

from typing import Protocol


class ClusterController(Protocol):
    """Told about every persisted change, after it is persisted; never asked to persist anything."""

    def ready(self) -> bool:
        """True once the store is open and every persisted cluster is running in its actor."""
        ...

    async def cluster_created(self, name: str) -> None: ...

    async def cluster_spec_changed(self, name: str) -> None: ...

    async def cluster_delete_requested(self, name: str) -> None: ...

    async def sync_now(self, name: str) -> None:
        """Queue an immediate refresh; raises ``KeyError`` when no actor runs for ``name``."""
        ...

    async def setting_changed(self, name: str, value: str) -> None: ...
