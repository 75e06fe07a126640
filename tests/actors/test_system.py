from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from actors import (
    Actor,
    ActorError,
    ActorNotFound,
    ActorNotRunning,
    ActorStatus,
    ActorStopped,
    ActorSystem,
    DuplicateActor,
    SystemStateError,
    SystemStatus,
)

from .conftest import History, Note, Recorder, RecordingObserver

pytestmark = pytest.mark.anyio


class Sleeper(Actor[float | str, None]):
    """Sleeps ``message`` seconds per float message; records what it finished."""

    def __init__(self) -> None:
        super().__init__(None)
        self.done: list[float | str] = []
        self.stopped = False
        self.finished = 0

    async def on_stop(self) -> None:
        self.stopped = True

    def on_finish(self) -> None:
        self.finished += 1

    async def handle(self, message: float | str) -> Any:
        if isinstance(message, float):
            await anyio.sleep(message)
        self.done.append(message)
        return message


async def test_lifecycle_misuse_is_a_precise_error() -> None:
    system = ActorSystem()
    assert system.status.value == "new"
    with pytest.raises(SystemStateError, match=r"spawn 'a'.*new"):
        system.spawn("a", Recorder())
    with pytest.raises(SystemStateError):
        await system.stop("a")
    with pytest.raises(SystemStateError):
        await system.stop_all()
    async with system:
        assert system.status.value == "open"
        with pytest.raises(SystemStateError, match="open"):
            await system.__aenter__()
    assert system.status is SystemStatus.CLOSED
    with pytest.raises(SystemStateError, match="closed"):
        system.spawn("a", Recorder())
    with pytest.raises(SystemStateError):
        await system.stop_all()
    with pytest.raises(SystemStateError, match="closed"):
        async with system:
            pass


async def test_spawn_duplicate_name_and_lookup() -> None:
    async with ActorSystem() as system:
        first = system.spawn("a", Recorder())
        with pytest.raises(DuplicateActor) as info:
            system.spawn("a", Recorder())
        assert info.value.name == "a"
        assert system.get("a") is first
        assert system.get("a", Recorder) is first
        with pytest.raises(TypeError):
            system.get("a", Sleeper)
        assert "a" in system and "b" not in system
        with pytest.raises(ActorNotFound):
            system.get("b")
        with pytest.raises(LookupError):
            await system.stop("b")
        with pytest.raises(ValueError):
            system.spawn("", Recorder())
        assert list(system.names()) == ["a"] and len(system) == 1
        await system.stop("a")
        assert "a" not in system
        second = system.spawn("a", Recorder())  # the name is free once stopped
        assert second is not first


async def test_an_actor_object_is_spawned_once_and_must_initialise_its_base() -> None:
    class Forgetful(Actor[str, None]):
        def __init__(self) -> None:  # no super().__init__
            pass

        async def handle(self, message: str) -> Any:
            return None

    async with ActorSystem() as system:
        actor = system.spawn("a", Recorder())
        with pytest.raises(ActorError, match="already spawned"):
            system.spawn("b", actor)
        with pytest.raises(TypeError, match="super"):
            system.spawn("c", Forgetful())
        assert "b" not in system and "c" not in system
    with pytest.raises(ActorNotRunning):
        await Recorder().wait_stopped()


async def test_stop_finishes_the_message_in_hand_and_drops_the_rest() -> None:
    async with ActorSystem() as system:
        actor = system.spawn("s", Sleeper())
        actor.tell(0.02)
        await anyio.sleep(0.005)  # now handling the 0.02
        actor.tell("queued")
        results: list[BaseException] = []

        async def ask_queued() -> None:
            try:
                await actor.ask("asked")
            except ActorStopped as exc:
                results.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask_queued)
            await anyio.sleep(0)
            await system.stop("s")
        assert actor.done == [0.02]
        assert actor.stopped
        assert len(results) == 1
        with pytest.raises(ActorStopped):
            actor.tell("late")


async def test_stop_with_drain_handles_everything_queued() -> None:
    async with ActorSystem() as system:
        actor = system.spawn("s", Sleeper())
        for i in range(5):
            actor.tell(0.001 * i)
        await system.stop("s", drain=True)
        assert actor.done == [0.0, 0.001, 0.002, 0.003, 0.004]
        assert actor.stopped
        assert actor.finished == 1


