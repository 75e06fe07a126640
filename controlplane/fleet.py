"""The fleet registry: the cluster actors this process runs, the namespace of actor names, and the
routing of messages (API notifications, sync ticks, settings) to the right actor.

Actor names are namespaced: a cluster's actor is ``cluster/<name>`` and a system actor (the scheduler)
``system/<name>``, so any valid cluster name works, ``scheduler`` included. Nothing outside this module
builds an actor name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

from actors import Actor, ActorError, ActorSystem
from controlplane.api import Cluster
from controlplane.cluster import ClusterActor, ClusterDeps, DeleteRequested, SpecChanged, SyncTick
from controlplane.scheduler import REFRESH_CRON_SETTING, SettingChanged
from controlplane.store import Store

log = logging.getLogger("controlplane.fleet")

CLUSTER_NAMESPACE: Final = "cluster/"
SYSTEM_NAMESPACE: Final = "system/"
SCHEDULER: Final = "scheduler"


def cluster_actor_name(cluster: str) -> str:
    return CLUSTER_NAMESPACE + cluster


def system_actor_name(name: str) -> str:
    return SYSTEM_NAMESPACE + name


class Fleet:
    """Spawns, finds and messages the actors of one process. Implements the admin API's
    ``ClusterController``: it is told about every change after the change is persisted."""

    def __init__(self, system: ActorSystem, store: Store, deps: ClusterDeps) -> None:
        self._system = system
        self._store = store
        self._deps = deps
        self._ready: Callable[[], bool] = lambda: False

    # --- clusters -----------------------------------------------------------------------------------
    async def start_all(self) -> int:
        """Spawn an actor for every stored cluster; returns how many run."""
        for cluster in await self._store.list_clusters():
            self.spawn(cluster)
        return len(self)

    def spawn(self, cluster: Cluster) -> ClusterActor:
        return self._system.spawn(
            cluster_actor_name(cluster.metadata.name), ClusterActor(cluster, self._deps)
        )

    async def start(self, name: str) -> None:
        """Make sure the cluster's actor runs and has the stored spec (a new or changed cluster)."""
        if name in self:
            self.tell(name, SpecChanged())
            return
        cluster = await self._store.get_cluster(name)
        if cluster is not None:
            self.spawn(cluster)

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
        return sum(1 for n in self._system.names() if n.startswith(CLUSTER_NAMESPACE))

    # --- system actors ------------------------------------------------------------------------------
    def spawn_system(self, name: str, actor: Actor[Any, Any]) -> None:
        self._system.spawn(system_actor_name(name), actor)

    def system_actor(self, name: str) -> Actor[Any, Any] | None:
        actor_name = system_actor_name(name)
        return self._system.get(actor_name) if actor_name in self._system else None

    # --- the admin API's ClusterController ----------------------------------------------------------
    def set_ready(self, ready: Callable[[], bool]) -> None:
        self._ready = ready

    def ready(self) -> bool:
        return self._ready()

    async def cluster_created(self, name: str) -> None:
        await self.start(name)

    async def cluster_spec_changed(self, name: str) -> None:
        self.tell(name, SpecChanged())

    async def cluster_delete_requested(self, name: str) -> None:
        self.tell(name, DeleteRequested())

    async def sync_now(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self.tell(name, SyncTick(planned=asyncio.get_running_loop().time()))

    async def setting_changed(self, name: str, value: str) -> None:
        scheduler = self.system_actor(SCHEDULER)
        if name == REFRESH_CRON_SETTING and scheduler is not None:
            scheduler.tell(SettingChanged(value))
