from __future__ import annotations

import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from actors import Actor, ActorError, ActorStatus, ActorSystem, Supervision
from actors._supervision import allow_restart

from .conftest import Fail, History, Note, Recorder, RecordingObserver

pytestmark = pytest.mark.anyio


def test_backoff_doubles_from_base_and_caps_at_max() -> None:
    policy = Supervision(backoff_base=0.005, backoff_max=30.0)
    assert [policy.backoff(n) for n in range(1, 5)] == [0.005, 0.01, 0.02, 0.04]
    assert policy.backoff(13) == pytest.approx(20.48)  # 0.005 * 2**12
    assert policy.backoff(14) == 30.0  # 40.96 capped
    assert policy.backoff(10_000) == 30.0  # no overflow


@pytest.mark.parametrize(
    "kwargs",
    [
        {"backoff_base": -1.0},
        {"backoff_base": float("inf")},
        {"backoff_base": 1.0, "backoff_max": 0.5},
        {"max_restarts": -1},
        {"within": 0.0},
    ],
)
def test_invalid_policies_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Supervision(**kwargs)


def test_restart_intensity_window() -> None:
    policy = Supervision(max_restarts=2, within=10.0)
    history: deque[float] = deque()
    assert allow_restart(history, 0.0, policy)
    assert allow_restart(history, 1.0, policy)
    assert not allow_restart(history, 2.0, policy)  # third restart within 10 s
    assert allow_restart(history, 10.5, policy)  # the one at 0.0 left the window
    assert not allow_restart(history, 10.6, policy)
    assert allow_restart(deque(), 0.0, Supervision(max_restarts=None))
    assert not allow_restart(deque(), 0.0, Supervision(max_restarts=0))


@dataclass(frozen=True)
class Boom:
    pass


class Flaky(Actor[Boom | str, None]):
    """Fails on Boom; records the loop time of each failure and each restart."""

    def __init__(self) -> None:
        super().__init__(None)
        self.failed_at: list[float] = []
        self.restarted_at: list[float] = []
        self.handled: list[str] = []

    async def on_restart(self, error: Exception) -> None:
        self.restarted_at.append(anyio.current_time())

    async def handle(self, message: Boom | str) -> Any:
        if isinstance(message, Boom):
            self.failed_at.append(anyio.current_time())
            raise RuntimeError("boom")
        self.handled.append(message)
        return message


async def test_restarts_back_off_exponentially_and_success_resets_the_backoff() -> None:
    requested: list[float] = []

    class Recording(Supervision):
        def backoff(self, consecutive_failures: int) -> float:
            delay = super().backoff(consecutive_failures)
            requested.append(delay)
            return delay

    policy = Recording(backoff_base=0.004, backoff_max=0.016, max_restarts=None)
    async with ActorSystem(supervision=policy) as system:
        actor = system.spawn("f", Flaky())
        for _ in range(4):
            actor.tell(Boom())
        actor.tell("ok")
        actor.tell(Boom())
        assert await actor.ask("sync") == "sync"
        expected = [0.004, 0.008, 0.016, 0.016, 0.004]  # doubling, capped, reset by "ok"
        assert requested == expected
        # And the kernel really waited that long before each restart (never early; late is load).
        waits = [r - f for f, r in zip(actor.failed_at, actor.restarted_at, strict=True)]
        assert len(waits) == 5
        for wait, want in zip(waits, expected, strict=True):
            assert wait >= want - 0.001
        assert actor.restart_count == 5
        assert actor.handled == ["ok", "sync"]


async def test_mailbox_survives_a_restart_but_the_failed_message_is_not_redelivered() -> None:
    async with ActorSystem(supervision=Supervision(backoff_base=0.001, backoff_max=0.001)) as system:
        actor = system.spawn("r", Recorder())
        actor.tell(Fail())
        actor.tell(Note(1))
        actor.tell(Note(2))
        assert await actor.ask(History()) == [Fail(), Note(1), Note(2)]
        assert actor.starts == 1  # Recorder overrides on_restart, so on_start ran once
        assert len(actor.restarts) == 1


