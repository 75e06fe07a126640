"""The cluster actor: one task, one mailbox and one state machine per managed cluster.

Nothing else mutates a cluster's status, so a user's edit, a sync tick and an AWS poll of the same
cluster never race. The actor's state is the cluster's phase; each pass looks up the phase's handler
(``_phases.HANDLERS``), which returns the next phase and when to come back. The actor enters it with the
kernel's ``transition`` and arms the kernel's ``state_timeout`` (so a pending poll dies with the phase
it belonged to), never a sleep. Expected failures (AWS, validation, downstream) become the failure message
and a retry with the operator's work-queue backoff; anything else crashes the handler and the supervisor
restarts the actor, which reloads its cluster from the store (let it crash).
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import logging
import time
import zlib
from typing import Any

import msgspec

from actors import Actor, ActorStopped, Stop
from controlplane.api import Cluster, Phase, validate_create
from controlplane.aws import AccessDeniedError, AwsError, Guard, UpdateInProgressError
from controlplane.downstream import DownstreamError
from controlplane.metrics import (
    CLUSTERS_BY_PHASE,
    RECONCILE_ERRORS,
    RECONCILE_SECONDS,
    SYNC_REFRESH_SECONDS,
    SYNC_REFRESHES_WAITING,
    SYNC_TICKS,
    TICK_LAG_SECONDS,
)
from controlplane.store import Fence, Fenced, RawCluster, StoreError
from controlplane.sync import UpstreamBuildError

from ._context import ClusterAccessError, ClusterDeps, Next, Pass, ReconcileError, Requeue
from ._messages import ClusterMessage, DeleteRequested, Reconcile, SpecChanged, SyncTick
from ._observe import observe
from ._phases import HANDLERS, after_failure, retry_delay
from ._rancher import active_duties, phase_conditions
from ._sync import refresh

log = logging.getLogger("controlplane.cluster")

_ENCODE = msgspec.json.Encoder().encode
_DECODE = msgspec.json.Decoder(Cluster).decode
_PARKED_LEVEL = 1
"""zlib level of a parked cluster: the fastest still shrinks its JSON ~2.2x (measured: ~90 us to compress and
~45 us to decompress a refreshed cluster, about 2.5% of a refresh's CPU)."""


def _pack(cluster: Cluster) -> bytes:
    return zlib.compress(_ENCODE(cluster), _PARKED_LEVEL)


def _unpack(blob: bytes) -> Cluster:
    # The store's rows are plain JSON (an object: "{"); the actor's own parked form is zlib (0x78).
    return _DECODE(blob if blob[:1] == b"{" else zlib.decompress(blob))


EXPECTED_ERRORS = (ReconcileError, AwsError, DownstreamError, UpstreamBuildError)
_MAX_ERROR_TEXT = 500


def caused_by(error: BaseException, kinds: type[BaseException] | tuple[type[BaseException], ...]) -> bool:
    """True if ``error`` or an error it was raised from (``raise ... from``) is one of ``kinds``."""
    seen: BaseException | None = error
    for _ in range(16):  # a chain is short; the bound guards against a cycle
        if seen is None:
            return False
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__
    return False


def is_access_denied(error: BaseException) -> bool:
    """AWS refused the credential, or the cluster's API answered 403 to our token."""
    seen: BaseException | None = error
    for _ in range(16):
        if seen is None or isinstance(seen, ClusterAccessError):
            return False  # the cluster refused our identity: its message says what to fix
        if isinstance(seen, AccessDeniedError) or (isinstance(seen, DownstreamError) and seen.status == 403):
            return True
        seen = seen.__cause__
    return False


class ClusterActor(Actor[ClusterMessage, Phase]):
    """One cluster's actor. ``fence`` is the lease its writes are made under (``None``: unfenced, for
    embedding without replicas); ``guard`` runs before every mutating AWS call and raises ``Fenced``
    when the lease is no longer valid for long enough. Either one failing stops the actor: another
    replica owns the cluster now."""

    kind = "cluster"
    __slots__ = (
        "_blob",
        "_cluster",
        "_encoded",
        "_errors",
        "_guard",
        "_unpersisted",
        "cluster_name",
        "deps",
        "fence",
    )

    def __init__(
        self,
        cluster: Cluster | RawCluster,
        deps: ClusterDeps,
        *,
        fence: Fence | None = None,
        guard: Guard | None = None,
    ) -> None:
        if isinstance(cluster, RawCluster):
            phase = Phase(cluster.phase)
            self._blob = cluster.data
            self._cluster: Cluster | None = None
            self.cluster_name = cluster.name
            self._encoded: int | None = None  # known once the status is first decoded
        else:
            phase = cluster.status.phase
            self._blob = b""
            self._cluster = cluster
            self.cluster_name = cluster.metadata.name
            # A hash of the last persisted status, not the bytes: 8 bytes instead of kilobytes.
            self._encoded = hash(_ENCODE(cluster.status))
        super().__init__(phase)
        self.deps = deps
        self.fence = fence
        self._guard = guard
        self._errors = 0
        """Consecutive failed passes, for the operator's work-queue backoff (reset by a good pass)."""
        self._unpersisted = False
        """The store refused a write of this actor: nothing is done until the status is durable again."""
        CLUSTERS_BY_PHASE.labels(phase.value or "new").inc()

    @property
    def cluster(self) -> Cluster:
        """The cluster, decoded while a message is handled. Between messages the actor keeps it encoded
        (``_blob``, zlib-compressed JSON): a kilobyte or two of bytes instead of a hundred objects, so
        50,000 idle actors cost little memory and give the cyclic garbage collector nothing to walk."""
        cluster = self._cluster
        if cluster is None:
            cluster = self._cluster = _unpack(self._blob)
            if self._encoded is None:
                self._encoded = hash(_ENCODE(cluster.status))
        return cluster

    def _park(self) -> None:
        """Back to the encoded form once a message is handled."""
        cluster = self._cluster
        if cluster is not None:
            self._blob = _pack(cluster)
            self._cluster = None

    # --- lifecycle --------------------------------------------------------------------------------

    async def on_start(self) -> None:
        # A restart of 50,000 clusters must not be 50,000 update passes (nor decodes) at once: an active
        # cluster waits for its sync tick, which reconciles it if it is not settled or AWS drifted; one
        # in the middle of something (creating, updating, deleting...) goes on at once.
        if self.state != Phase.ACTIVE or (self._cluster is not None and not self._settled()):
            self.tell(Reconcile())
        self._park()

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
        # Timers died with the failure; the store is the truth to resume from. The cluster shows why.
        await self._reload()
        self._unexpected(error)
        await self._write(durable=False)
        self.tell(Reconcile())

    async def on_give_up(self, error: Exception) -> None:
        # The supervisor stops restarting: say so where users look (on_stop persists it).
        policy = self.supervision
        self._unexpected(
            error,
            f"; stopped retrying after {policy.max_restarts} restarts within {policy.within:g} s: "
            "change the cluster or restart the service to retry",
        )

    def _unexpected(self, error: Exception, suffix: str = "") -> None:
        """A failure the handlers do not expect (a bug, or a broken dependency) becomes the failure
        message, like any other, so the cluster shows why it makes no progress."""
        text = " ".join(f"{type(error).__name__}: {error}".split())
        message = f"internal error: {text[:_MAX_ERROR_TEXT]}{suffix}"
        status = self.cluster.status
        phase = after_failure(self.state, message, status.failure_message)
        status.failure_message = message
        self._enter(Next(phase, None))
        if phase != Phase.DELETING:
            phase_conditions(self.cluster)

    def on_finish(self) -> None:
        # Here, not in on_stop: an actor cancelled at its stop deadline skips on_stop, and the gauge kept
        # counting it (50,000 clusters read 124,033 after a few shard hand-overs).
        CLUSTERS_BY_PHASE.labels(self.state.value or "new").dec()

    async def on_stop(self) -> None:
        if self._cluster is None:
            return  # parked: everything it changed was written at the end of its last message
        with contextlib.suppress(Fenced):  # the lease is gone: the new owner writes the status now
            await self._write(durable=True)

    # --- messages ---------------------------------------------------------------------------------

    async def handle(self, message: ClusterMessage) -> Any:
        try:
            await self._handle(message)
        except StoreError as exc:  # Fenced is handled in _handle
            self._store_failed(exc)
        finally:
            self._park()

    def _stop_self(self) -> None:
        # Already stopping (its shard is being stopped while this message finishes): nothing to ask.
        with contextlib.suppress(ActorStopped):
            self.tell(Stop())

    def _store_failed(self, exc: StoreError) -> None:
        """The store refused a write (locked, disk full, unreachable): not a crash of this actor. It acts on
        nothing until its status is durable again (the next message writes it first), and retries with the
        operator's backoff, which never gives up (a supervisor restart would, after 30 in 10 minutes)."""
        self._unpersisted = True
        self._errors += 1
        RECONCILE_ERRORS.labels(self.state.value or "new").inc()
        self._log(logging.WARNING, "store write failed; retrying", error=str(exc))
        self._arm(self.deps.scaled(retry_delay(self._errors, self.deps.lifecycle)))

    async def _handle(self, message: ClusterMessage) -> None:
        try:
            if self._unpersisted:
                # Whatever the failed pass changed (a create intent, a token) is made durable before any
                # AWS call can rely on it, and the spec is read again (a change may have come meanwhile,
                # its notice lost with the failed message), as a supervisor restart would.
                await self._write(durable=True)
                await self._reload()
                self._unpersisted = False
            if isinstance(message, SyncTick):
                await self._sync(message)
                return None
            if isinstance(message, SpecChanged | DeleteRequested):
                await self._reload()
            await self._reconcile()
        except Fenced as exc:
            # Another replica owns the cluster now (or this one could not renew in time): do nothing
            # more, not even a retry; the replica stops this actor, and the new owner carries on.
            self._log(logging.WARNING, "lease lost; stopping", error=str(exc))
            self.cancel_state_timeout()
            self._stop_self()

    async def _reload(self) -> None:
        stored = await self.deps.store.get_cluster(self.cluster_name)
        if stored is None:
            return
        self.cluster.metadata = stored.metadata
        self.cluster.spec = stored.spec

    # --- one pass ---------------------------------------------------------------------------------

    def _log(self, level: int, msg: str, **fields: Any) -> None:
        log.log(level, msg, extra={"cluster": self.cluster_name, **fields})

    async def _pass(self) -> Pass:
        spec = self.cluster.spec.eks_config
        if not spec.region:  # admission fills the default region; a stored spec may still lack one
            problems = [e.message for e in validate_create(self.cluster) if e.path.endswith(".region")]
            raise ReconcileError(problems[0] if problems else "region is required")
        scope = await self.deps.aws.scope(spec.amazon_credential_secret, spec.region, guard=self._guard)
        return Pass(self.cluster, scope, self.deps, self._persist, self.fence)

    async def _persist(self, durable: bool) -> None:
        await self._write(durable=durable)

    async def _reconcile(self) -> None:
        status = self.cluster.status
        if self.cluster.metadata.deletion_timestamp and self.state != Phase.DELETING:
            status.failure_message = ""
            self._enter(Next(Phase.DELETING, None))
        phase = self.state
        began = time.perf_counter()
        events: list[Any] = []
        try:
            p = await self._pass()
            events = p.events
            step = await HANDLERS[phase](p)
            if step.gone:
                await self._forget(p)
                return
            self._enter(step)
            step = await self._rancher_duties(p, step)
            self._errors = 0
            status.failure_message = ""
        except EXPECTED_ERRORS as exc:
            step = self._failed(exc)
        finally:
            RECONCILE_SECONDS.labels(phase.value or "new").observe(time.perf_counter() - began)
        await self._finish_pass(events)
        self._arm(step.after)

    async def _rancher_duties(self, p: Pass, step: Next) -> Next:
        """Rancher's side of the pass, after the operator's step (never on the pass that just reached
        active: the node groups are created by the next one)."""
        if step.phase == Phase.DELETING:
            return step
        if step.phase != Phase.ACTIVE:
            self.cluster.status.failure_message = ""  # the operator's step succeeded
            phase_conditions(self.cluster)
            return step
        if not p.converged:
            return Next(Phase.ACTIVE, 0)
        return Next(Phase.ACTIVE, _sooner(step.after, await active_duties(p)))

    def _failed(self, exc: Exception) -> Next:
        """The operator's recordError: an update already in progress clears the message; a new failure
        while active moves to updating. Returns the phase and the backoff before the retry."""
        status = self.cluster.status
        message = "" if caused_by(exc, UpdateInProgressError) else str(exc)
        phase = after_failure(self.state, message, status.failure_message)
        status.failure_message = message
        self._enter(Next(phase, None))
        if message:
            RECONCILE_ERRORS.labels(phase.value or "new").inc()
            self._log(logging.WARNING, "reconcile failed", phase=phase.value, error=message)
        if phase != Phase.DELETING:
            phase_conditions(self.cluster, access_denied=is_access_denied(exc))
        self._errors += 1
        return Next(phase, self.deps.scaled(retry_delay(self._errors, self.deps.lifecycle)))

    def _enter(self, step: Next) -> None:
        """Enter ``step.phase``: leaving a phase cancels its state timeout (the kernel's rule)."""
        self.cluster.status.phase = step.phase
        old = self.state
        if step.phase != old:
            CLUSTERS_BY_PHASE.labels(old.value or "new").dec()
            CLUSTERS_BY_PHASE.labels(step.phase.value or "new").inc()
            self._log(logging.INFO, "phase changed", old=old.value, new=step.phase.value)
            self.transition(step.phase)

    def _arm(self, after: Requeue) -> None:
        """Come back in ``after`` seconds (the phase's single state timeout), or wait for a message."""
        if after is None:
            self.cancel_state_timeout()
        else:
            self.state_timeout(max(after, 0.0), Reconcile())

    async def _finish_pass(self, events: list[Any]) -> None:
        for event in events:
            await self.deps.store.append_event(self.cluster.metadata.name, event, fence=self.fence)
        await self._write(durable=False)

    async def _write(self, *, durable: bool) -> None:
        """Persist the status if it changed (batched; ``durable`` waits for the commit)."""
        status = self.cluster.status
        status.observed_generation = self.cluster.metadata.generation
        status.replica = self.deps.replica
        encoded = hash(_ENCODE(status))
        if encoded == self._encoded:
            return
        await self.deps.store.write_status(
            self.cluster.metadata.name, status, durable=durable, fence=self.fence
        )
        self._encoded = encoded

    async def _forget(self, p: Pass) -> None:
        """AWS is clean: drop the cluster, its token secret and its actor."""
        name = self.cluster.metadata.name
        store, fence = self.deps.store, self.fence
        for event in p.events:
            await store.append_event(name, event, fence=fence)
        if self.cluster.status.service_account_token_secret:
            secret = f"{name}/{self.cluster.status.service_account_token_secret}"
            await store.delete_secret(secret, fence=fence)
        await store.delete_cluster(name, fence=fence)
        self._encoded = hash(_ENCODE(self.cluster.status))  # nothing left to write on stop
        self.cancel_state_timeout()
        self._log(logging.INFO, "cluster deleted")
        if self.deps.on_removed is not None:
            self.deps.on_removed(name)
        self._stop_self()

    # --- sync ticks -------------------------------------------------------------------------------

    def _fresh(self, within: float) -> bool:
        """Settled and refreshed less than ``within`` seconds ago (by whichever replica or run)."""
        status = self.cluster.status
        return self._settled() and time.time() - _synced_at(status.last_sync_time) < within

    async def _sync(self, tick: SyncTick) -> None:
        try:
            slots = self.deps.refresh_slots
            if slots is None:
                await self._refresh_tick(tick)
                return
            # Waiting for a slot, the cluster stays encoded (nothing here has decoded it yet).
            with SYNC_REFRESHES_WAITING.track_inprogress():
                await slots.acquire()
            try:
                await self._refresh_tick(tick)
            finally:
                slots.release()
        finally:
            if self.deps.on_refreshed is not None:
                self.deps.on_refreshed(self.cluster_name, tick.round_id)

    async def _refresh_tick(self, tick: SyncTick) -> None:
        if tick.planned:
            TICK_LAG_SECONDS.observe(max(0.0, asyncio.get_running_loop().time() - tick.planned))
        if self.cluster.metadata.deletion_timestamp or self.cluster.status.phase != Phase.ACTIVE:
            SYNC_TICKS.labels("skipped_busy").inc()
            if not self.state_timeout_pending:
                # Nothing will pass by itself (a deletion asked for while no replica ran it, a
                # restart): the tick makes sure one does. A retry in backoff is left alone.
                self._arm(0.0)
            return
        if tick.fresh_for and self._fresh(tick.fresh_for):
            SYNC_TICKS.labels("skipped_fresh").inc()
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
            await self.deps.store.append_event(self.cluster.metadata.name, event, fence=self.fence)
        await self._write(durable=False)
        if push:
            self._arm(0.0)


def _synced_at(last_sync_time: str) -> float:
    """Seconds since the epoch of an RFC 3339 ``lastSyncTime`` (0 when absent or unreadable)."""
    try:
        return calendar.timegm(time.strptime(last_sync_time, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return 0.0


def _sooner(a: Requeue, b: Requeue) -> Requeue:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
