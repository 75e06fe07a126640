from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec

from actors import Actor, Outcome


@dataclass(frozen=True)
class Note:
    """A plain message."""

    value: int


@dataclass(frozen=True)
class Tick:
    """A coalescing message (dataclass flavour): all queued ticks are one."""

    coalesce: ClassVar[bool] = True


class Refresh(msgspec.Struct, frozen=True):
    """A coalescing message (msgspec flavour) keyed by target."""

    coalesce: ClassVar[bool] = True
    target: str
    attempt: int = 0

    def coalesce_key(self) -> str:
        return self.target


@dataclass(frozen=True)
class Fail:
    reason: str = "boom"


@dataclass(frozen=True)
class History:
    """Ask for what was handled so far (a barrier: everything told before it is handled)."""


Msg = Note | Tick | Refresh | Fail | History


class Recorder(Actor[Msg, str]):
    """Records handled messages; raises on Fail."""

    def __init__(self, state: str = "idle") -> None:
        super().__init__(state)
        self.seen: list[object] = []
        self.starts = 0
        self.restarts: list[Exception] = []
        self.stops = 0

    async def on_start(self) -> None:
        self.starts += 1

    async def on_restart(self, error: Exception) -> None:
        self.restarts.append(error)

    async def on_stop(self) -> None:
        self.stops += 1

    async def handle(self, message: Msg) -> Any:
        if isinstance(message, History):
            return list(self.seen)
        self.seen.append(message)
        if isinstance(message, Fail):
            raise RuntimeError(message.reason)
        if isinstance(message, Note):
            return message.value * 2
        return None


@dataclass
class RecordingObserver:
    events: list[tuple[Any, ...]] = field(default_factory=list)
    depth: dict[str, int] = field(default_factory=dict)

    def actor_started(self, kind: str, name: str) -> None:
        self.events.append(("started", kind, name))

    def actor_stopped(self, kind: str, name: str) -> None:
        self.events.append(("stopped", kind, name))

    def actor_restarted(self, kind: str, name: str, error: BaseException) -> None:
        self.events.append(("restarted", kind, name, str(error)))

    def actor_gave_up(self, kind: str, name: str, error: BaseException) -> None:
        self.events.append(("gave_up", kind, name, str(error)))

    def mailbox_depth_changed(self, kind: str, delta: int) -> None:
        self.depth[kind] = self.depth.get(kind, 0) + delta

    def message_handled(self, kind: str, message_type: str, outcome: Outcome, seconds: float) -> None:
        assert seconds >= 0
        self.events.append(("handled", kind, message_type, outcome))

    def message_coalesced(self, kind: str, message_type: str) -> None:
        self.events.append(("coalesced", kind, message_type))

    def count(self, event: str) -> int:
        return sum(1 for e in self.events if e[0] == event)
