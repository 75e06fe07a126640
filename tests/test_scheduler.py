"""The scheduler actor: spread rounds, runtime cron changes, round accounting and tick metrics."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from actors import ActorSystem
from controlplane.cluster import SyncTick
from controlplane.metrics import REGISTRY
from controlplane.schedule import parse_refresh_cron
from controlplane.scheduler import Adopted, RoundTracker, SchedulerActor, SettingChanged

pytestmark = pytest.mark.anyio

NAMES = [f"cluster-{i:04d}" for i in range(400)]


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_initial_round_spreads_every_cluster_over_the_window() -> None:
    got: list[tuple[float, str, SyncTick]] = []
    loop = asyncio.get_running_loop()

    def send(name: str, tick: SyncTick) -> bool:
        got.append((loop.time(), name, tick))
        return True

    tracker = RoundTracker()
    async with ActorSystem() as system:
        start = loop.time()
        system.spawn(
            "scheduler",
            SchedulerActor(
                parse_refresh_cron("@every 1h"),
                cluster_names=lambda: NAMES,
                send=send,
                initial_spread=0.5,
                tracker=tracker,
            ),
        )
        with anyio.fail_after(5):
            while len(got) < len(NAMES):
                await anyio.sleep(0.01)
    assert sorted(name for _, name, _ in got) == NAMES
    planned = [tick.planned - start for _, _, tick in got]
    assert planned == sorted(planned)  # dispatched in planned order
    assert min(planned) >= 0 and max(planned) < 0.5 + 0.05
    quarters = [sum(1 for p in planned if q * 0.125 <= p < (q + 1) * 0.125) for q in range(4)]
    assert all(60 <= n <= 140 for n in quarters), quarters  # evenly spread, not a spike
    assert all(sent >= tick.planned - 0.001 for sent, _, tick in got)  # never early
    assert {tick.round_id for _, _, tick in got} == {1}


async def test_cron_change_applies_without_restart_and_bad_values_keep_the_old() -> None:
    sent: list[SyncTick] = []
    tracker = RoundTracker()
    async with ActorSystem() as system:
        actor = system.spawn(
            "scheduler",
            SchedulerActor(
                parse_refresh_cron("@every 1h"),
                cluster_names=lambda: ["a"],
                send=lambda _n, t: sent.append(t) is None,
                initial_spread=0.0,
                tracker=tracker,
            ),
        )
        error = await actor.ask(SettingChanged("every minute"))
        assert error is not None and "invalid eks-refresh-cron" in error
        assert actor.schedule.expression == "@every 1h"
        assert await actor.ask(SettingChanged("@every 1s")) is None
        assert actor.schedule.expression == "@every 1s"
        with anyio.fail_after(5):
            while len({t.round_id for t in sent}) < 2:  # the initial round, then the 1 s schedule
                await anyio.sleep(0.02)


async def test_round_tracker_measures_completed_rounds() -> None:
    tracker = RoundTracker()
    before = sample("controlplane_sync_round_seconds_count")
    tracker.start(7, 3)
    for name in ("a", "b", "b-stale"):
        tracker.refreshed(name, 6 if name == "b-stale" else 7)
    assert sample("controlplane_sync_round_seconds_count") == before
    tracker.refreshed("c", 7)
    assert sample("controlplane_sync_round_seconds_count") == before + 1
    assert len(tracker.durations) >= 1


async def test_adopted_clusters_are_ticked_soon_outside_round_accounting() -> None:
    got: list[tuple[str, SyncTick]] = []
    owned = NAMES[:10]

    def send(name: str, tick: SyncTick) -> bool:
        got.append((name, tick))
        return True

    tracker = RoundTracker()
    async with ActorSystem() as system:
        scheduler = system.spawn(
            "scheduler",
            SchedulerActor(
                parse_refresh_cron("@every 1h"),
                cluster_names=lambda: owned,
                send=send,
                initial_spread=0.2,
                tracker=tracker,
            ),
        )
        with anyio.fail_after(5):
            while len(got) < len(owned):
                await anyio.sleep(0.01)
        assert (tracker.seen, tracker.expected) == (0, len(owned))  # the actors count completions
        taken_over = tuple(NAMES[10:60])
        loop = asyncio.get_running_loop()
        began = loop.time()
        scheduler.tell(Adopted(taken_over))
        with anyio.fail_after(5):  # not at the next round, an hour away: within the initial spread
            while len(got) < len(owned) + len(taken_over):
                await anyio.sleep(0.01)
        adopted = got[len(owned) :]
        assert sorted(name for name, _ in adopted) == sorted(taken_over)
        assert all(tick.round_id == 0 for _, tick in adopted)  # outside the round in progress
        assert max(tick.planned for _, tick in adopted) - began < 0.2 + 0.05
        assert tracker.expected == len(owned)
