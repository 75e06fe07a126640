"""Messages a cluster actor accepts. Idempotent ones coalesce: ten queued ticks are one tick."""

from __future__ import annotations

from typing import ClassVar

import msgspec


class Reconcile(msgspec.Struct, frozen=True):
    """Run one pass of the current phase (self-addressed after waits and backoffs)."""

    coalesce: ClassVar[bool] = True


class SpecChanged(msgspec.Struct, frozen=True):
    """The stored spec changed (API write): reload it and reconcile."""

    coalesce: ClassVar[bool] = True


class DeleteRequested(msgspec.Struct, frozen=True):
    """The cluster was marked for deletion: reload and start the delete flow."""

    coalesce: ClassVar[bool] = True


class SyncTick(msgspec.Struct, frozen=True):
    """Refresh the upstream spec from AWS and apply the sync policy.

    ``planned`` is the loop time the scheduler meant the tick for (tick lag = start - planned);
    ``round_id`` lets the scheduler count the round's completions. ``fresh_for``: a settled cluster
    refreshed less than this many seconds ago counts the tick without calling AWS (the first round after
    a start: the fleet was refreshed a moment ago, and 50,000 refreshes at once would be a thundering herd).
    Coalesced: a newer tick replaces nothing, an older queued one already covers it.
    """

    planned: float = 0.0
    round_id: int = 0
    fresh_for: float = 0.0
    coalesce: ClassVar[bool] = True


ClusterMessage = Reconcile | SpecChanged | DeleteRequested | SyncTick
