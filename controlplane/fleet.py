"""The fleet registry: the cluster actors this process runs, by shard, and the routing of the store's
change feed (spec writes, deletes, sync requests, settings, credentials) to them.

Actor names are namespaced: a cluster's actor is ``cluster/<name>`` and a system actor (the scheduler)
``system/<name>``, so any valid cluster name works, ``scheduler`` included. Nothing outside this module
builds an actor name.

A cluster runs here only while this replica holds the lease of its shard (``start_shard`` /
``stop_shard``, driven by ``replicas.Membership``). Its actor's writes carry that lease's fence, and its
mutating AWS calls are guarded by the lease's validity.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any, Final

from actors import Actor, ActorError, ActorSystem
from controlplane.api import Cluster
from controlplane.aws import Guard
from controlplane.cluster import ClusterActor, ClusterDeps, SpecChanged, SyncTick
from controlplane.scheduler import REFRESH_CRON_SETTING, Adopted, SettingChanged
from controlplane.store import Change, ChangeKind, Fence, RawCluster, Store, StoreError, shard_of

log = logging.getLogger("controlplane.fleet")

CLUSTER_NAMESPACE: Final = "cluster/"
SYSTEM_NAMESPACE: Final = "system/"
SCHEDULER: Final = "scheduler"

ShardCheck = Callable[[int], None]
"""Raises ``Fenced`` unless this replica may still act for the shard (``Membership.check``)."""


def cluster_actor_name(cluster: str) -> str:
    return CLUSTER_NAMESPACE + cluster


def system_actor_name(name: str) -> str:
    return SYSTEM_NAMESPACE + name


class Fleet:
    """Spawns, finds, messages and stops the actors of one process; follows the change feed for them."""

    def __init__(
        self,
        system: ActorSystem,
        store: Store,
        deps: ClusterDeps,
        *,
        shards: int,
        check: ShardCheck | None = None,
        on_credential_changed: Callable[[str, str], None] | None = None,
    ) -> None:
        self._system = system
        self._store = store
        self._deps = deps
        self._shard_count = shards
        self._check = check
        self._on_credential_changed = on_credential_changed
        self._fences: dict[int, Fence] = {}
        self._members: dict[int, set[str]] = {}
        self._stopping: dict[int, asyncio.Event] = {}
        """Shards whose actors are being stopped; set when the last of them stopped and flushed."""
        self._guards: dict[int, Guard] = {}
        """One lease check per shard, shared by its actors."""

    # --- shards (driven by membership) --------------------------------------------------------------
    async def start_shard(self, shard: int, fence: Fence) -> None:
        """Run every cluster of ``shard`` under ``fence`` (clusters created meanwhile arrive by the feed).
        Once the scheduler runs (a shard taken over, not the first join), the clusters are refreshed soon,
        spread over the initial window, rather than at the next round."""
        stopping = self._stopping.get(shard)
        if stopping is not None:
            # Taken again while its previous incarnation's actors still finish their passes: starting now
            # would find those actors, about to stop, and leave their clusters with none at all.
            await stopping.wait()
        self._fences[shard] = fence
        self._members.setdefault(shard, set())
        adopted: list[str] = []
        for raw in await self._store.list_raw_clusters_in_shards([shard]):
            if self._fences.get(shard) is fence and self.spawn(raw) is not None:  # not stopped meanwhile
                adopted.append(raw.name)
        scheduler = self.system_actor(SCHEDULER)
        if adopted and scheduler is not None:
            scheduler.tell(Adopted(tuple(adopted)))

    async def stop_shard(self, shard: int) -> None:
        """Stop the shard's actors (each finishes its message in hand), then commit every status they
        wrote, so that the lease can be released right after with nothing of theirs still pending."""
        self._fences.pop(shard, None)
        names = self._members.pop(shard, set())
        done = asyncio.Event()
        earlier = self._stopping.get(shard)
        self._stopping[shard] = done
        try:
            if earlier is not None:
                await earlier.wait()
            await self._system.stop_many([cluster_actor_name(n) for n in names])
            if names:
                try:
                    await self._store.flush()
                except StoreError as exc:
                    # The store refuses writes now (locked, disk full): the statuses stay pending and the
                    # flusher retries them; they carry this lease's fence, so a new owner's writes win.
                    # Stopping the shard must not fail (it is what a replica does when it cannot renew in
                    # time).
                    log.warning(
                        "statuses of a stopped shard not flushed yet",
                        extra={"shard": shard, "error": str(exc)},
                    )
        finally:
            if self._stopping.get(shard) is done:
                del self._stopping[shard]
            done.set()

    def fence(self, shard: int) -> Fence | None:
        """The fence ``shard`` runs under here; None when its actors do not run here."""
        return self._fences.get(shard)

    def owns(self, name: str) -> bool:
        return shard_of(name, self._shard_count) in self._fences

    def running_shards(self) -> list[int]:
        return sorted(self._fences)

    # --- clusters -----------------------------------------------------------------------------------
    def spawn(self, cluster: Cluster | RawCluster) -> ClusterActor | None:
        """Start the cluster's actor if its shard is held here and it is not running yet."""
        name = cluster.name if isinstance(cluster, RawCluster) else cluster.metadata.name
        shard = shard_of(name, self._shard_count)
        fence = self._fences.get(shard)
        if fence is None:
            return None
        existing = self.actor(name)
        if existing is not None:
            return existing
        actor = ClusterActor(cluster, self._deps, fence=fence, guard=self._guard(shard))
        self._system.spawn(cluster_actor_name(name), actor)
        self._members[shard].add(name)
        return actor

    def _guard(self, shard: int) -> Guard | None:
        """The lease check of ``shard``'s actors: one callable per shard, shared by its actors (not one
        closure per actor: three more objects for the cyclic collector, times the fleet)."""
        check = self._check
        if check is None:
            return None
        guard = self._guards.get(shard)
        if guard is None:
            guard = self._guards[shard] = partial(check, shard)
        return guard

    async def start(self, name: str) -> None:
        """Make sure the cluster's actor runs here (if its shard does) and has the stored spec."""
        if name in self:
            self.tell(name, SpecChanged())
            return
        if not self.owns(name):
            return
        cluster = await self._store.get_cluster(name)
        if cluster is not None:
            self.spawn(cluster)

    def forget(self, name: str) -> None:
        """The cluster left the store (its actor deleted it and stops)."""
        self._members.get(shard_of(name, self._shard_count), set()).discard(name)

    def tell(self, name: str, message: Any) -> bool:
        """Deliver to the cluster's actor; False (logged) when it is not running or its mailbox is full."""
        try:
            self._system.get(cluster_actor_name(name)).tell(message)
        except ActorError as exc:
            log.warning("message not delivered", extra={"cluster": name, "error": str(exc)})
            return False
        return True

    def actor(self, name: str) -> ClusterActor | None:
        """The running actor of cluster ``name``, if any."""
        actor_name = cluster_actor_name(name)
        return self._system.get(actor_name, ClusterActor) if actor_name in self._system else None

    def send_tick(self, name: str, tick: SyncTick) -> bool:
        """The scheduler's delivery: False when no actor runs for ``name`` (raises if the mailbox is full)."""
        actor_name = cluster_actor_name(name)
        if actor_name not in self._system:
            return False
        self._system.get(actor_name).tell(tick)
        return True

    def names(self) -> list[str]:
        """The clusters whose actors run here (a snapshot)."""
        cut = len(CLUSTER_NAMESPACE)
        return [n[cut:] for n in self._system.names() if n.startswith(CLUSTER_NAMESPACE)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and cluster_actor_name(name) in self._system

    def __len__(self) -> int:
        return sum(len(members) for members in self._members.values())

    # --- system actors ------------------------------------------------------------------------------
    def spawn_system(self, name: str, actor: Actor[Any, Any]) -> None:
        self._system.spawn(system_actor_name(name), actor)

    def system_actor(self, name: str) -> Actor[Any, Any] | None:
        actor_name = system_actor_name(name)
        return self._system.get(actor_name) if actor_name in self._system else None

    # --- the change feed ----------------------------------------------------------------------------
    async def route(self, change: Change) -> None:
        """Act on one change committed by any replica (``replicas.follow`` calls this in feed order)."""
        kind, name = change.kind, change.name
        if kind in (ChangeKind.CREATED, ChangeKind.UPDATED):
            await self.start(name)  # a delete request is an update: the actor reloads and sees it
        elif kind is ChangeKind.SYNC:
            if name in self:
                self.tell(name, SyncTick(planned=asyncio.get_running_loop().time()))
        elif kind is ChangeKind.DELETED:
            self.forget(name)
        elif kind is ChangeKind.SETTING:
            await self._setting_changed(name)
        elif kind is ChangeKind.CREDENTIAL and self._on_credential_changed is not None:
            namespace, _, cred = name.partition(":")
            self._on_credential_changed(namespace, cred)

    async def resync(self) -> None:
        """The feed was trimmed past our cursor: re-read every held shard and the settings."""
        for shard, fence in list(self._fences.items()):
            stored = {c.metadata.name: c for c in await self._store.list_clusters_in_shards([shard])}
            if self._fences.get(shard) is not fence:
                continue
            for name in list(self._members.get(shard, ())):
                if name not in stored:
                    await self._system.stop_many([cluster_actor_name(name)])
                    self.forget(name)
                else:
                    self.tell(name, SpecChanged())
            for cluster in stored.values():
                self.spawn(cluster)
        await self._setting_changed(REFRESH_CRON_SETTING)

    async def _setting_changed(self, name: str) -> None:
        scheduler = self.system_actor(SCHEDULER)
        if name != REFRESH_CRON_SETTING or scheduler is None:
            return
        value = await self._store.get_setting(name)
        if value is not None:
            scheduler.tell(SettingChanged(value))
