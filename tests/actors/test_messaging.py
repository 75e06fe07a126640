from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from actors import (
    Actor,
    ActorNotRunning,
    ActorStopped,
    ActorSystem,
    AskTimeout,
    MailboxFull,
    Stop,
    Supervision,
    coalesce_key,
)

from .conftest import Fail, History, Note, Recorder, RecordingObserver, Refresh, Tick

pytestmark = pytest.mark.anyio

FAST = Supervision(backoff_base=0.001, backoff_max=0.004, max_restarts=50, within=10.0)


async def test_messages_are_handled_one_at_a_time_in_order() -> None:
    active = 0
    overlap = False

    class Slow(Actor[int, None]):
        def __init__(self) -> None:
            super().__init__(None)
            self.seen: list[int] = []

        async def handle(self, message: int) -> Any:
            nonlocal active, overlap
            active += 1
            overlap = overlap or active > 1
            await anyio.sleep(0)  # yield: a second concurrent handler would overlap here
            self.seen.append(message)
            active -= 1
            return len(self.seen)

    async with ActorSystem() as system:
        actor = system.spawn("slow", Slow())
        for i in range(200):
            actor.tell(i)
        assert await actor.ask(200) == 201
        assert actor.seen == list(range(201))
        assert not overlap


async def test_ask_returns_the_handler_result() -> None:
    async with ActorSystem() as system:
        actor = system.spawn("r", Recorder())
        assert await actor.ask(Note(21)) == 42


async def test_ask_propagates_the_handler_exception_and_the_actor_survives() -> None:
    async with ActorSystem(supervision=FAST) as system:
        actor = system.spawn("r", Recorder())
        with pytest.raises(RuntimeError, match="kaput"):
            await actor.ask(Fail("kaput"))
        # Restarted on the same object; keeps working.
        assert await actor.ask(Note(1)) == 2
        assert actor.restart_count == 1
        assert [str(e) for e in actor.restarts] == ["kaput"]


async def test_handler_timeout_error_is_not_mistaken_for_ask_timeout() -> None:
    class Raiser(Actor[str, None]):
        def __init__(self) -> None:
            super().__init__(None)

        async def handle(self, message: str) -> Any:
            raise TimeoutError("upstream timed out")

    async with ActorSystem(supervision=FAST) as system:
        actor = system.spawn("t", Raiser())
        with pytest.raises(TimeoutError) as info:
            await actor.ask("x")
        assert not isinstance(info.value, AskTimeout)


async def test_ask_timeout_is_precise_and_the_request_is_still_handled() -> None:
    release = anyio.Event()

    class Blocked(Actor[str, None]):
        def __init__(self) -> None:
            super().__init__(None)
            self.seen: list[str] = []

        async def handle(self, message: str) -> Any:
            if message == "block":
                await release.wait()
            self.seen.append(message)
            return message

    async with ActorSystem() as system:
        actor = system.spawn("b", Blocked())
        actor.tell("block")
        with pytest.raises(AskTimeout) as info:
            await actor.ask("late", timeout=0.01)
        assert info.value.actor == "b"
        assert info.value.message_type == "str"
        assert isinstance(info.value, TimeoutError)
        release.set()
        assert await actor.ask("after") == "after"
        assert actor.seen == ["block", "late", "after"]


async def test_mailbox_full_is_raised_at_capacity_and_nothing_is_lost() -> None:
    async with ActorSystem(mailbox_capacity=3) as system:
        actor = system.spawn("r", Recorder())
        for i in range(3):
            actor.tell(Note(i))
        with pytest.raises(MailboxFull) as info:
            actor.tell(Note(99))
        assert (info.value.actor, info.value.capacity) == ("r", 3)
        assert actor.mailbox_depth == 3
        await anyio.sleep(0.01)  # let it drain (ask would be refused while full)
        assert await actor.ask(History()) == [Note(0), Note(1), Note(2)]


async def test_per_spawn_capacity_overrides_system_default() -> None:
    async with ActorSystem(mailbox_capacity=100) as system:
        actor = system.spawn("r", Recorder(), mailbox_capacity=1)
        actor.tell(Note(1))
        with pytest.raises(MailboxFull):
            actor.tell(Note(2))


async def test_coalescing_messages_are_absorbed_and_never_count_twice() -> None:
    observer = RecordingObserver()
    async with ActorSystem(mailbox_capacity=3, observer=observer) as system:
        actor = system.spawn("r", Recorder())
        actor.tell(Tick())
        actor.tell(Note(1))
        for _ in range(10):
            actor.tell(Tick())  # absorbed by the queued Tick: no slot taken, no MailboxFull
        actor.tell(Refresh("a"))
        with pytest.raises(MailboxFull):
            actor.tell(Refresh("b"))  # a different key needs its own slot
        actor.tell(Refresh("a", attempt=7))  # same key: absorbed, the queued one wins
        assert actor.mailbox_depth == 3
        await anyio.sleep(0.01)
        assert await actor.ask(History()) == [Tick(), Note(1), Refresh("a")]
        # Once handled, a new Tick is queued again.
        actor.tell(Tick())
        assert (await actor.ask(History()))[-1] == Tick()
    assert observer.count("coalesced") == 11
    assert observer.depth == {"Recorder": 0}


async def test_asks_absorbed_by_a_queued_message_share_its_reply() -> None:
    class Counter(Actor[Tick | str, None]):
        def __init__(self) -> None:
            super().__init__(None)
            self.ticks = 0

        async def handle(self, message: Tick | str) -> Any:
            if isinstance(message, Tick):
                self.ticks += 1
            return self.ticks

    async with ActorSystem() as system:
        actor = system.spawn("c", Counter())
        results: list[int] = []

        async def ask_tick() -> None:
            results.append(await actor.ask(Tick()))

        actor.tell("hold")  # the ticks below queue behind this
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(ask_tick)
        assert results == [1] * 5
        assert actor.ticks == 1


def test_coalesce_key_convention() -> None:
    assert coalesce_key(Note(1)) is None
    assert coalesce_key(Tick()) is Tick
    assert coalesce_key(Refresh("x", 1)) == (Refresh, "x")
    assert coalesce_key(Refresh("x", 2)) == coalesce_key(Refresh("x", 1))
    assert coalesce_key(Stop()) is None

    @dataclass
    class NotQuite:
        coalesce: int = 1  # a truthy non-True field is not the flag

    assert coalesce_key(NotQuite()) is None


async def test_stop_message_drops_what_follows_and_fails_those_asks() -> None:
    async with ActorSystem() as system:
        actor = system.spawn("r", Recorder())
        actor.tell(Note(1))
        actor.tell(Stop())
        actor.tell(Note(2))  # queued after Stop: dropped
        with pytest.raises(ActorStopped):
            await actor.ask(Note(3))
        await actor.wait_stopped()
        assert actor.seen == [Note(1)]
        assert actor.stops == 1
        assert "r" not in system
        with pytest.raises(ActorStopped):
            actor.tell(Note(4))


async def test_ask_stop_answers_none_when_the_stop_begins() -> None:
    async with ActorSystem() as system:
        actor = system.spawn("r", Recorder())
        assert await actor.ask(Stop()) is None


async def test_tell_to_an_unspawned_actor_is_a_precise_error() -> None:
    actor = Recorder()
    with pytest.raises(ActorNotRunning) as info:
        actor.tell(Note(1))
    assert not isinstance(info.value, ActorStopped)
    with pytest.raises(ActorNotRunning):
        await actor.ask(Note(1))
    with pytest.raises(ActorNotRunning):
        actor.after(1.0, Note(1))