async def test_exceeding_restart_intensity_stops_only_that_actor() -> None:
    observer = RecordingObserver()
    policy = Supervision(backoff_base=0.001, backoff_max=0.002, max_restarts=3, within=10.0)
    async with ActorSystem(supervision=policy, observer=observer) as system:
        bad = system.spawn("bad", Recorder())
        good = system.spawn("good", Recorder())
        for _ in range(6):
            bad.tell(Fail())
        await bad.wait_stopped()
        assert bad.status is ActorStatus.STOPPED
        assert "bad" not in system
        assert len(bad.seen) == 4  # 3 restarts allowed; the 4th failure gives up
        assert bad.stops == 1  # on_stop ran: giving up is a graceful stop
        assert await good.ask(Note(5)) == 10
        # The name is free again: the application may respawn.
        system.spawn("bad", Recorder())
    assert observer.count("restarted") == 3
    assert [e for e in observer.events if e[0] == "gave_up"] == [("gave_up", "Recorder", "bad", "boom")]


async def test_zero_restarts_means_the_first_failure_stops_the_actor() -> None:
    async with ActorSystem(supervision=Supervision(max_restarts=0)) as system:
        actor = system.spawn("r", Recorder())
        actor.tell(Fail())
        await actor.wait_stopped()
        assert actor.restart_count == 0


async def test_failing_on_start_is_supervised_and_default_on_restart_reruns_on_start() -> None:
    class Starter(Actor[str, None]):
        def __init__(self) -> None:
            super().__init__(None)
            self.attempts = 0

        async def on_start(self) -> None:
            self.attempts += 1
            if self.attempts < 3:
                raise OSError("store not ready")

        async def handle(self, message: str) -> Any:
            return self.attempts

    async with ActorSystem(supervision=Supervision(backoff_base=0.001, backoff_max=0.002)) as system:
        actor = system.spawn("s", Starter())
        assert await actor.ask("x") == 3  # queued before the successful start, handled after
        assert actor.restart_count == 2


