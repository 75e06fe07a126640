"""The metrics hook of the kernel: a small observer protocol and a no-op default.

The kernel knows no metrics library; the embedding application adapts these calls (e.g. to
Prometheus). Labels it gets are bounded: actor kinds (class-level) and message type names, plus the
actor name for the rare lifecycle events only. Per-message calls must be cheap and must not raise.
"""

from __future__ import annotations

from typing import Literal, Protocol

Outcome = Literal["ok", "error"]


class ActorObserver(Protocol):
    """Receives kernel events. Every method is called synchronously on the event loop."""

    def actor_started(self, kind: str, name: str) -> None:
        """An actor was spawned (once per spawn, not per restart)."""

    def actor_stopped(self, kind: str, name: str) -> None:
        """An actor finished for good (graceful stop, cancellation or gave up)."""

    def actor_restarted(self, kind: str, name: str, error: BaseException) -> None:
        """A hook or handler raised and the supervisor decided to restart the actor."""

    def actor_gave_up(self, kind: str, name: str, error: BaseException) -> None:
        """The restart intensity was exceeded: the actor is being stopped."""

    def mailbox_depth_changed(self, kind: str, delta: int) -> None:
        """Messages were queued (+1) or left the mailbox (-n: dequeued or dropped at stop)."""

    def message_handled(self, kind: str, message_type: str, outcome: Outcome, seconds: float) -> None:
        """A handler returned (``ok``) or raised (``error``) after ``seconds``."""

    def message_coalesced(self, kind: str, message_type: str) -> None:
        """A message was absorbed by an equivalent one already queued."""


class NullObserver:
    """The default observer: ignores everything."""

    __slots__ = ()

    def actor_started(self, kind: str, name: str) -> None:
        pass

    def actor_stopped(self, kind: str, name: str) -> None:
        pass

    def actor_restarted(self, kind: str, name: str, error: BaseException) -> None:
        pass

    def actor_gave_up(self, kind: str, name: str, error: BaseException) -> None:
        pass

    def mailbox_depth_changed(self, kind: str, delta: int) -> None:
        pass

    def message_handled(self, kind: str, message_type: str, outcome: Outcome, seconds: float) -> None:
        pass

    def message_coalesced(self, kind: str, message_type: str) -> None:
        pass


NULL_OBSERVER: ActorObserver = NullObserver()
