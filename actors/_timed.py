"""The actor's middle layer: its state (gen_statem-like transitions) and its self-addressed timers.

``TimedActor`` is a base of ``Actor`` over ``MailboxActor``; see ``_mailbox`` for why the kernel is
split into slotted layers.
"""

from __future__ import annotations

from ._mailbox import _RESTARTING, _RUNNING, _STOPPED, MailboxActor, MsgT, StateT, _Envelope
from ._messages import coalesce_key
from ._timers import _CANCELLED, Timer


class TimedActor(MailboxActor[MsgT, StateT]):
    """The state-and-timers layer of ``Actor`` (it implements the timers' ``TimerOwner``)."""

    __slots__ = ("_state", "_state_timer", "_timers")

    def __init__(self, state: StateT) -> None:
        super().__init__()
        self._state = state
        self._timers: set[Timer] | None = None  # only actors that arm timers pay for the set
        self._state_timer: Timer | None = None

    @property
    def state(self) -> StateT:
        return self._state

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
