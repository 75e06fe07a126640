"""The actor: a mailbox, one task, a state, timers, lifecycle hooks and the supervision loop."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Hashable
from typing import Any, ClassVar, Final, Generic, Protocol, TypeVar

import anyio

from ._errors import ActorNotRunning, ActorStopped, AskTimeout, MailboxFull
from ._messages import Stop, coalesce_key
from ._observer import NULL_OBSERVER, ActorObserver
from ._supervision import Supervision, allow_restart
from ._timers import _CANCELLED, Timer

MsgT = TypeVar("MsgT")
StateT = TypeVar("StateT")

logger: Final = logging.getLogger("actors")

_DEFAULT_SUPERVISION: Final = Supervision()


class _Cancellable(Protocol):
    def cancel(self) -> None: ...


class ActorHost(Protocol):
    """What an actor needs from the registry that spawned it (``ActorSystem`` implements it).

    A protocol, not an import of ``ActorSystem``: the kernel reads bottom-up (timers, actor, system)
    with no module importing one above it.
    """

    def _deregister(self, actor: Actor[Any, Any]) -> None: ...


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


class Actor(Generic[MsgT, StateT]):
    """Subclass and implement ``handle``; override the lifecycle hooks as needed.

    ``MsgT`` is the union of message types the actor accepts, ``StateT`` the type of its state.
    Subclasses must call ``super().__init__(initial_state)``.
    """

    kind: ClassVar[str] = "Actor"
    """Bounded label for metrics and logs; defaults to the class name."""

    __slots__ = (
        "__weakref__",
        "_backoff_scope",
        "_began",
        "_canceller",
        "_capacity",
        "_done",
        "_drain",
        "_host",
        "_keys",
        "_loop",
        "_mailbox",
        "_name",
        "_observer",
        "_restart_count",
        "_restart_streak",
        "_restart_times",
        "_state",
        "_state_timer",
        "_status",
        "_supervision",
        "_timers",
        "_waiter",
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
        self._state = state
        self._name = ""
        self._status = _NEW
        # None while empty and idle: an empty deque still costs ~760 bytes, and most of the
        # 10,000 actors of a fleet are idle most of the time.
        self._mailbox: deque[_Envelope] | None = None
        # Only actors that receive coalescing messages pay for the index (and for a timer set).
        self._keys: dict[Hashable, _Envelope] | None = None
        self._timers: set[Timer] | None = None
        self._state_timer: Timer | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._host: ActorHost | None = None
        self._observer: ActorObserver = NULL_OBSERVER
        self._supervision = _DEFAULT_SUPERVISION
        self._capacity = 0
        self._canceller: _Cancellable | None = None  # anyio's TaskHandle, or our own CancelScope
        self._began = False
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

    async def handle(self, message: MsgT) -> Any:
        """Handle one message; the return value answers an ``ask``. Raising triggers supervision."""
        raise NotImplementedError(f"{type(self).__name__} does not implement handle()")

    # --- introspection --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def state(self) -> StateT:
        return self._state

    @property
    def status(self) -> ActorStatus:
        return self._status

    @property
    def mailbox_depth(self) -> int:
        return len(self._mailbox) if self._mailbox is not None else 0

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

    # --- messaging ------------------------------------------------------------------------------

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
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _raise_not_running(self) -> None:
        if self._status is _NEW:
            raise ActorNotRunning(self._name or type(self).__name__, self._status.value)
        raise ActorStopped(self._name, self._status.value)

    # --- state and timers -----------------------------------------------------------------------

    def transition(self, new_state: StateT) -> None:
        """Change state. Leaving a state cancels every state-bound timer (re-entering the same
        state does not, like gen_statem's ``repeat_state``)."""
        if new_state == self._state:
            return
        self._state = new_state
        if self._timers:
            for timer in [t for t in self._timers if t.state_bound]:
                timer.cancel()

    def after(self, delay: float, message: MsgT, *, state_bound: bool = False) -> Timer:
        """Deliver ``message`` to this actor in ``delay`` seconds. Timers die with the actor and
        with each restart; ``state_bound`` ones also when the state changes. Timer messages bypass
        the mailbox capacity (their number is bounded by the timers the actor arms itself)."""
        if not delay >= 0:
            raise ValueError(f"timer delay must be >= 0, got {delay!r}")
        loop = self._loop
        if loop is None or self._status is _STOPPED:
            self._raise_not_running()
        assert loop is not None
        timer = Timer(self, message, state_bound)
        timer._handle = loop.call_later(delay, timer._fire)
        if self._timers is None:
            self._timers = set()
        self._timers.add(timer)
        return timer

    def state_timeout(self, delay: float, message: MsgT) -> Timer:
        """The single state timeout: replaces the previous one, cancelled when the state changes."""
        if self._state_timer is not None:
            self._state_timer.cancel()
        timer = self.after(delay, message, state_bound=True)
        self._state_timer = timer
        return timer

    def cancel_state_timeout(self) -> bool:
        """Cancel the pending state timeout, if any; True if one was pending."""
        timer, self._state_timer = self._state_timer, None
        return timer is not None and timer.cancel()

    @property
    def state_timeout_pending(self) -> bool:
        return self._state_timer is not None and self._state_timer.pending

    def _forget_timer(self, timer: Timer) -> None:
        if self._timers is not None:
            self._timers.discard(timer)
        if self._state_timer is timer:
            self._state_timer = None

    def _deliver_timer(self, timer: Timer, message: object) -> None:
        # RESTARTING: a timer armed by on_restart (earlier ones were cancelled at the failure).
        if self._status is not _RUNNING and self._status is not _RESTARTING:
            timer._finish()
            return
        key = coalesce_key(message)
        if key is not None and self._keys is not None:
            queued = self._keys.get(key)
            if queued is not None and (queued.timer is None or queued.timer._state != _CANCELLED):
                timer._finish()
                self._observer.message_coalesced(self.kind, type(message).__name__)
                return
        self._push(_Envelope(message, key, None, timer))

    def _cancel_timers(self) -> None:
        if self._timers:
            for timer in list(self._timers):
                timer.cancel()
        self._state_timer = None

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
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _cancel(self) -> None:
        """Hard stop: interrupt whatever the actor awaits (the stop deadline passed)."""
        if not self._began:
            self._finish()  # the task has not run yet: it will find the actor stopped and return
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

    async def _run(self) -> None:
        if self._status is _STOPPED:  # hard-cancelled before the task got to run
            return
        self._began = True
        try:
            if self._canceller is not None:  # anyio >= 4.14: the spawn's TaskHandle cancels us
                await self._live()
            else:
                with anyio.CancelScope() as scope:
                    self._canceller = scope
                    await self._live()
        finally:
            self._finish()

    async def _live(self) -> None:
        error: Exception | None = None
        while True:  # a stop requested before the first step still runs on_start, then drains/drops
            failure: Exception | None
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
                failure = await self._serve()
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

    async def _serve(self) -> Exception | None:
        """Handle messages until a stop (returns None) or a handler failure (returns it)."""
        observer = self._observer
        kind = self.kind
        loop = self._loop
        assert loop is not None
        perf_counter = time.perf_counter
        while True:
            mailbox = self._mailbox
            drain = self._drain
            if drain is not None and (not drain or not mailbox):
                return None
            if not mailbox:
                self._mailbox = None  # release the empty deque while idle
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiter = waiter
                try:
                    await waiter
                finally:
                    self._waiter = None
                continue
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
        self._waiter = None
        self._canceller = None
        if self._host is not None:
            self._host._deregister(self)
        self._observer.actor_stopped(self.kind, self._name)
        if self._done is not None:
            self._done.set()


_KERNEL_NAMES: Final = frozenset(
    name
    for name in (*Actor.__slots__, *vars(Actor))
    if name.startswith("_") and not name.startswith("__") and name != "_abc_impl"
)
"""Private slots and methods of ``Actor`` that subclasses may not redefine (hooks are public names)."""
