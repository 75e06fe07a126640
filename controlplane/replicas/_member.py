"""One replica's membership: its heartbeat, the shard leases it holds, balancing and hand-over.

Timing follows client-go's leader election: a lease lasts ``lease_duration`` after its last renewal; the
holder renews every ``retry_period``; if it could not renew for ``renew_deadline`` (< lease_duration), it
stops the shard's actors itself, before the lease can expire and be taken anywhere else. Every write of
those actors is also fenced by the lease's epoch in the store, so a replica that paused past its lease
(GC, SIGSTOP, a partition) writes nothing for the shards it lost, whatever it still believes.

Every ``retry_period`` the renewer heartbeats and then renews what is held. Each round: hand over what
balancing wants elsewhere (stop the actors, flush, release, so the new owner need not wait for expiry);
take what balancing wants here and is free. Rounds come every ``retry_period``, and sooner when a lease
held elsewhere expires before then: a replica that died is taken over the moment its leases run out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol

import anyio

from controlplane.config import ReplicaSettings
from controlplane.metrics import (
    LEASE_RENEWALS,
    REPLICA_FAILOVER_SECONDS,
    SHARD_HANDOFFS,
    SHARDS_OWNED,
)
from controlplane.store import Fence, Fenced, Lease, Store, StoreClosed, StoreError

from ._balance import balance

log = logging.getLogger("controlplane.replicas")


class ShardHost(Protocol):
    """What membership drives: the actors of this process, a shard at a time."""

    async def start_shard(self, shard: int, fence: Fence) -> None:
        """Start the actors of every cluster in ``shard``; their writes carry ``fence``."""
        ...

    async def stop_shard(self, shard: int) -> None:
        """Stop the shard's actors (each finishes its message in hand and persists its status)."""
        ...


class _Held:
    __slots__ = ("epoch", "renewed")

    def __init__(self, epoch: int, renewed: float) -> None:
        self.epoch = epoch
        self.renewed = renewed
        """Monotonic time of the last successful acquisition or renewal, taken before the call went out
        (so it errs early: the lease in the store was renewed at or after this moment)."""


