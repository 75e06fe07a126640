"""The cluster actor: one task, one mailbox and one state machine per managed cluster.

Nothing else mutates a cluster's status, so a user's edit, a sync tick and an AWS poll of the same
cluster never race. Each message runs one pass to completion; waits are self-addressed timers (one
pending at a time), never sleeps. Expected failures (AWS, validation, downstream) become the failure
message and a retry with the operator's work-queue backoff; anything else crashes the handler and the
supervisor restarts the actor, which reloads its cluster from the store (let it crash).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec

from actors import Actor, Stop, Timer
from controlplane.api import Cluster, Phase
from controlplane.aws import AwsError
from controlplane.downstream import DownstreamError
from controlplane.metrics import (
    CLUSTERS_BY_PHASE,
    RECONCILE_ERRORS,
    RECONCILE_SECONDS,
    SYNC_REFRESH_SECONDS,
    SYNC_TICKS,
    TICK_LAG_SECONDS,
)
from controlplane.sync import UpstreamBuildError

from . import _conditions as cond
from ._context import ClusterDeps, Pass, ReconcileError, Requeue
from ._create import create, wait_for_creation
from ._delete import delete
from ._import import import_cluster
from ._messages import ClusterMessage, DeleteRequested, Reconcile, SpecChanged, SyncTick
from ._observe import observe
from ._rancher import active_duties, phase_conditions
from ._sync import refresh
from ._update import check_and_update

log = logging.getLogger("controlplane.cluster")

EXPECTED_ERRORS = (ReconcileError, AwsError, DownstreamError, UpstreamBuildError)
UPDATE_IN_PROGRESS_TEXT = "currently has update"


class ClusterActor(Actor[ClusterMessage, Phase]):
    kind = "cluster"
    __slots__ = ("_encoded", "_failures", "_timer", "cluster", "deps")

    def __init__(self, cluster: Cluster, deps: ClusterDeps) -> None:
        super().__init__(cluster.status.phase)
        self.cluster = cluster
        self.deps = deps
        self._failures = 0
        self._timer: Timer | None = None
        # A hash of the last persisted status, not the bytes: 8 bytes per cluster instead of kilobytes.
        self._encoded = hash(msgspec.json.encode(cluster.status))
        CLUSTERS_BY_PHASE.labels(cluster.status.phase.value or "new").inc()
        eks = cluster.spec.eks_config
        deps.fleet.add(cluster.metadata.name, eks.display_name, eks.region, eks.amazon_credential_secret)

    # --- lifecycle --------------------------------------------------------------------------------

    async def on_start(self) -> None:
        # A restart of 10,000 settled clusters must not be 10,000 update passes at once: a settled
        # cluster waits for its sync tick, which reconciles it if AWS drifted meanwhile.
        if not self._settled():
            self.tell(Reconcile())

    def _settled(self) -> bool:
        c = self.cluster
        return (
            c.status.phase == Phase.ACTIVE
            and not c.metadata.deletion_timestamp
            and not c.status.failure_message
            and c.status.applied_spec == c.spec.eks_config
            and c.status.observed_generation == c.metadata.generation
        )

    async def on_restart(self, error: Exception) -> None:
        # Timers died with the failure; the store is the truth to resume from.
        self._timer = None
        await self._reload()
        self.tell(Reconcile())

    async def on_stop(self) -> None:
        await self._write(durable=True)

    # --- messages ---------------------------------------------------------------------------------

    async def handle(self, message: ClusterMessage) -> Any:
        if isinstance(message, SyncTick):
            await self._sync(message)
            return None
        if isinstance(message, SpecChanged | DeleteRequested):
            await self._reload()
        await self._reconcile()
        return None

    async def _reload(self) -> None:
        stored = await self.deps.store.get_cluster(self.name or self.cluster.metadata.name)
        if stored is None:
            return
        self.cluster.metadata = stored.metadata
        self.cluster.spec = stored.spec

    # --- one pass ---------------------------------------------------------------------------------

    def _log(self, level: int, msg: str, **fields: Any) -> None:
        log.log(level, msg, extra={"cluster": self.cluster.metadata.name, **fields})

    async def _pass(self) -> Pass:
        spec = self.cluster.spec.eks_config
        scope = await self.deps.aws.scope(spec.amazon_credential_secret, spec.region)
        return Pass(self.cluster, scope, self.deps, self._persist)

    async def _persist(self, durable: bool) -> None:
        await self._write(durable=durable)

    async def _reconcile(self) -> None:
        status = self.cluster.status
        if self.cluster.metadata.deletion_timestamp and status.phase != Phase.DELETING:
            status.phase = Phase.DELETING
            status.failure_message = ""
        started_in = status.phase
        began = time.perf_counter()
        requeue: Requeue = None
        events: list[Any] = []
        try:
            p = await self._pass()
            events = p.events
            if status.phase == Phase.DELETING:
                requeue = await delete(p)
                if requeue is None:
                    await self._forget(p)
                    return
            else:
                requeue = await self._phase_step(p)
                # Rancher's active duties follow a complete update pass (never the one that just
                # reached active: the node groups are created by the next one).
                if status.phase == Phase.ACTIVE and p.converged:
                    requeue = _sooner(requeue, await active_duties(p))
                elif status.phase == Phase.ACTIVE:
                    requeue = 0
                else:
                    phase_conditions(self.cluster)
            self._failures = 0
            status.failure_message = ""
        except EXPECTED_ERRORS as exc:
            requeue = self._record_error(exc)
        finally:
            RECONCILE_SECONDS.labels(started_in.value or "new").observe(time.perf_counter() - began)
        await self._finish_pass(events)
        self._schedule(requeue)

    async def _phase_step(self, p: Pass) -> Requeue:
        phase = self.cluster.status.phase
        if phase == Phase.NEW:
            if not self.cluster.status.conditions:
                cond.set_message(self.cluster.status, cond.WAITING, cond.MSG_WAITING_FOR_API)
            return await create(p)
        if phase == Phase.CREATING:
            return await wait_for_creation(p)
        if phase == Phase.IMPORTING:
            return await import_cluster(p)
        return await check_and_update(p)

    def _record_error(self, exc: Exception) -> float:
        """The operator's recordError: "currently has update" clears the message; a new failure while
        active moves to updating. Returns the backoff before the retry."""
        status = self.cluster.status
        message = str(exc)
        if UPDATE_IN_PROGRESS_TEXT in message:
            message = ""
        if status.failure_message != message:
            if message and status.phase == Phase.ACTIVE:
                status.phase = Phase.UPDATING
            status.failure_message = message
        if message:
            RECONCILE_ERRORS.labels(status.phase.value or "new").inc()
            self._log(logging.WARNING, "reconcile failed", phase=status.phase.value, error=message)
        if status.phase != Phase.DELETING:
            phase_conditions(self.cluster)
        self._failures += 1
        lc = self.deps.lifecycle
        if self._failures > lc.backoff_slow_after:
            delay = lc.backoff_slow
        else:
            delay = min(lc.backoff_max, lc.backoff_base * 2 ** (self._failures - 1))
        return self.deps.scaled(delay)

    async def _finish_pass(self, events: list[Any]) -> None:
        for event in events:
            await self.deps.store.append_event(self.cluster.metadata.name, event)
        self._set_phase_metric()
        await self._write(durable=False)

    def _set_phase_metric(self) -> None:
        phase = self.cluster.status.phase
        if phase != self.state:
            CLUSTERS_BY_PHASE.labels(self.state.value or "new").dec()
            CLUSTERS_BY_PHASE.labels(phase.value or "new").inc()
            self._log(logging.INFO, "phase changed", old=self.state.value, new=phase.value)
            self.transition(phase)

    async def _write(self, *, durable: bool) -> None:
        """Persist the status if it changed (batched; ``durable`` waits for the commit)."""
        status = self.cluster.status
        status.observed_generation = self.cluster.metadata.generation
        encoded = hash(msgspec.json.encode(status))
        if encoded == self._encoded:
            return
        await self.deps.store.write_status(self.cluster.metadata.name, status, durable=durable)
        self._encoded = encoded

    def _schedule(self, requeue: Requeue) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if requeue is not None:
            self._timer = self.after(max(requeue, 0.0), Reconcile())

    async def _forget(self, p: Pass) -> None:
        """AWS is clean: drop the cluster, its token secret and its actor."""
        name = self.cluster.metadata.name
        for event in p.events:
            await self.deps.store.append_event(name, event)
        if self.cluster.status.service_account_token_secret:
            await self.deps.store.delete_secret(f"{name}/{self.cluster.status.service_account_token_secret}")
        await self.deps.store.delete_cluster(name)
        eks = self.cluster.spec.eks_config
        self.deps.fleet.remove(name, eks.display_name, eks.region)
        CLUSTERS_BY_PHASE.labels(self.state.value or "new").dec()
        self._encoded = hash(msgspec.json.encode(self.cluster.status))  # nothing left to write on stop
        self._log(logging.INFO, "cluster deleted")
        if self.deps.on_removed is not None:
            self.deps.on_removed(name)
        self.tell(Stop())

    # --- sync ticks -------------------------------------------------------------------------------

    async def _sync(self, tick: SyncTick) -> None:
        loop = asyncio.get_running_loop()
        if tick.planned:
            TICK_LAG_SECONDS.observe(max(0.0, loop.time() - tick.planned))
        try:
            if self.cluster.metadata.deletion_timestamp or self.cluster.status.phase != Phase.ACTIVE:
                SYNC_TICKS.labels("skipped_busy").inc()
                return
            began = time.perf_counter()
            p = await self._pass()
            error: Exception | None = None
            obs = None
            try:
                obs = await observe(p)
            except (AwsError, UpstreamBuildError) as exc:
                error = exc
            SYNC_REFRESH_SECONDS.observe(time.perf_counter() - began)
            push = await refresh(p, obs, error)
            SYNC_TICKS.labels("error" if error else "refreshed").inc()
            for event in p.events:
                await self.deps.store.append_event(self.cluster.metadata.name, event)
            await self._write(durable=False)
            if push:
                self._schedule(0.0)
        finally:
            if self.deps.on_refreshed is not None:
                self.deps.on_refreshed(self.cluster.metadata.name, tick.round_id)


def _sooner(a: Requeue, b: Requeue) -> Requeue:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)

