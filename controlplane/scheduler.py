"""The scheduler actor: fires per ``eks-refresh-cron`` and spreads each round's sync ticks over the period.

Every cluster gets a stable offset in the round (``spread_offset``), so AWS sees an even rate instead of
a spike. One timer walks a sorted list of (due time, cluster), not one timer per cluster. At start an
initial round is spread over a short window, so a restarted service refreshes every cluster quickly.
The schedule is changed at run time with ``SettingChanged`` (validated; a bad value keeps the old one).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import msgspec

from actors import Actor, ActorError, Timer
from controlplane.cluster import SyncTick
from controlplane.metrics import SYNC_ROUND_CLUSTERS, SYNC_ROUND_SECONDS, SYNC_ROUNDS_OVERRUN, SYNC_TICKS
from controlplane.schedule import InvalidRefreshCronError, Schedule, parse_refresh_cron, spread_offset

log = logging.getLogger("controlplane.scheduler")

REFRESH_CRON_SETTING = "eks-refresh-cron"
SPREAD_FRACTION = 0.9
"""Ticks of a round are spread over this share of the period; the rest is slack for lag and the
refresh itself, so a healthy round finishes before the next one starts."""


class Fire(msgspec.Struct, frozen=True):
    """Start a round now (the cron fired, or the initial round)."""

    initial: bool = False
    coalesce: ClassVar[bool] = True


class Dispatch(msgspec.Struct, frozen=True):
    """Send the ticks of the current round that are due."""

    coalesce: ClassVar[bool] = True


class SettingChanged(msgspec.Struct, frozen=True):
    value: str


class Adopted(msgspec.Struct, frozen=True):
    """Clusters this replica just took over (a shard acquired from a replica that died or handed it
    over): refresh them soon, spread over the initial window, instead of at the next round."""

    names: tuple[str, ...]


SchedulerMessage = Fire | Dispatch | SettingChanged | Adopted


class RoundTracker:
    """Counts completions of the current round to measure its duration (fed by cluster actors)."""

    __slots__ = ("durations", "expected", "round_id", "seen", "started")

    def __init__(self) -> None:
        self.round_id = 0
        self.expected = 0
        self.seen = 0
        self.started = 0.0
        self.durations: list[float] = []

    def start(self, round_id: int, expected: int) -> None:
        if self.seen < self.expected:
            SYNC_ROUNDS_OVERRUN.inc()  # the previous round was still refreshing: the period is too short
        self.round_id, self.expected, self.seen, self.started = round_id, expected, 0, time.monotonic()
        SYNC_ROUND_CLUSTERS.set(expected)
        if expected == 0:
            self._done()

    def refreshed(self, _name: str, round_id: int) -> None:
        if round_id != self.round_id or round_id == 0 or self.seen >= self.expected:
            return
        self.seen += 1
        if self.seen == self.expected:
            self._done()

    def _done(self) -> None:
        elapsed = time.monotonic() - self.started
        SYNC_ROUND_SECONDS.observe(elapsed)
        self.durations.append(elapsed)
        del self.durations[:-100]


class SchedulerActor(Actor[SchedulerMessage, str]):
    kind = "scheduler"
    __slots__ = (
        "_cluster_names",
        "_dispatch_timer",
        "_due",
        "_fire_timer",
        "_fresh_for",
        "_initial_spread",
        "_next_round",
        "_send",
        "schedule",
        "tracker",
    )

    def __init__(
        self,
        schedule: Schedule,
        *,
        cluster_names: Callable[[], Iterable[str]],
        send: Callable[[str, SyncTick], bool],
        initial_spread: float,
        tracker: RoundTracker,
    ) -> None:
        super().__init__("running")
        self.schedule = schedule
        self._cluster_names = cluster_names
        self._send = send
        self._initial_spread = initial_spread
        self.tracker = tracker
        self._fresh_for = 0.0
        self._due: list[tuple[float, str, int]] = []
        """Ticks still to send this round, a heap: (loop time, cluster, round id; 0 for adopted clusters).

        A heap, not a sorted list cut at the front: at 50,000 clusters each dispatch copied the whole
        remaining list, and each adopted cluster was inserted in the middle of it."""
        self._next_round = 0
        self._fire_timer: Timer | None = None
        self._dispatch_timer: Timer | None = None

    async def on_start(self) -> None:
        self.tell(Fire(initial=True))

    async def on_restart(self, error: Exception) -> None:
        self._fire_timer = self._dispatch_timer = None
        self.tell(Fire(initial=True))

    async def handle(self, message: SchedulerMessage) -> Any:
        if isinstance(message, Fire):
            self._start_round(initial=message.initial)
        elif isinstance(message, Dispatch):
            self._dispatch()
        elif isinstance(message, Adopted):
            self._adopt(message.names)
        else:
            return self._change(message.value)
        return None

    def _change(self, value: str) -> str | None:
        try:
            schedule = parse_refresh_cron(value)
        except InvalidRefreshCronError as exc:
            log.warning("invalid eks-refresh-cron ignored", extra={"value": value, "error": str(exc)})
            return str(exc)
        if schedule != self.schedule:
            self.schedule = schedule
            log.info("refresh schedule changed", extra={"schedule": schedule.expression})
            self._arm_fire()
        return None

    def _arm_fire(self) -> None:
        if self._fire_timer is not None:
            self._fire_timer.cancel()
        now = dt.datetime.now(dt.UTC)
        delay = (self.schedule.next_fire(now) - now).total_seconds()
        self._fire_timer = self.after(max(delay, 0.0), Fire())

    def _start_round(self, *, initial: bool) -> None:
        now = dt.datetime.now(dt.UTC)
        period = self.schedule.period_at(now)
        spread = min(period * SPREAD_FRACTION, self._initial_spread) if initial else period * SPREAD_FRACTION
        loop_now = asyncio.get_running_loop().time()
        skipped = len(self._due)
        if skipped:
            SYNC_TICKS.labels("skipped_overrun").inc(skipped)
        self._next_round += 1
        round_id = self._next_round
        # The first round after a start checks in with every cluster, but only the ones not refreshed
        # within the period call AWS (the rest were refreshed by the previous run a moment ago).
        self._fresh_for = period if initial else 0.0
        due = sorted(
            (loop_now + (spread_offset(name, spread) if spread > 0 else 0.0), name, round_id)
            for name in self._cluster_names()
        )
        self._due = due
        self.tracker.start(self._next_round, len(due))
        self._arm_fire()
        self._dispatch()

    def _adopt(self, names: tuple[str, ...]) -> None:
        """Ticks for adopted clusters, spread like an initial round, outside round accounting (the
        round in progress was counted without them)."""
        if not names:
            return
        now = dt.datetime.now(dt.UTC)
        spread = min(self.schedule.period_at(now) * SPREAD_FRACTION, self._initial_spread)
        loop_now = asyncio.get_running_loop().time()
        for name in names:
            offset = spread_offset(name, spread) if spread > 0 else 0.0
            heapq.heappush(self._due, (loop_now + offset, name, 0))
        self._dispatch()

    def _dispatch(self) -> None:
        loop_now = asyncio.get_running_loop().time()
        due = self._due
        while due and due[0][0] <= loop_now:
            planned, name, round_id = heapq.heappop(due)
            try:
                fresh_for = self._fresh_for if round_id == self._next_round else 0.0
                sent = self._send(name, SyncTick(planned=planned, round_id=round_id, fresh_for=fresh_for))
            except ActorError:
                sent = False
            if not sent:
                SYNC_TICKS.labels("undeliverable").inc()
                self.tracker.refreshed(name, round_id)
        if self._dispatch_timer is not None:
            self._dispatch_timer.cancel()
            self._dispatch_timer = None
        if self._due:
            self._dispatch_timer = self.after(max(self._due[0][0] - loop_now, 0.0), Dispatch())