class Membership:
    """A replica's place in the fleet. ``join`` once, then ``run`` until cancelled, then ``leave``."""

    def __init__(
        self,
        store: Store,
        settings: ReplicaSettings,
        *,
        replica_id: str,
        address: str,
        host: ShardHost,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings
        self.id = replica_id
        self.address = address
        self._host = host
        self._clock = clock
        self._held: dict[int, _Held] = {}
        self._started = time.time()
        self._joined = False
        self._beat: tuple[float, float] = (0.0, 0.0)
        """The store's time in the last heartbeat, and ``time.monotonic()`` when its answer came."""
        self._next_takeover: float | None = None
        """The store's time at which a shard held elsewhere can first be taken: its lease expired and its
        owner no longer live (None: no shard is held elsewhere)."""

    # --- what actors and the API ask ------------------------------------------------------------------
    @property
    def joined(self) -> bool:
        """True after the first round: this replica holds (and runs) what balancing gave it."""
        return self._joined

    def shards(self) -> list[int]:
        return sorted(self._held)

    def fence(self, shard: int) -> Fence | None:
        held = self._held.get(shard)
        return None if held is None else Fence(self.id, shard, held.epoch)

    def valid_until(self, shard: int) -> float:
        """Monotonic time until which this replica may act for ``shard`` (0: not held)."""
        held = self._held.get(shard)
        return 0.0 if held is None else held.renewed + self.settings.renew_deadline

    def check(self, shard: int) -> None:
        """Raise ``Fenced`` unless the lease stays valid for at least ``lease_margin`` seconds (called
        before every mutating AWS call, like the store's fence before every write)."""
        if self._clock() + self.settings.lease_margin >= self.valid_until(shard):
            raise Fenced(f"replica {self.id} does not hold shard {shard} for long enough to act")

    # --- lifecycle ------------------------------------------------------------------------------------
    async def join(self) -> None:
        """Announce this replica and take its first shards (all of them when it is alone). A store that
        refuses writes for now (locked by another process, disk full) is retried every ``retry_period``:
        the process waits, not ready, instead of exiting."""
        while True:
            try:
                # Leases left by an earlier run under this id (a restart after a crash) are released
                # first, so taking them back bumps their epochs: a fence of the dead incarnation can never
                # match again.
                stale = [lease.shard for lease in await self.store.list_leases() if lease.owner == self.id]
                if stale:
                    await self.store.release_leases(self.id, stale)
                await self.round()
                break
            except StoreClosed:
                raise
            except StoreError as exc:
                log.warning(
                    "replica cannot join yet; retrying", extra={"replica": self.id, "error": str(exc)}
                )
                await anyio.sleep(self.settings.retry_period)
        self._joined = True
        log.info("replica joined", extra={"replica": self.id, "shards": len(self._held)})

    async def run(self) -> None:
        """Rounds, the renewer and the renew-deadline watchdog, until cancelled."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._watchdog)
            # Renewal runs on its own: a round that hands shards over or starts them waits for their actors
            # (a pass in flight, a first read), which can outlast the renew deadline of the shards kept.
            tg.start_soon(self._repeat, self._beat_and_renew, self._retry_delay, "lease renewal failed")
            await self._repeat(partial(self.round, renew=False), self._round_delay, "replica round failed")

    async def _repeat(
        self, step: Callable[[], Awaitable[None]], delay: Callable[[], float], failed: str
    ) -> None:
        """Run ``step`` after each ``delay()`` until cancelled; a store error is logged, tried next time."""
        while True:
            await anyio.sleep(delay())
            try:
                await step()
            except StoreError as exc:
                log.warning(failed, extra={"replica": self.id, "error": str(exc)})

    def _retry_delay(self) -> float:
        return self.settings.retry_period

    def _round_delay(self) -> float:
        """``retry_period``, or less when a shard held elsewhere can be taken before then: a dead replica's
        shards are taken when its leases expire, not up to a retry period later in every survivor."""
        period = self.settings.retry_period
        if self._next_takeover is None:
            return period
        # Just past that moment, since the store's clock decides; and never a busy loop of rounds while the
        # estimate of that clock lags the store's by a slow heartbeat's way back.
        return min(period, max(period / 20, self._next_takeover - self._store_now() + 0.005))

    def _store_now(self) -> float:
        """The store's time now, from the last heartbeat's answer and the local time elapsed since (it errs
        early by the heartbeat's answer's way back, so a lease is never judged expired before it is)."""
        at, received = self._beat
        return at + (time.monotonic() - received)

    async def _heartbeat(self) -> None:
        at = await self.store.heartbeat(self.id, self.address, started=self._started)
        self._beat = (at, time.monotonic())

    async def _beat_and_renew(self) -> None:
        """The heartbeat goes out before the renewal, and only here (the rounds send none once joined): the
        last heartbeat of a replica that dies is then at most a moment newer than its last renewal, so once
        its leases expire it is no longer live in the survivors' balancing either. A round's heartbeat sent
        after the last renewal kept a dead replica "live", and its shards unclaimed, up to a retry period
        longer."""
        try:
            await self._heartbeat()
        except StoreError as exc:  # the renewal is still worth trying: the leases matter more
            log.warning("heartbeat failed", extra={"replica": self.id, "error": str(exc)})
        await self._renew()

    async def _drop_all(self, shards: list[int], reason: str) -> None:
        """Stop the shards concurrently: stopping one waits for its actors' passes in flight (or, with a store
        that refuses writes, for its statuses), and one after the other the waits add up."""
        async with anyio.create_task_group() as tg:
            for shard in shards:
                tg.start_soon(self._drop, shard, reason)

    async def leave(self) -> None:
        """Graceful exit: stop every shard's actors, release the leases, drop the heartbeat row."""
        shards = self.shards()
        self._held.clear()
        async with anyio.create_task_group() as tg:  # concurrently: one slow actor delays only its shard
            for shard in shards:
                tg.start_soon(self._host.stop_shard, shard)
        SHARD_HANDOFFS.labels("leaving").inc(len(shards))
        SHARDS_OWNED.set(0)
        try:
            await self.store.release_leases(self.id, shards)
            await self.store.remove_replica(self.id)
        except StoreError as exc:
            log.warning("replica could not release its leases", extra={"replica": self.id, "error": str(exc)})
        log.info("replica left", extra={"replica": self.id, "shards": len(shards)})

    # --- one round ------------------------------------------------------------------------------------
    async def round(self, *, renew: bool = True) -> None:
        """Balance: hand surplus shards over and take the ones due. With ``renew`` (joining, when no
        renewer runs yet), heartbeat and renew first."""
        s = self.settings
        if not renew and not self._joined:
            raise RuntimeError("a round without renewal comes after join(): it needs the join's heartbeat")
        if renew:  # in this order, like the renewer's; a failed heartbeat fails the join's attempt
            await self._heartbeat()
            await self._renew()
        replicas = await self.store.list_replicas()
        leases = await self.store.list_leases()
        now = self._store_now()
        heartbeats = {r.id: r.heartbeat for r in replicas}
        live = {r for r, beat in heartbeats.items() if now - beat < s.lease_duration} | {self.id}
        owners = {lease.shard: lease.owner for lease in leases if lease.owner and lease.expires > now}
        # A shard held elsewhere can change hands once its lease expired and its owner's heartbeat is too
        # old: a dead replica's last heartbeat may still be a moment newer than its last renewal.
        self._next_takeover = min(
            (
                max(lease.expires, heartbeats.get(lease.owner, 0.0) + s.lease_duration)
                for lease in leases
                if lease.owner not in ("", self.id) and (lease.expires > now or lease.owner in live)
            ),
            default=None,
        )
        for shard in self._held:
            owners[shard] = self.id  # what we renewed a moment ago is ours, whatever the list says
        wanted = balance(s.shards, live, owners)
        await self._hand_over([shard for shard in self._held if wanted.get(shard) != self.id])
        mine = [shard for shard, owner in wanted.items() if owner == self.id and shard not in self._held]
        await self._take(mine, leases, now)
        SHARDS_OWNED.set(len(self._held))

    async def _renew(self) -> None:
        if not self._held:
            return
        sent = self._clock()
        asked = {shard: h.epoch for shard, h in self._held.items()}
        renewed = await self.store.renew_leases(self.id, asked, self.settings.lease_duration)
        kept = {lease.shard for lease in renewed}
        for shard, epoch in asked.items():
            held = self._held.get(shard)
            if held is None or held.epoch != epoch:
                continue  # handed over or dropped while the renewal was out: not ours to judge now
            if shard in kept:
                held.renewed = max(held.renewed, sent)
                LEASE_RENEWALS.labels("renewed").inc()
            else:
                LEASE_RENEWALS.labels("lost").inc()
                log.warning("shard lease lost", extra={"replica": self.id, "shard": shard})
                await self._drop(shard, "lost")

    async def _hand_over(self, shards: list[int]) -> None:
        """Surplus shards go gracefully: actors stop and flush first, then the lease is released, so the
        new owner takes the shard at its next round instead of waiting for expiry."""
        if not shards:
            return
        await self._drop_all(shards, "rebalance")
        await self.store.release_leases(self.id, shards)
        log.info("shards handed over", extra={"replica": self.id, "shards": shards})

    async def _take(self, shards: list[int], leases: list[Lease], now: float) -> None:
        """Acquire ``shards`` in one statement, then start them one after the other.

        Every acquired lease is held (and so renewed) from the start, not only once its turn to start came:
        a survivor taking over 128 shards of 25,000 clusters while it refreshes its own took longer than
        the lease to start them all, and the last ones expired before they were ever renewed. The loop
        also renews as it goes, since no renewer runs yet while the replica joins."""
        if not shards:
            return
        sent = self._clock()
        before = {lease.shard: lease for lease in leases}
        taken = [
            (lease, _Held(lease.epoch, sent))
            for lease in await self.store.acquire_leases(self.id, shards, self.settings.lease_duration)
        ]
        for lease, held in taken:
            self._held[lease.shard] = held
        renewed_at = sent
        for index, (lease, held) in enumerate(taken):
            try:
                if self._clock() - renewed_at >= self.settings.retry_period:
                    renewed_at = self._clock()
                    await self._renew()
                if self._held.get(lease.shard) is not held:
                    continue  # lost or past its deadline while the others started: not ours to start
                await self._host.start_shard(lease.shard, Fence(self.id, lease.shard, lease.epoch))
            except StoreError:
                # Its clusters could not be read (or the renewal failed): neither it nor the ones after it
                # are held then (a held shard is never started again); a later round takes them again.
                for rest, rest_held in taken[index:]:
                    if self._held.get(rest.shard) is rest_held:
                        del self._held[rest.shard]
                await self._host.stop_shard(lease.shard)
                raise
            previous = before.get(lease.shard)
            if previous is not None and previous.owner and previous.owner != self.id:
                # Taken over from a replica that stopped renewing: how long the shard went without an
                # owner, from its lease's expiry until its actors run here (store clock + time since).
                running_at = now + (self._clock() - sent)
                REPLICA_FAILOVER_SECONDS.observe(max(0.0, running_at - previous.expires))

    async def _drop(self, shard: int, reason: str) -> None:
        self._held.pop(shard, None)
        SHARD_HANDOFFS.labels(reason).inc()
        await self._host.stop_shard(shard)

    async def _overdue_after_one_more_renewal(self) -> list[int]:
        """The shards past their renew deadline once a last renewal was tried. The deadline usually passes
        because this process stalled (a long collection, a burst of work), not because another replica took
        the shard: a lease renewed now at the epoch we hold was taken by nobody meanwhile (taking it bumps
        the epoch), so its actors may go on. Until then the guard refused their AWS mutations (the deadline
        had passed) and the store refuses any write whose fence no longer holds. Without this, a lone
        replica at 50,000 clusters that stalled past the deadline stopped and restarted every actor it ran,
        and the extra work stalled it again."""
        s = self.settings
        # Bounded well inside the gap between the deadline and the lease's expiry elsewhere: a shard that
        # is not renewed now is still stopped before another replica can take it.
        with anyio.move_on_after(min(s.retry_period, (s.lease_duration - s.renew_deadline) / 2)):
            try:
                await self._renew()
            except StoreError as exc:
                log.warning("last lease renewal failed", extra={"replica": self.id, "error": str(exc)})
        now = self._clock()
        return [shard for shard, h in self._held.items() if h.renewed + s.renew_deadline <= now]

    async def _watchdog(self) -> None:
        """Stop a shard's actors once its renew deadline passed without a successful renewal."""
        while True:
            now = self._clock()
            deadline = min(
                (h.renewed + self.settings.renew_deadline for h in self._held.values()), default=None
            )
            if deadline is not None and deadline <= now:
                overdue = await self._overdue_after_one_more_renewal()
                for shard in overdue:
                    LEASE_RENEWALS.labels("deadline_passed").inc()
                    log.error(
                        "renew deadline passed; stopping the shard",
                        extra={"replica": self.id, "shard": shard},
                    )
                # All at once: the other shards' actors must not run on past their deadline while one
                # shard's stop waits (their leases expire next, and their writes would be refused).
                await self._drop_all(overdue, "deadline")
                continue
            period = self.settings.retry_period
            wait = period if deadline is None else min(deadline - now, period)
            await anyio.sleep(max(wait, 0.01))
