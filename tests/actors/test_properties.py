"""Property tests: mailbox order, coalescing and capacity against a reference model."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import Actor, ActorSystem, MailboxFull, coalesce_key

from .conftest import Msg, Note, Recorder, RecordingObserver, Refresh, Tick

CAPACITY = 4

messages = st.one_of(
    st.builds(Note, st.integers(0, 1000)),
    st.just(Tick()),
    st.builds(Refresh, st.sampled_from(["a", "b", "c"]), st.integers(0, 3)),
)
# An operation is a message to tell, or None: let the actor drain its mailbox.
operations = st.lists(st.one_of(messages, st.none()), max_size=60)


def model(ops: list[Msg | None]) -> tuple[list[Msg], int, int]:
    """Expected (handled messages, coalesced count, MailboxFull count)."""
    queue: list[tuple[Msg, Hashable | None]] = []
    handled: list[Msg] = []
    coalesced = full = 0
    for op in ops:
        if op is None:
            handled.extend(m for m, _ in queue)
            queue.clear()
            continue
        key = coalesce_key(op)
        if key is not None and any(k == key for _, k in queue):
            coalesced += 1
        elif len(queue) >= CAPACITY:
            full += 1
        else:
            queue.append((op, key))
    handled.extend(m for m, _ in queue)
    return handled, coalesced, full


async def run(ops: list[Msg | None]) -> tuple[list[object], int, int, dict[str, int]]:
    observer = RecordingObserver()
    full = 0
    async with ActorSystem(mailbox_capacity=CAPACITY, observer=observer) as system:
        actor = system.spawn("r", Recorder())

        async def idle() -> None:
            # Handlers here never suspend: an empty mailbox means everything popped was handled.
            while actor.mailbox_depth:
                await anyio.sleep(0)

        for op in ops:
            if op is None:
                await idle()
                continue
            try:
                actor.tell(op)
            except MailboxFull:
                full += 1
        await idle()
        seen = list(actor.seen)
    return seen, observer.count("coalesced"), full, observer.depth


@settings(max_examples=150, deadline=None)
@given(operations)
def test_mailbox_matches_the_reference_model(ops: list[Msg | None]) -> None:
    seen, coalesced, full, depth = anyio.run(run, ops, backend="asyncio")
    assert (seen, coalesced, full) == model(ops)
    assert all(v == 0 for v in depth.values())


class Alarm(Actor[int, None]):
    def __init__(self) -> None:
        super().__init__(None)
        self.fired: list[int] = []

    async def handle(self, message: int) -> Any:
        self.fired.append(message)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 12), unique=True, max_size=8), st.data())
def test_timers_fire_in_deadline_order_and_cancelled_ones_never(
    delays: list[int], data: st.DataObject
) -> None:
    cancelled = set(data.draw(st.sets(st.sampled_from(delays))) if delays else set())

    async def scenario() -> list[int]:
        async with ActorSystem() as system:
            alarm = system.spawn("a", Alarm())
            timers = {d: alarm.after(d * 0.0005, d) for d in delays}
            for d in cancelled:
                assert timers[d].cancel()
            await anyio.sleep(0.02)
            return alarm.fired

    fired = anyio.run(scenario, backend="asyncio")
    assert fired == sorted(set(delays) - cancelled)