async def test_stop_cancels_after_the_grace_period_and_skips_on_stop() -> None:
    async with ActorSystem() as system:
        actor = system.spawn("s", Sleeper())
        await anyio.sleep(0)

        async def ask_forever() -> BaseException | None:
            try:
                await actor.ask(3600.0, timeout=10.0)
            except ActorStopped as exc:
                return exc
            return None

        outcome: list[BaseException | None] = []
        started = time.monotonic()
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                outcome.append(await ask_forever())

            tg.start_soon(run)
            await anyio.sleep(0.005)
            await system.stop("s", grace=0.02)
        elapsed = time.monotonic() - started
        assert 0.02 <= elapsed < 1.0
        assert actor.status is ActorStatus.STOPPED
        assert not actor.stopped  # cancelled: on_stop skipped
        assert actor.finished == 1  # but on_finish ran, exactly once
        assert isinstance(outcome[0], ActorStopped)  # the asker of the message in hand is answered


async def test_close_stops_everything_gracefully_and_leaves_no_tasks() -> None:
    observer = RecordingObserver()
    before = len(anyio.get_running_tasks())
    async with ActorSystem(observer=observer, stop_timeout=0.2) as system:
        sleepers = [system.spawn(f"s{i}", Sleeper()) for i in range(3)]
        stuck = system.spawn("stuck", Sleeper())
        stuck.tell(3600.0)
        recorder = system.spawn("r", Recorder())
        recorder.tell(Note(1))
        await anyio.sleep(0.01)
        # Idle actors park without a task; only the one still in its handler has one.
        running = [t.name for t in anyio.get_running_tasks()]
        assert running.count("actor:stuck") == 1
        assert len(running) == before + 1
    assert system.status is SystemStatus.CLOSED
    assert len(system) == 0
    assert all(s.stopped for s in sleepers)
    assert not stuck.stopped and stuck.status is ActorStatus.STOPPED
    assert recorder.stops == 1
    assert len(anyio.get_running_tasks()) == before
    assert observer.count("started") == observer.count("stopped") == 5
    assert observer.depth == {"Sleeper": 0, "Recorder": 0}


async def test_an_error_in_the_body_still_stops_actors_and_propagates() -> None:
    recorder = Recorder()
    with pytest.raises(KeyError):
        async with ActorSystem() as system:
            system.spawn("r", recorder)
            await recorder.ask(History())
            raise KeyError("body")
    assert recorder.status is ActorStatus.STOPPED
    assert recorder.stops == 1


async def test_outer_cancellation_tears_the_system_down() -> None:
    recorder = Recorder()
    with anyio.move_on_after(0.02):
        async with ActorSystem() as system:
            system.spawn("r", recorder)
            await anyio.sleep(3600)
    assert recorder.status is ActorStatus.STOPPED
    assert system.status is SystemStatus.CLOSED


async def test_stop_before_the_actor_task_ran() -> None:
    async with ActorSystem() as system:
        actor = system.spawn("r", Recorder())
        actor.tell(Note(1))
        await system.stop("r", drain=True)
        assert actor.seen == [Note(1)]
        # White-box: the hard-cancel path for an actor whose task has not taken its first step
        # (reachable when the grace period ends before the loop ran the task).
        other = system.spawn("q", Recorder())
        other.tell(Note(2))
        other._cancel()
        assert other.status is ActorStatus.STOPPED and "q" not in system
        await anyio.sleep(0.01)  # the task runs now and must do nothing
        assert other.starts == 0 and other.stops == 0 and other.seen == []


class Idle(Actor[str, int]):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(0)

    async def on_start(self) -> None:
        self.after(3600.0, "never")

    async def handle(self, message: str) -> Any:
        return message


async def test_ten_thousand_actors_spawn_and_stop_quickly() -> None:
    n = 10_000
    # CPU time, not wall time: the assertion is about the kernel's cost, not the machine's load.
    started = time.process_time()
    async with ActorSystem() as system:
        actors = [system.spawn(f"a{i}", Idle()) for i in range(n)]
        assert len(system) == n
        assert await actors[-1].ask("ping") == "ping"
        await anyio.sleep(0.01)
        await system.stop_all(grace=5.0)
        assert len(system) == 0
    assert all(a.status is ActorStatus.STOPPED for a in actors)
    assert time.process_time() - started < 5.0


async def test_stop_many_stops_only_the_named_actors() -> None:
    async with ActorSystem() as system:
        for name in ("a", "b", "c"):
            system.spawn(name, Recorder())
        await system.stop_many(["a", "c", "unknown"])
        assert sorted(system.names()) == ["b"]
        await system.stop_many([])
        assert "b" in system
