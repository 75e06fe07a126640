"""The actor: lifecycle hooks and the supervision loop, over the kernel's lower layers.

``Actor`` extends ``TimedActor`` (``_timed``: the state and timers), which extends ``MailboxActor``
(``_mailbox``: status, mailbox, coalescing, ``tell``/``ask``).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from typing import Any, ClassVar, Final, Protocol

import anyio

from ._errors import ActorNotRunning, ActorStopped
from ._mailbox import (
    _NEW,
    _RESTARTING,
    _RUNNING,
    _STOPPED,
    _STOPPING,
    MailboxActor,
    MsgT,
    StateT,
    _settle,
)
from ._messages import Stop
from ._observer import ActorObserver
from ._supervision import Supervision, allow_restart
from ._timed import TimedActor
from ._timers import _CANCELLED

logger: Final = logging.getLogger("actors")

_DEFAULT_SUPERVISION: Final = Supervision()


class _Parked(enum.Enum):
    PARKED = "parked"


_PARK: Final = _Parked.PARKED
"""What ``_serve`` returns when the mailbox is empty: the task ends until a message arrives."""


class _Cancellable(Protocol):
    def cancel(self) -> None: ...


class ActorHost(Protocol):
    """What an actor needs from the registry that spawned it (``ActorSystem`` implements it).

    A protocol, not an import of ``ActorSystem``: the kernel reads bottom-up (timers, mailbox,
    states and timers, actor, system) with no module importing one above it.
    """

    def _deregister(self, actor: Actor[Any, Any]) -> None: ...

    def _activate(self, actor: Actor[Any, Any]) -> None:
        """Start a task that resumes a parked actor (or finish it when no task can run any more)."""
        ...


class Actor(TimedActor[MsgT, StateT]):
    """Subclass and implement ``handle``; override the lifecycle hooks as needed.

    ``MsgT`` is the union of message types the actor accepts, ``StateT`` the type of its state.
    Subclasses must call ``super().__init__(initial_state)``.
    """

    kind: ClassVar[str] = "Actor"
    """Bounded label for metrics and logs; defaults to the class name."""

    __slots__ = (
        "_backoff_scope",
        "_began",
        "_canceller",
        "_done",
        "_drain",
        "_host",
        "_parked",
        "_restart_count",
        "_restart_streak",
        "_restart_times",
        "_supervision",
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__:
            cls.kind = cls.__name__
        # The kernel's private state must not be shadowed: a subclass slot (or attribute) named like
        # one of ours would share its storage, and the kernel would read the subclass's numbers (a
        # cluster actor's error counter once reset the restart backoff after every message).
        clash = sorted(_KERNEL_NAMES.intersection(cls.__dict__))
        if clash:
            raise TypeError(
                f"{cls.__name__} redefines {', '.join(clash)} of actors.Actor (kernel-private names); "
                "rename it in the subclass"
            )

    def __init__(self, state: StateT) -> None:
        super().__init__(state)
        self._host: ActorHost | None = None
        self._supervision = _DEFAULT_SUPERVISION
        self._canceller: _Cancellable | None = None  # anyio's TaskHandle, or our own CancelScope
        self._began = False  # a task runs the actor's code (False before its first step and while parked)
        self._parked = False  # idle with no task: the next message (or stop) starts one
        self._backoff_scope: anyio.CancelScope | None = None
        self._done: anyio.Event | None = None
        self._drain: bool | None = None  # None: no stop requested; else drain queued messages?
        self._restart_streak = 0  # consecutive failures; reset by a message handled without an exception
        self._restart_count = 0
        self._restart_times: deque[float] | None = None

    # --- hooks ----------------------------------------------------------------------------------

    async def on_start(self) -> None:
        """Runs in the actor's task before the first message. Raising counts as a failure."""

    async def on_restart(self, error: Exception) -> None:
        """Runs instead of ``on_start`` after a failure and its backoff. Default: ``on_start()``."""
        await self.on_start()

    async def on_give_up(self, error: Exception) -> None:
        """Runs once when the supervisor stops restarting the actor (more than ``max_restarts``
        within ``within`` seconds), before ``on_stop``: the place to record why it stopped. Raising
        is logged and ignored."""

    async def on_stop(self) -> None:
        """Runs once when the actor stops gracefully (not when its stop deadline cancels it)."""

    def on_finish(self) -> None:
        """Runs exactly once when the actor is done, however it ended (stopped, gave up, cancelled at its
        stop deadline): synchronous bookkeeping that must not be skipped, such as a gauge it counts in.
        Raising is logged and ignored."""

    async def handle(self, message: MsgT) -> Any:
        """Handle one message; the return value answers an ``ask``. Raising triggers supervision."""
        raise NotImplementedError(f"{type(self).__name__} does not implement handle()")

    # --- introspection --------------------------------------------------------------------------

    @property
    def restart_count(self) -> int:
        """Restarts since spawn."""
        return self._restart_count

    @property
    def supervision(self) -> Supervision:
        """The restart policy the actor runs under (the system's, or the one it was spawned with)."""
        return self._supervision

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name!r} {self._status.value} state={self._state!r}>"

    # --- lifetime (driven by ActorSystem) -------------------------------------------------------

    def _bind(
        self,
        host: ActorHost,
        name: str,
        *,
        loop: asyncio.AbstractEventLoop,
        observer: ActorObserver,
        supervision: Supervision,
        capacity: int,
    ) -> None:
        self._host = host
        self._name = name
        self._loop = loop
        self._observer = observer
        self._supervision = supervision
        self._capacity = capacity
        self._status = _RUNNING

    def _request_stop(self, drain: bool) -> None:
        if self._status is _STOPPED or self._status is _NEW:
            return
        if self._drain is None:
            self._drain = drain
        elif not drain:
            self._drain = False  # a later "drop" overrides an earlier "drain", never the reverse
        self._status = _STOPPING
        if self._backoff_scope is not None:
            self._backoff_scope.cancel()
        self._wake()  # a parked actor needs its task back to run on_stop

    def _wake(self) -> None:
        if self._parked:
            self._parked = False
            assert self._host is not None
            self._host._activate(self)

    def _cancel(self) -> None:
        """Hard stop: interrupt whatever the actor awaits (the stop deadline passed)."""
        if not self._began:
            self._finish()  # no task runs (not yet, or parked): a task started later finds it stopped
        elif self._canceller is not None:
            self._canceller.cancel()

    async def wait_stopped(self) -> None:
        """Wait until the actor has stopped (for whatever reason). Does not request a stop."""
        if self._status is _NEW:
            raise ActorNotRunning(self._name or type(self).__name__, _NEW.value)
        if self._status is _STOPPED:
            return
        if self._done is None:
            self._done = anyio.Event()
        await self._done.wait()

    async def _run(self, resumed: bool = False) -> None:
        """The actor's task: from spawn (``on_start`` first) or, ``resumed``, from a parked idle state
        until it stops or parks again."""
        if self._status is _STOPPED:  # hard-cancelled before the task got to run
            return
        self._began = True
        parked = False
        try:
            if self._canceller is not None:  # anyio >= 4.14: the spawn's TaskHandle cancels us
                parked = await self._live(resumed)
            else:
                with anyio.CancelScope() as scope:
                    self._canceller = scope
                    parked = await self._live(resumed)
        finally:
            if parked:
                # Idle with an empty mailbox: the task ends and the actor keeps only its own fields
                # (a waiting task costs ~50 objects the cyclic collector walks, times 50,000 actors).
                self._canceller = None
                self._began = False  # until a woken task runs, a hard stop finishes the actor itself
                self._parked = True
            else:
                self._finish()

    async def _live(self, resumed: bool) -> bool:
        """Hooks and messages until the actor stops (False) or parks (True)."""
        error: Exception | None = None
        hooks = not resumed  # a resumed task goes straight back to its mailbox
        while True:  # a stop requested before the first step still runs on_start, then drains/drops
            failure: Exception | None = None
            if hooks:
                try:
                    if error is None:
                        await self.on_start()
                    else:
                        await self.on_restart(error)
                except Exception as exc:
                    self._log_failure(exc, "on_start" if error is None else "on_restart", None)
                    failure = exc
                else:
                    if self._status is _RESTARTING:
                        self._status = _RUNNING
            hooks = True
            if failure is None:
                served = await self._serve()
                if served is _PARK:
                    return True
                failure = served
            if failure is None or self._drain is not None:
                break
            if not await self._supervise(failure):
                break
            error = failure
        if self._status is not _STOPPED:
            self._status = _STOPPING
            try:
                await self.on_stop()
            except Exception:
                logger.exception(
                    "actor %s: on_stop raised",
                    self._name,
                    extra={"actor": self._name, "actor_kind": self.kind},
                )
        return False

    async def _serve(self) -> Exception | _Parked | None:
        """Handle messages until a stop (returns None), a handler failure (returns it) or an empty mailbox
        (returns ``_PARK``: the task ends, the next message starts another)."""
        observer = self._observer
        kind = self.kind
        perf_counter = time.perf_counter
        while True:
            mailbox = self._mailbox
            drain = self._drain
            if drain is not None and (not drain or not mailbox):
                return None
            if not mailbox:
                self._mailbox = None  # release the empty deque while idle
                return _PARK
            envelope = mailbox.popleft()
            key = envelope.key
            if key is not None and self._keys is not None and self._keys.get(key) is envelope:
                del self._keys[key]
            observer.mailbox_depth_changed(kind, -1)
            timer = envelope.timer
            if timer is not None:
                if timer._state == _CANCELLED:
                    continue
                timer._finish()
            message = envelope.message
            replies = envelope.replies
            if type(message) is Stop:
                self._drain = False
                self._status = _STOPPING
                if replies is not None:
                    _settle(replies, None)
                return None
            started = perf_counter()
            try:
                result = await self.handle(message)  # type: ignore[arg-type]
            except Exception as exc:
                observer.message_handled(kind, type(message).__name__, "error", perf_counter() - started)
                if replies is not None:
                    _settle(replies, error=exc)
                self._log_failure(exc, "handle", message)
                return exc
            except BaseException:
                # Cancelled mid-handler (stop deadline or system teardown): the askers get an answer.
                if replies is not None:
                    _settle(replies, error=ActorStopped(self._name, _STOPPING.value))
                raise
            observer.message_handled(kind, type(message).__name__, "ok", perf_counter() - started)
            self._restart_streak = 0
            if replies is not None:
                _settle(replies, result)

    async def _supervise(self, failure: Exception) -> bool:
        """Decide on a restart after ``failure``; wait out the backoff. False means give up."""
        loop = self._loop
        assert loop is not None
        self._restart_streak += 1
        if self._restart_times is None:
            self._restart_times = deque()
        if not allow_restart(self._restart_times, loop.time(), self._supervision):
            logger.error(
                "actor %s: more than %s restarts within %g s; stopping it",
                self._name,
                self._supervision.max_restarts,
                self._supervision.within,
                extra={"actor": self._name, "actor_kind": self.kind, "restarts": self._restart_count},
            )
            self._observer.actor_gave_up(self.kind, self._name, failure)
            try:
                await self.on_give_up(failure)
            except Exception:
                logger.exception(
                    "actor %s: on_give_up raised",
                    self._name,
                    extra={"actor": self._name, "actor_kind": self.kind},
                )
            return False
        self._restart_count += 1
        self._status = _RESTARTING
        self._cancel_timers()  # timers belong to the failed incarnation; on_restart re-arms its own
        self._observer.actor_restarted(self.kind, self._name, failure)
        with anyio.CancelScope() as backoff:
            self._backoff_scope = backoff
            try:
                await anyio.sleep(self._supervision.backoff(self._restart_streak))
            finally:
                self._backoff_scope = None
        return self._drain is None

    def _log_failure(self, error: Exception, where: str, message: object) -> None:
        # Only the message *type* is logged: message contents may carry secrets.
        message_type = type(message).__name__ if message is not None else None
        logger.error(
            "actor %s (%s) failed in %s%s",
            self._name,
            self.kind,
            where,
            f" of {message_type}" if message_type else "",
            exc_info=error,
            extra={
                "actor": self._name,
                "actor_kind": self.kind,
                "hook": where,
                "message_type": message_type,
                "consecutive_failures": self._restart_streak + 1,
            },
        )

    def _finish(self) -> None:
        """Final bookkeeping; runs exactly once, however the task ended (or if it never ran)."""
        if self._status is _STOPPED:
            return
        self._status = _STOPPED
        self._cancel_timers()
        mailbox, self._mailbox = self._mailbox, None
        if mailbox:
            error = ActorStopped(self._name, _STOPPED.value)
            for envelope in mailbox:
                if envelope.replies is not None:
                    _settle(envelope.replies, error=error)
            self._observer.mailbox_depth_changed(self.kind, -len(mailbox))
        self._keys = None
        self._canceller = None
        if self._host is not None:
            self._host._deregister(self)
        try:
            self.on_finish()
        except Exception:
            logger.exception(
                "actor %s: on_finish raised", self._name, extra={"actor": self._name, "actor_kind": self.kind}
            )
        self._observer.actor_stopped(self.kind, self._name)
        if self._done is not None:
            self._done.set()


_KERNEL_NAMES: Final = frozenset(
    name
    for layer in (MailboxActor, TimedActor, Actor)
    for name in (*layer.__slots__, *vars(layer))
    if name.startswith("_") and not name.startswith("__") and name != "_abc_impl"
)
"""Private slots and methods of ``Actor`` and its kernel layers that subclasses may not redefine
(hooks are public names)."""
