"""The actor system: owns the task group every actor task runs in, the name registry and stops.

The top of the kernel: it imports the actor module, never the reverse (actors see it as ``ActorHost``)."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, Self, TypeVar, overload

import anyio
from anyio.abc import TaskGroup

from ._actor import Actor
from ._errors import ActorError, ActorNotFound, DuplicateActor, SystemStateError
from ._mailbox import ActorStatus
from ._observer import NULL_OBSERVER, ActorObserver
from ._supervision import Supervision

A = TypeVar("A", bound=Actor[Any, Any])


class SystemStatus(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class ActorSystem:
    """A registry of named actors running in one task group. Use as ``async with ActorSystem():``.

    Closing stops every actor gracefully (``stop_all`` with the default deadline) and then exits the
    task group; no actor task outlives the ``async with`` block.
    """

    def __init__(
        self,
        *,
        supervision: Supervision | None = None,
        observer: ActorObserver | None = None,
        mailbox_capacity: int = 1024,
        stop_timeout: float = 5.0,
    ) -> None:
        if mailbox_capacity < 1:
            raise ValueError(f"mailbox_capacity must be >= 1, got {mailbox_capacity!r}")
        if not stop_timeout >= 0:
            raise ValueError(f"stop_timeout must be >= 0, got {stop_timeout!r}")
        self._supervision = supervision if supervision is not None else Supervision()
        self._observer = observer if observer is not None else NULL_OBSERVER
        self._capacity = mailbox_capacity
        self._stop_timeout = stop_timeout
        self._actors: dict[str, Actor[Any, Any]] = {}
        self._status = SystemStatus.NEW
        self._tg: TaskGroup | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def status(self) -> SystemStatus:
        return self._status

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._status is not SystemStatus.NEW:
            raise SystemStateError("open", self._status.value)
        self._loop = asyncio.get_running_loop()
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        self._status = SystemStatus.OPEN
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg = self._tg
        assert tg is not None
        self._status = SystemStatus.CLOSING
        cancelled = exc_type is not None and issubclass(exc_type, anyio.get_cancelled_exc_class())
        try:
            # A cancelled block cannot await a graceful stop; the task group cancels instead.
            if not cancelled:
                await self.stop_all()
        finally:
            if self._actors:
                tg.cancel_scope.cancel()
            try:
                # The task group only sees a cancellation (it must account for it); any other
                # error of the block propagates as itself, not wrapped in an ExceptionGroup.
                if cancelled:
                    handled = await tg.__aexit__(exc_type, exc, tb)
                else:
                    handled = await tg.__aexit__(None, None, None)
            finally:
                # Actors whose task never ran (cancelled before its first step) still get finished.
                for actor in list(self._actors.values()):
                    actor._finish()
                self._actors.clear()
                self._status = SystemStatus.CLOSED
                self._tg = None
        return handled

    def _require_open(self, operation: str) -> TaskGroup:
        if self._status is not SystemStatus.OPEN or self._tg is None:
            raise SystemStateError(operation, self._status.value)
        return self._tg

    # --- registry -------------------------------------------------------------------------------

    def spawn(
        self,
        name: str,
        actor: A,
        *,
        supervision: Supervision | None = None,
        mailbox_capacity: int | None = None,
    ) -> A:
        """Register ``actor`` under ``name`` and start its task; returns ``actor``.

        Messages can be told right away; they are handled after ``on_start``.
        """
        tg = self._require_open(f"spawn {name!r}")
        if not name:
            raise ValueError("actor name must be a non-empty string")
        if name in self._actors:
            raise DuplicateActor(name)
        if not hasattr(actor, "_status"):
            raise TypeError(f"{type(actor).__name__}.__init__ must call super().__init__(initial_state)")
        if actor.status is not ActorStatus.NEW:
            raise ActorError(f"actor object {actor.name!r} was already spawned (status {actor.status.value})")
        capacity = self._capacity if mailbox_capacity is None else mailbox_capacity
        if capacity < 1:
            raise ValueError(f"mailbox_capacity must be >= 1, got {capacity!r}")
        assert self._loop is not None
        actor._bind(
            self,
            name,
            loop=self._loop,
            observer=self._observer,
            supervision=supervision if supervision is not None else self._supervision,
            capacity=capacity,
        )
        self._actors[name] = actor
        self._observer.actor_started(actor.kind, name)
        self._start_task(tg, actor, resumed=False)
        return actor

    @overload
    def get(self, name: str) -> Actor[Any, Any]: ...
    @overload
    def get(self, name: str, cls: type[A]) -> A: ...
    def get(self, name: str, cls: type[Actor[Any, Any]] | None = None) -> Actor[Any, Any]:
        """The live actor named ``name`` (``ActorNotFound`` otherwise), optionally type-checked."""
        actor = self._actors.get(name)
        if actor is None:
            raise ActorNotFound(name)
        if cls is not None and not isinstance(actor, cls):
            raise TypeError(f"actor {name!r} is a {type(actor).__name__}, not a {cls.__name__}")
        return actor

    def __contains__(self, name: object) -> bool:
        return name in self._actors

    def __len__(self) -> int:
        return len(self._actors)

    def names(self) -> Iterator[str]:
        """Names of live actors (a snapshot; safe to spawn/stop while iterating)."""
        return iter(list(self._actors))

    def _activate(self, actor: Actor[Any, Any]) -> None:
        tg = self._tg
        if tg is None:  # the system closed: no task can run any more
            actor._finish()
            return
        self._start_task(tg, actor, resumed=True)

    @staticmethod
    def _start_task(tg: TaskGroup, actor: Actor[Any, Any], *, resumed: bool) -> None:
        """Run ``actor`` in a task of the system's group: from spawn, or resumed after it parked."""
        handle: object = tg.start_soon(actor._run, resumed, name=f"actor:{actor.name}")
        # anyio >= 4.14 returns a TaskHandle with its own cancel scope: reuse it for the hard stop
        # instead of paying for a second scope per actor. Older anyio returns None.
        actor._canceller = handle if hasattr(handle, "cancel") else None

    def _deregister(self, actor: Actor[Any, Any]) -> None:
        if self._actors.get(actor.name) is actor:
            del self._actors[actor.name]

    # --- stopping -------------------------------------------------------------------------------

    async def stop(self, name: str, *, drain: bool = False, grace: float | None = None) -> None:
        """Stop one actor and wait until it is gone (its name is free again on return).

        See ``stop_all`` for the rule; raises ``ActorNotFound`` for an unknown name.
        """
        if self._status is SystemStatus.NEW or self._status is SystemStatus.CLOSED:
            raise SystemStateError(f"stop {name!r}", self._status.value)
        await self._stop_group([self.get(name)], drain, grace)

    async def stop_many(
        self, names: Iterable[str], *, drain: bool = False, grace: float | None = None
    ) -> None:
        """Stop the named actors (unknown or already stopped names are skipped) concurrently, within one
        deadline; see ``stop_all`` for the rule."""
        if self._status is SystemStatus.NEW or self._status is SystemStatus.CLOSED:
            raise SystemStateError("stop actors", self._status.value)
        actors = [actor for name in names if (actor := self._actors.get(name)) is not None]
        await self._stop_group(actors, drain, grace)

    async def stop_all(self, *, drain: bool = False, grace: float | None = None) -> None:
        """Stop every live actor, concurrently, within one deadline.

        Rule: each actor finishes the message in hand; with ``drain=False`` (default) the rest of
        its mailbox is dropped, with ``drain=True`` it keeps handling queued messages until the
        mailbox is empty (new tells are refused either way); then ``on_stop`` runs. When the
        ``grace`` period (default: the system's ``stop_timeout``) expires, whatever still runs is
        cancelled (``on_stop`` is then skipped). Askers of dropped messages get ``ActorStopped``.
        """
        if self._status is SystemStatus.NEW or self._status is SystemStatus.CLOSED:
            raise SystemStateError("stop actors", self._status.value)
        await self._stop_group(list(self._actors.values()), drain, grace)

    async def _stop_group(self, actors: list[Actor[Any, Any]], drain: bool, grace: float | None) -> None:
        for actor in actors:
            actor._request_stop(drain)
        with anyio.move_on_after(self._stop_timeout if grace is None else grace):
            for actor in actors:
                await actor.wait_stopped()
        for actor in actors:
            if actor.status is not ActorStatus.STOPPED:
                actor._cancel()
        for actor in actors:
            await actor.wait_stopped()
