"""Plugs the actor kernel's observer hooks into the Prometheus metrics of ``controlplane.metrics``."""

from __future__ import annotations

import logging

from actors import Outcome
from controlplane.metrics import (
    ACTOR_HANDLER_SECONDS,
    ACTOR_MAILBOX_DEPTH,
    ACTOR_MESSAGES,
    ACTOR_MESSAGES_COALESCED,
    ACTOR_RESTARTS,
    ACTORS_GAVE_UP,
    ACTORS_RUNNING,
)

log = logging.getLogger("controlplane.actors")


class MetricsObserver:
    """An ``actors.ActorObserver``; labels are actor kinds and message types only (bounded)."""

    def actor_started(self, kind: str, name: str) -> None:
        ACTORS_RUNNING.labels(kind).inc()

    def actor_stopped(self, kind: str, name: str) -> None:
        ACTORS_RUNNING.labels(kind).dec()

    def actor_restarted(self, kind: str, name: str, error: BaseException) -> None:
        ACTOR_RESTARTS.labels(kind).inc()

    def actor_gave_up(self, kind: str, name: str, error: BaseException) -> None:
        ACTORS_GAVE_UP.labels(kind).inc()
        log.error("actor gave up after too many restarts", extra={"actor": name, "kind": kind})

    def mailbox_depth_changed(self, kind: str, delta: int) -> None:
        ACTOR_MAILBOX_DEPTH.labels(kind).inc(delta)

    def message_handled(self, kind: str, message_type: str, outcome: Outcome, seconds: float) -> None:
        ACTOR_MESSAGES.labels(kind, message_type, outcome).inc()
        ACTOR_HANDLER_SECONDS.labels(kind, message_type).observe(seconds)

    def message_coalesced(self, kind: str, message_type: str) -> None:
        ACTOR_MESSAGES_COALESCED.labels(kind, message_type).inc()
