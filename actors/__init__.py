"""A small actor kernel on asyncio + anyio: mailboxes, ask/tell, timers, states and supervision.

Model. An actor is an object with a bounded FIFO mailbox and, while it has work, one asyncio task; its
``handle`` coroutine receives one message at a time, in order, and runs to completion before the next.
An idle actor parks: with its mailbox empty its task ends, and the next message, timer or stop starts
another (``on_start`` runs once; parking is invisible to the actor), so idle actors cost no task.
``tell`` queues without blocking (``MailboxFull`` past capacity); ``ask`` queues and awaits the
handler's return value or exception, raising ``AskTimeout`` after its timeout.
Coalescing: a message type with ``coalesce: ClassVar[bool] = True`` (optionally a
``coalesce_key()`` method) is absorbed by an equal-keyed message already queued, so ten queued
ticks are one tick; an absorbed message takes no mailbox slot and its asker shares the reply.
Timers: ``self.after(delay, msg)`` queues ``msg`` to the actor later through ``loop.call_later``
(no task per timer) and returns a cancellable ``Timer``; all timers die with the actor and on
each restart. States: ``self.transition(s)`` changes ``self.state``; leaving a state cancels
its state-bound timers (``after(..., state_bound=True)``, ``state_timeout``), like gen_statem.
Supervision: if ``on_start``/``handle`` raises, the error is logged (actor name, kind, message
type) and the actor is restarted after an exponential backoff: ``on_restart(error)`` runs on
the same object, which keeps its attributes, state and queued messages (not the failed message,
not its timers). Too many restarts within a window stop that actor only. An ``ActorSystem``
owns every actor task in one anyio task group, names actors uniquely, and stops them gracefully
within a deadline (finish the message in hand, drop or drain the rest, ``on_stop``), then cancels.
"""

from ._actor import Actor
from ._errors import (
    ActorError,
    ActorNotFound,
    ActorNotRunning,
    ActorStopped,
    AskTimeout,
    DuplicateActor,
    MailboxFull,
    SystemStateError,
)
from ._mailbox import ActorStatus
from ._messages import Stop, coalesce_key
from ._observer import ActorObserver, NullObserver, Outcome
from ._supervision import Supervision
from ._system import ActorSystem, SystemStatus
from ._timers import Timer

__all__ = [
    "Actor",
    "ActorError",
    "ActorNotFound",
    "ActorNotRunning",
    "ActorObserver",
    "ActorStatus",
    "ActorStopped",
    "ActorSystem",
    "AskTimeout",
    "DuplicateActor",
    "MailboxFull",
    "NullObserver",
    "Outcome",
    "Stop",
    "Supervision",
    "SystemStateError",
    "SystemStatus",
    "Timer",
    "coalesce_key",
]
