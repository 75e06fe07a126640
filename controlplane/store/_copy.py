"""``store copy``: move a whole fleet from one store to another (SQLite to PostgreSQL or back).

What moves: every cluster with its metadata as it is (resourceVersion, generation, timestamps, labels),
its spec and latest status, its events; every credential (with its created/updated times), setting and
secret. What does not: the change feed, replica heartbeats and shard leases (they describe running
processes; followers of the target start from its head), and each store's own bookkeeping.

Secrets are decrypted with the source's key and sealed with the target's, so the two may differ. The copy
refuses a target that holds anything, and verifies the counts of both stores afterwards. Run it with the
service stopped: a fleet that changes while it is copied fails the verification.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec

from controlplane.api import Cluster, Credential, Event

from ._errors import StoreError
from ._protocol import Store

COUNTED = {
    "clusters": "clusters",
    "events": "events",
    "credentials": "credentials",
    "settings": "settings",
    "secrets": "secrets",
}
"""What ``counts`` reports: kind of object -> its table (the same in every backend)."""
BATCH = 500
"""Clusters imported per transaction."""


class ClusterImport(msgspec.Struct, frozen=True):
    """One cluster as the target stores it: as it is in the source, with its events (oldest first)."""

    cluster: Cluster
    events: list[Event]


class Portable(Store, Protocol):
    """A store a fleet can be copied from and to (every backend is one)."""

    @property
    def url(self) -> str:
        """Where it is, password redacted."""
        ...

    async def counts(self) -> dict[str, int]:
        """Objects stored, per kind (the keys of ``COUNTED``)."""
        ...

    async def list_secrets(self) -> dict[str, dict[str, str]]:
        """Every secret, by name."""
        ...

    async def export_events(self, name: str) -> list[Event]:
        """Every event kept for the cluster, oldest first (whatever ``events_per_cluster`` is now)."""
        ...

    async def import_clusters(self, items: Sequence[ClusterImport]) -> None:
        """Insert clusters exactly as given (no new resourceVersion or timestamps), in one transaction.
        ``AlreadyExists`` if one is there."""
        ...

    async def import_credentials(self, creds: Sequence[Credential]) -> None:
        """Insert credentials with their times as given, in one transaction."""
        ...


class CopySummary(msgspec.Struct, frozen=True):
    source: str
    """The source's URL, password redacted."""
    target: str
    """The target's URL, password redacted."""
    counts: dict[str, int]
    """Objects copied, per kind."""

    def __str__(self) -> str:
        moved = ", ".join(f"{n} {kind}" for kind, n in self.counts.items())
        return f"copied {moved}\n  from {self.source}\n  to   {self.target}"


async def copy_store(
    source: Portable, target: Portable, *, progress: Callable[[int, int], None] | None = None
) -> CopySummary:
    """Copy everything in ``source`` (open) into ``target`` (open, empty); ``StoreError`` if the target
    is not empty or the counts differ afterwards. ``progress(done, total)`` follows the clusters."""
    held = {kind: n for kind, n in (await target.counts()).items() if n}
    if held:
        what = ", ".join(f"{n} {kind}" for kind, n in held.items())
        raise StoreError(f"refusing to copy into {target.url}: it is not empty ({what})")
    before = await source.counts()
    clusters = await source.list_clusters()
    events = 0
    for start in range(0, len(clusters), BATCH):
        batch = []
        for cluster in clusters[start : start + BATCH]:
            history = await source.export_events(cluster.metadata.name)
            events += len(history)
            batch.append(ClusterImport(cluster, history))
        await target.import_clusters(batch)
        if progress is not None:
            progress(start + len(batch), len(clusters))
    credentials = await source.list_credentials()
    await target.import_credentials(credentials)
    settings = await source.list_settings()
    for name, value in settings.items():
        await target.put_setting(name, value)
    secrets = await source.list_secrets()
    for name, data in secrets.items():
        await target.put_secret(name, data)
    copied = {
        "clusters": len(clusters),
        "events": events,
        "credentials": len(credentials),
        "settings": len(settings),
        "secrets": len(secrets),
    }
    after, landed = await source.counts(), await target.counts()
    if not before == after == landed == copied:
        raise StoreError(
            f"copy verification failed: the source held {before} before and {after} after, "
            f"{copied} were read and the target holds {landed} (was the service running?)"
        )
    return CopySummary(source.url, target.url, copied)
