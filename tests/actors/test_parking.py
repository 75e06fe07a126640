"""Idle actors park: with an empty mailbox an actor's task ends, and the next message, timer or stop starts
another. 50,000 idle actors then cost their own fields, not 50,000 waiting tasks the cyclic collector walks
on every full pass."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import anyio
import pytest

from actors import Actor, ActorStatus, ActorSystem

from .conftest import Fail, History, Note, Recorder

pytestmark = pytest.mark.anyio


def _actor_tasks() -> list[str]:
    return [n for t in anyio.get_running_tasks() if (n := t.name) and n.startswith("actor:")]


async def test_an_idle_actor_has_no_task_and_a_message_wakes_it() -> None:
    async with ActorSystem() as system:
        recorder = system.spawn("r", Recorder())
        await anyio.sleep(0.01)
        assert recorder.starts == 1
        assert _actor_tasks() == []
        assert recorder.status is ActorStatus.RUNNING
        assert await recorder.ask(Note(2)) == 4
        recorder.tell(Note(3))
        assert await recorder.ask(History()) == [Note(2), Note(3)]
        await anyio.sleep(0.01)
        assert _actor_tasks() == []
        assert recorder.starts == 1  # resumed, not restarted: on_start ran once
    assert recorder.stops == 1


async def test_stopping_a_parked_actor_runs_on_stop() -> None:
    async with ActorSystem() as system:
        recorder = system.spawn("r", Recorder())
        await anyio.sleep(0.01)
        assert _actor_tasks() == []
        await system.stop("r")
        assert recorder.stops == 1
        assert recorder.status is ActorStatus.STOPPED
        assert "r" not in system


async def test_a_parked_actor_is_restarted_after_a_failure_and_parks_again() -> None:
    async with ActorSystem() as system:
        recorder = system.spawn("r", Recorder())
        recorder.tell(Fail())
        with anyio.fail_after(5):
            while not recorder.restarts:
                await anyio.sleep(0.01)
        assert await recorder.ask(Note(1)) == 2
        await anyio.sleep(0.01)
        assert _actor_tasks() == []
        assert recorder.starts == 1 and len(recorder.restarts) == 1


class _Alarm(Actor[str, str]):
    """Arms a state timeout on start; records when it fires."""

    def __init__(self) -> None:
        super().__init__("waiting")
        self.fired = anyio.Event()

    async def on_start(self) -> None:
        self.state_timeout(0.05, "ring")

    async def handle(self, message: str) -> Any:
        self.fired.set()
        return message


async def test_a_timer_wakes_a_parked_actor() -> None:
    async with ActorSystem() as system:
        alarm = system.spawn("a", _Alarm())
        await anyio.sleep(0.01)
        assert _actor_tasks() == []
        with anyio.fail_after(5):
            await alarm.fired.wait()


async def test_a_parked_actor_is_released_by_reference_counting_alone() -> None:
    gc.disable()
    try:
        async with ActorSystem() as system:
            actor = system.spawn("r", Recorder())
            await actor.ask(Note(1))
            ref = weakref.ref(actor)
            del actor
            await system.stop("r")
        assert ref() is None  # no cycle kept it: the cyclic collector was off
    finally:
        gc.enable()


async def test_closing_the_system_finishes_parked_actors() -> None:
    recorders = []
    async with ActorSystem() as system:
        recorders = [system.spawn(f"r{i}", Recorder()) for i in range(5)]
        await anyio.sleep(0.01)
        assert _actor_tasks() == []
    assert all(r.status is ActorStatus.STOPPED and r.stops == 1 for r in recorders)


async def test_a_hard_stop_before_a_woken_task_runs_still_finishes_the_actor() -> None:
    async with ActorSystem() as system:
        recorder = system.spawn("r", Recorder())
        await anyio.sleep(0.01)
        assert _actor_tasks() == []
        recorder._request_stop(drain=False)  # wakes it: a task is started, not yet run
        recorder._cancel()  # the stop deadline, before that task's first step
        with anyio.fail_after(5):
            await recorder.wait_stopped()
        assert recorder.status is ActorStatus.STOPPED
        assert recorder.stops == 0  # cancelled at the deadline: on_stop is skipped, as for any actor
        assert "r" not in system