async def test_handler_failure_is_logged_with_actor_name_and_without_message_contents(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @dataclass(frozen=True)
    class Login:
        token: str

    class Strict(Actor[Login, None]):
        def __init__(self) -> None:
            super().__init__(None)

        async def handle(self, message: Login) -> Any:
            raise PermissionError("denied")

    caplog.set_level(logging.ERROR, logger="actors")
    async with ActorSystem(supervision=Supervision(backoff_base=0.001, backoff_max=0.001)) as system:
        actor = system.spawn("cluster-7", Strict())
        with pytest.raises(PermissionError):
            await actor.ask(Login(token="s3cr3t-value"))
    records = [r for r in caplog.records if getattr(r, "actor", None) == "cluster-7"]
    assert records, caplog.text
    record = records[0]
    assert record.__dict__["actor_kind"] == "Strict"
    assert record.__dict__["message_type"] == "Login"
    assert record.exc_info is not None and isinstance(record.exc_info[1], PermissionError)
    assert "cluster-7" in record.getMessage()
    assert "s3cr3t-value" not in caplog.text


async def test_stop_interrupts_a_long_backoff() -> None:
    async with ActorSystem(supervision=Supervision(backoff_base=60.0, backoff_max=60.0)) as system:
        actor = system.spawn("r", Recorder())
        actor.tell(Fail())
        await anyio.sleep(0.01)
        assert actor.status is ActorStatus.RESTARTING
        actor.tell(Note(1))  # still accepted while restarting
        with anyio.fail_after(1.0):
            await system.stop("r", grace=5.0)
        assert actor.stops == 1  # graceful: on_stop ran, no hard cancel needed


async def test_a_failing_actor_never_takes_the_system_down() -> None:
    policy = Supervision(backoff_base=0.0, backoff_max=0.0, max_restarts=None)
    async with ActorSystem(supervision=policy) as system:
        bad = system.spawn("bad", Recorder())
        good = system.spawn("good", Recorder())
        for i in range(100):
            bad.tell(Fail())
            good.tell(Note(i))
        assert len(await good.ask(History())) == 100
        await bad.ask(History())
        assert bad.restart_count == 100


# --- the kernel's private state cannot be shadowed by a subclass (issue 17) ---------------------------


@pytest.mark.parametrize("name", ["_restart_streak", "_status", "_mailbox", "_timers", "_finish"])
def test_a_subclass_cannot_redefine_kernel_private_names(name: str) -> None:
    # Today's defect: ClusterActor redeclared the kernel's failure counter in its __slots__, so the
    # kernel reset the cluster's error count after every message and its backoff never grew.
    with pytest.raises(TypeError, match=f"redefines {name} of actors.Actor"):
        type("Shadowing", (Actor,), {"__slots__": (name,)})
    with pytest.raises(TypeError, match=name):
        type("ShadowingMethod", (Actor,), {name: lambda self: None})


def test_subclass_slots_and_hooks_with_their_own_names_are_fine() -> None:
    cls = type("Fine", (Actor,), {"__slots__": ("_errors", "cluster"), "handle": Actor.handle})
    assert cls.kind == "Fine"


class CountsItsOwnErrors(Actor[Boom | str, None]):
    """Catches its expected errors itself (like the cluster actor) and keeps its own counter."""

    __slots__ = ("errors",)

    def __init__(self) -> None:
        super().__init__(None)
        self.errors = 0

    async def handle(self, message: Boom | str) -> Any:
        if isinstance(message, Boom):
            self.errors += 1  # handled: not a crash
            return self.errors
        raise RuntimeError(message)


async def test_a_subclass_counter_is_independent_of_the_restart_streak() -> None:
    policy = Supervision(backoff_base=0.001, backoff_max=1.0, max_restarts=None)
    async with ActorSystem(supervision=policy) as system:
        actor = system.spawn("own-counter", CountsItsOwnErrors())
        for expected in range(1, 4):
            assert await actor.ask(Boom()) == expected
        assert actor._restart_streak == 0
        for _ in range(3):
            with pytest.raises(RuntimeError):
                await actor.ask("crash")
        assert actor.errors == 3  # crashes did not touch the subclass's counter
        assert await actor.ask(Boom()) == 4
        assert actor._restart_streak == 0  # a handled message resets the streak, only the streak


class AlwaysFailing(Actor[str, None]):
    """Fails on every message (``mode="handle"``), or in every on_restart too (``mode="restart"``),
    like a cluster actor whose every pass hits the same bug."""

    def __init__(self, mode: str) -> None:
        super().__init__(None)
        self.mode = mode
        self.calls = 0
        self.restarts = 0
        self.gave_up: list[str] = []
        self.stops = 0

    async def on_restart(self, error: Exception) -> None:
        self.restarts += 1
        self.tell("retry")  # like the cluster actor: a restart asks for a new pass at once
        if self.mode == "restart":
            raise ValueError("an AWS scope needs a region")

    async def on_give_up(self, error: Exception) -> None:
        self.gave_up.append(str(error))

    async def on_stop(self) -> None:
        self.stops += 1

    async def handle(self, message: str) -> Any:
        self.calls += 1
        if message == "fine":
            return None  # a message that succeeds between failures (a skipped sync tick)
        raise ValueError("an AWS scope needs a region")


@pytest.mark.parametrize("mode", ["handle", "restart", "interleaved"])
async def test_an_actor_failing_on_every_message_costs_bounded_work_and_log_lines(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="actors")
    policy = Supervision(backoff_base=0.0001, backoff_max=0.001, max_restarts=20, within=3600.0)
    async with ActorSystem(supervision=policy) as system:
        actor = system.spawn("stuck", AlwaysFailing("handle" if mode == "interleaved" else mode))
        # A flood, for as long as the actor lives: thousands of messages, none of which must buy a
        # restart beyond the intensity limit (a successful one resets the backoff, not the count).
        sent = 0
        while actor.status is not ActorStatus.STOPPED and sent < 50_000:
            if actor.mailbox_depth >= 100:
                await anyio.sleep(0.0005)  # a steady stream, not a full mailbox
                continue
            with contextlib.suppress(ActorError):
                actor.tell("fine" if mode == "interleaved" and sent % 2 else "work")
            sent += 1
        await actor.wait_stopped()
    assert sent >= 100
    assert actor.restarts == 20  # the intensity limit, whatever failed and whatever came between
    failures = actor.calls if mode != "restart" else actor.restarts + 1
    assert failures <= 21 + (actor.calls if mode == "interleaved" else 0)
    assert actor.gave_up == ["an AWS scope needs a region"] and actor.stops == 1
    lines = [r for r in caplog.records if r.name == "actors"]
    assert len(lines) <= 21 + 1, len(lines)  # one line per failure, one for giving up
    assert sum("stopping it" in r.getMessage() for r in lines) == 1


async def test_on_give_up_raising_is_logged_and_the_actor_still_stops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(AlwaysFailing):
        async def on_give_up(self, error: Exception) -> None:
            raise RuntimeError("cannot record")

    async with ActorSystem(supervision=Supervision(max_restarts=0)) as system:
        actor = system.spawn("b", Broken("handle"))
        actor.tell("work")
        await actor.wait_stopped()
    assert actor.stops == 1
    assert any("on_give_up raised" in r.getMessage() for r in caplog.records)
