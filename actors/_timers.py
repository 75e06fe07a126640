"""Self-addressed timers: a ``loop.call_later`` handle that queues a message into its actor's mailbox.

No task per timer: 10,000 actors each waiting on a timer cost 10,000 small handles in the event
loop's heap. A timer is pending from ``after()`` until its message is *handled*: cancelling it after
it fired but before the handler took the message still prevents delivery.
"""

from __future__ import annotations

import asyncio
from typing import Final, Protocol

_ARMED: Final = 0  # waiting in the event loop
_QUEUED: Final = 1  # fired, message in the mailbox
_DONE: Final = 2  # message handled, absorbed by a coalescing twin, or handed over to a tell
_CANCELLED: Final = 3


class TimerOwner(Protocol):
    """The actor side of a timer (``TimedActor``, a layer of ``Actor``; this bottom layer needs no more)."""

    @property
    def name(self) -> str: ...

    def _forget_timer(self, timer: Timer) -> None: ...

    def _deliver_timer(self, timer: Timer, message: object) -> None: ...


class Timer:
    """A cancellable handle to a pending self-addressed message. Created by ``Actor.after``."""

    __slots__ = ("_actor", "_handle", "_message", "_state", "state_bound")

    def __init__(self, actor: TimerOwner, message: object, state_bound: bool) -> None:
        self._actor = actor
        self._message = message
        self._handle: asyncio.TimerHandle | None = None
        self._state = _ARMED
        self.state_bound: Final = state_bound
        """Cancelled automatically when the actor's state changes."""

    @property
    def pending(self) -> bool:
        """True until the message is handled or the timer is cancelled."""
        return self._state < _DONE

    @property
    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def cancel(self) -> bool:
        """Prevent delivery. Returns True if that changed anything (the message was not handled yet)."""
        if self._state >= _DONE:
            return False
        self._state = _CANCELLED
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._actor._forget_timer(self)
        return True

    def _fire(self) -> None:
        self._handle = None
        self._state = _QUEUED
        self._actor._deliver_timer(self, self._message)

    def _finish(self) -> None:
        """The message was handled, or its delivery was taken over by an identical queued message."""
        self._state = _DONE
        self._actor._forget_timer(self)

    def __repr__(self) -> str:
        states = ("armed", "queued", "done", "cancelled")
        return f"<Timer {type(self._message).__name__} {states[self._state]} actor={self._actor.name!r}>"
