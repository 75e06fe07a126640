from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from actors import Actor, ActorSystem, Supervision, Timer

from .conftest import Tick

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Fire:
    label: str


@dataclass(frozen=True)
class Go:
    state: str


@dataclass(frozen=True)
class Arm:
    delay: float
    label: str
    state_bound: bool = False


@dataclass(frozen=True)
class ArmStateTimeout:
    delay: float
    label: str


@dataclass(frozen=True)
class Crash:
    pass


@dataclass(frozen=True)
class CancelStateTimeout:
    pass


Msg = Fire | Go | Arm | ArmStateTimeout | CancelStateTimeout | Crash | Tick | str


class Clock(Actor[Msg, str]):
    def __init__(self) -> None:
        super().__init__("a")
        self.fired: list[str] = []
        self.timers: dict[str, Timer] = {}

    async def handle(self, message: Msg) -> Any:
        match message:
            case Fire(label):
                self.fired.append(label)
            case Tick():
                self.fired.append("tick")
            case Go(state):
                self.transition(state)
            case Arm(delay, label, state_bound):
                self.timers[label] = self.after(delay, Fire(label), state_bound=state_bound)
            case ArmStateTimeout(delay, label):
                self.timers[label] = self.state_timeout(delay, Fire(label))
            case CancelStateTimeout():
                return self.cancel_state_timeout()
            case Crash():
                raise RuntimeError("crash")
        return None


async def test_timers_fire_in_deadline_order() -> None:
    async with ActorSystem() as system:
        clock = system.spawn("c", Clock())
        for delay, label in [(0.03, "third"), (0.01, "first"), (0.02, "second"), (0.0, "zeroth")]:
            await clock.ask(Arm(delay, label))
        await anyio.sleep(0.06)
        assert clock.fired == ["zeroth", "first", "second", "third"]
        assert not any(t.pending for t in clock.timers.values())


async def test_cancelled_timer_never_delivers() -> None:
    async with ActorSystem() as system:
        clock = system.spawn("c", Clock())
        await clock.ask(Arm(0.01, "x"))
        await clock.ask(Arm(0.01, "y"))
        assert clock.timers["x"].cancel() is True
        assert clock.timers["x"].cancel() is False  # second cancel: nothing left to prevent
        await anyio.sleep(0.03)
        assert clock.fired == ["y"]
        assert clock.timers["x"].cancelled


async def test_cancel_after_firing_but_before_handling_still_prevents_delivery() -> None:
    release = anyio.Event()

    class Busy(Clock):
        async def handle(self, message: Msg) -> Any:
            if message == "block":
                await release.wait()
                return None
            return await super().handle(message)

    async with ActorSystem() as system:
        clock = system.spawn("c", Busy())
        await clock.ask(Arm(0.0, "x"))
        clock.tell("block")
        await anyio.sleep(0.01)  # the timer fires while the handler is blocked
        assert clock.mailbox_depth == 1
        assert clock.timers["x"].pending and clock.timers["x"].cancel()
        release.set()
        await clock.ask("sync")
        assert clock.fired == []


async def test_timers_die_when_the_actor_stops() -> None:
    async with ActorSystem() as system:
        clock = system.spawn("c", Clock())
        await clock.ask(Arm(0.01, "x"))
        timer = clock.timers["x"]
        await system.stop("c")
        assert timer.cancelled
        await anyio.sleep(0.02)
        assert clock.fired == []


async def test_state_bound_timers_are_cancelled_on_state_change_only() -> None:
    async with ActorSystem() as system:
        clock = system.spawn("c", Clock())
        await clock.ask(Arm(0.01, "bound", state_bound=True))
        await clock.ask(Arm(0.01, "free"))
        await clock.ask(Go("a"))  # same state: not a change
        assert clock.timers["bound"].pending
        await clock.ask(Go("b"))
        assert clock.timers["bound"].cancelled
        await anyio.sleep(0.03)
        assert clock.fired == ["free"]
        assert clock.state == "b"


async def test_state_timeout_is_single_and_replaced() -> None:
    async with ActorSystem() as system:
        clock = system.spawn("c", Clock())
        await clock.ask(ArmStateTimeout(0.01, "first"))
        await clock.ask(ArmStateTimeout(0.01, "second"))
        assert clock.timers["first"].cancelled
        await anyio.sleep(0.03)
        assert clock.fired == ["second"]
        await clock.ask(ArmStateTimeout(0.01, "third"))
        await clock.ask(Go("other"))
        await anyio.sleep(0.03)
        assert clock.fired == ["second"]


async def test_cancel_state_timeout() -> None:
    async with ActorSystem() as system:
        clock = system.spawn("c", Clock())
        assert await clock.ask(CancelStateTimeout()) is False
        await clock.ask(ArmStateTimeout(0.01, "x"))
        assert clock.state_timeout_pending
        assert await clock.ask(CancelStateTimeout()) is True
        assert not clock.state_timeout_pending and clock.timers["x"].cancelled
        await anyio.sleep(0.03)
        assert clock.fired == []


async def test_state_change_cancels_a_fired_but_unhandled_state_timer() -> None:
    release = anyio.Event()

    class Holder(Clock):
        async def handle(self, message: Msg) -> Any:
            if message == "block":
                await release.wait()
                self.transition("z")
                return None
            return await super().handle(message)

    async with ActorSystem() as system:
        holder = system.spawn("h", Holder())
        await holder.ask(ArmStateTimeout(0.0, "stale"))
        holder.tell("block")
        await anyio.sleep(0.01)  # the timer fired; its message waits behind "block"
        assert holder.mailbox_depth == 1
        release.set()  # "block" changes state before the timer message is taken
        await holder.ask("sync")
        assert holder.fired == []
        assert holder.timers["stale"].cancelled


async def test_timers_of_a_failed_incarnation_are_cancelled_on_restart() -> None:
    async with ActorSystem(supervision=Supervision(backoff_base=0.001, backoff_max=0.001)) as system:
        clock = system.spawn("c", Clock())
        await clock.ask(Arm(0.02, "old"))
        clock.tell(Crash())
        await clock.ask("sync")
        assert clock.restart_count == 1
        assert clock.timers["old"].cancelled
        await anyio.sleep(0.03)
        assert clock.fired == []


async def test_coalescing_timer_messages_and_a_tell_take_over_a_queued_timer_message() -> None:
    release = anyio.Event()

    class Busy(Clock):
        async def handle(self, message: Msg) -> Any:
            if message == "block":
                await release.wait()
                return None
            return await super().handle(message)

    async with ActorSystem() as system:
        clock = system.spawn("c", Busy())
        t1 = clock.after(0.0, Tick())
        t2 = clock.after(0.0, Tick())
        clock.tell("block")
        await anyio.sleep(0.01)
        # One Tick queued (from a timer), the other absorbed.
        assert clock.mailbox_depth == 1
        clock.tell(Tick())  # absorbed, and the queued Tick now stands for this tell too
        assert not t1.cancel() and not t2.cancel()  # cancelling cannot drop the told Tick
        release.set()
        await clock.ask("sync")
        assert clock.fired == ["tick"]


async def test_negative_delay_is_rejected() -> None:
    async with ActorSystem() as system:
        clock = system.spawn("c", Clock())
        with pytest.raises(ValueError, match="delay"):
            clock.after(-1.0, Fire("x"))
        with pytest.raises(ValueError, match="delay"):
            clock.after(float("nan"), Fire("x"))
