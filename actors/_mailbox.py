"""The actor's bottom layer: its status, its bounded FIFO mailbox, coalescing, ``tell`` and ``ask``.

``MailboxActor`` is a base of ``Actor``, not a class to subclass directly: the layers (mailbox,
then states and timers, then lifecycle) are one object split by concern. Each layer owns the
``__slots__`` it uses, so an actor costs the same memory as one flat class, and a method found
through the MRO costs the same lookup (CPython caches it per type).
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Hashable
from typing import Any, ClassVar, Final, Generic, TypeVar

import anyio

from ._errors import ActorNotRunning, ActorStopped, AskTimeout, MailboxFull
from ._messages import Stop, coalesce_key
from ._observer import NULL_OBSERVER, ActorObserver
from ._timers import _CANCELLED, Timer

MsgT = TypeVar("MsgT")
StateT = TypeVar("StateT")


class ActorStatus(enum.Enum):
    NEW = "new"  # constructed, not spawned
    RUNNING = "running"  # spawned: starting, handling or idle
    RESTARTING = "restarting"  # a hook or handler raised; waiting out the backoff (messages still queue)
    STOPPING = "stopping"  # stop requested: finishing the message in hand / draining, then on_stop
    STOPPED = "stopped"


_NEW: Final = ActorStatus.NEW
_RUNNING: Final = ActorStatus.RUNNING
_RESTARTING: Final = ActorStatus.RESTARTING
_STOPPING: Final = ActorStatus.STOPPING
_STOPPED: Final = ActorStatus.STOPPED


class _Envelope:
    """One mailbox slot. ``replies`` collects the futures of every ask absorbed into this message."""

    __slots__ = ("key", "message", "replies", "timer")

    def __init__(
        self,
        message: object,
        key: Hashable | None,
        replies: list[asyncio.Future[Any]] | None,
        timer: Timer | None,
    ) -> None:
        self.message = message
        self.key = key
        self.replies = replies
        self.timer = timer


def _settle(
    replies: list[asyncio.Future[Any]], result: object = None, error: BaseException | None = None
) -> None:
    for fut in replies:
        if fut.done():  # the asker timed out or was cancelled
            continue
        if error is None:
            fut.set_result(result)
        else:
            fut.set_exception(error)


class MailboxActor(Generic[MsgT, StateT]):
    """The mailbox layer of ``Actor``: name, status, mailbox and the coalescing index."""

    kind: ClassVar[str]
    """Bounded label for metrics and logs (set on ``Actor`` and its subclasses)."""

    __slots__ = (
        "__weakref__",
        "_capacity",
        "_keys",
        "_loop",
        "_mailbox",
        "_name",
        "_observer",
        "_status",
    )

    def __init__(self) -> None:
        self._name = ""
        self._status = _NEW
        # None while empty and idle: an empty deque still costs ~760 bytes, and most of the
        # 10,000 actors of a fleet are idle most of the time.
        self._mailbox: deque[_Envelope] | None = None
        # Only actors that receive coalescing messages pay for the index (and for a timer set).
        self._keys: dict[Hashable, _Envelope] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._observer: ActorObserver = NULL_OBSERVER
        self._capacity = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def status(self) -> ActorStatus:
        return self._status

    @property
    def mailbox_depth(self) -> int:
        return len(self._mailbox) if self._mailbox is not None else 0

    def tell(self, message: MsgT | Stop) -> None:
        """Queue ``message``; never blocks. Raises ``MailboxFull`` or ``ActorNotRunning``."""
        self._enqueue(message, None)

    # The timeout is part of ask's contract (it raises AskTimeout, distinct from a handler's own
    # TimeoutError), so it is a parameter rather than the caller's cancel scope.
    async def ask(self, message: MsgT | Stop, timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Queue ``message`` and wait for the handler's return value (or its exception).

        Raises ``AskTimeout`` after ``timeout`` seconds; the request is not withdrawn.
        """
        loop = self._loop
        if loop is None:
            raise ActorNotRunning(self._name, self._status.value)
        reply: asyncio.Future[Any] = loop.create_future()
        self._enqueue(message, reply)
        with anyio.move_on_after(timeout):
            return await reply
        raise AskTimeout(self._name, type(message).__name__, timeout)

    def _enqueue(self, message: object, reply: asyncio.Future[Any] | None) -> None:
        status = self._status
        if status is not _RUNNING and status is not _RESTARTING:
            self._raise_not_running()
        key = coalesce_key(message)
        if key is not None and self._keys is not None:
            queued = self._keys.get(key)
            if queued is not None and (queued.timer is None or queued.timer._state != _CANCELLED):
                if reply is not None:
                    if queued.replies is None:
                        queued.replies = [reply]
                    else:
                        queued.replies.append(reply)
                if queued.timer is not None:
                    # The queued copy came from a timer; it now also stands for this message, so
                    # cancelling that timer must no longer drop it.
                    queued.timer._finish()
                    queued.timer = None
                self._observer.message_coalesced(self.kind, type(message).__name__)
                return
        if self._mailbox is not None and len(self._mailbox) >= self._capacity:
            raise MailboxFull(self._name, self._capacity)
        self._push(_Envelope(message, key, None if reply is None else [reply], None))

    def _push(self, envelope: _Envelope) -> None:
        if self._mailbox is None:
            self._mailbox = deque()
        self._mailbox.append(envelope)
        if envelope.key is not None:
            if self._keys is None:
                self._keys = {}
            self._keys[envelope.key] = envelope
        self._observer.mailbox_depth_changed(self.kind, 1)
        self._wake()

    def _wake(self) -> None:
        """A message arrived: the lifecycle layer starts the task of an actor parked idle (this layer has
        no task of its own)."""

    def _raise_not_running(self) -> None:
        if self._status is _NEW:
            raise ActorNotRunning(self._name or type(self).__name__, self._status.value)
        raise ActorStopped(self._name, self._status.value)
