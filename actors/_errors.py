"""The exceptions of the actor kernel: every misuse and every failure mode has its own type."""

from __future__ import annotations


class ActorError(Exception):
    """Base class of every error raised by the actor kernel."""


class MailboxFull(ActorError):
    """``tell``/``ask`` found the actor's bounded mailbox at capacity; the message was not queued."""

    def __init__(self, actor: str, capacity: int) -> None:
        super().__init__(f"mailbox of actor {actor!r} is full ({capacity} messages)")
        self.actor = actor
        self.capacity = capacity


class AskTimeout(ActorError, TimeoutError):
    """No reply to an ``ask`` within its timeout. The request stays queued and will still be handled."""

    def __init__(self, actor: str, message_type: str, timeout: float) -> None:
        super().__init__(f"actor {actor!r} did not answer {message_type} within {timeout:g} s")
        self.actor = actor
        self.message_type = message_type
        self.timeout = timeout


class ActorNotRunning(ActorError):
    """The actor cannot take messages or timers: it was never spawned, or it is stopping/stopped."""

    def __init__(self, actor: str, status: str) -> None:
        super().__init__(f"actor {actor!r} is not running (status: {status})")
        self.actor = actor
        self.status = status


class ActorStopped(ActorNotRunning):
    """The actor is stopping or stopped; also the error of an ``ask`` whose request was dropped at stop."""


class ActorNotFound(ActorError, LookupError):
    """No actor with this name is registered in the system."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no actor named {name!r}")
        self.name = name


class DuplicateActor(ActorError):
    """An actor with this name is already registered (names are unique while the actor lives)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"an actor named {name!r} already exists")
        self.name = name


class SystemStateError(ActorError):
    """The actor system was used outside its open lifetime (before ``__aenter__`` or once closing)."""

    def __init__(self, operation: str, status: str) -> None:
        super().__init__(f"cannot {operation}: actor system is {status}")
        self.operation = operation
        self.status = status
