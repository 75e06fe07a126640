"""The cluster state machine's table: one handler per phase, each returning the next phase and when to
come back (``Next``). The actor looks the handler up by its current state; nothing else decides phases,
except the two entries every operator pass has: a deletion request enters ``deleting``, and a failure
while ``active`` enters ``updating`` (``after_failure``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType

from controlplane.api import Phase
from controlplane.config import LifecycleSettings

from . import _conditions as cond
from ._context import Next, Pass
from ._create import create, wait_for_creation
from ._delete import delete
from ._import import import_cluster
from ._update import check_and_update

PhaseHandler = Callable[[Pass], Awaitable[Next]]


async def _new(p: Pass) -> Next:
    if not p.status.conditions:
        cond.set_message(p.status, cond.WAITING, cond.MSG_WAITING_FOR_API)
    return await create(p)


HANDLERS: Mapping[Phase, PhaseHandler] = MappingProxyType(
    {
        Phase.NEW: _new,
        Phase.CREATING: wait_for_creation,
        Phase.IMPORTING: import_cluster,
        Phase.ACTIVE: check_and_update,
        Phase.UPDATING: check_and_update,
        Phase.DELETING: delete,
    }
)


def after_failure(phase: Phase, failure_message: str, previous_message: str) -> Phase:
    """The operator's recordError: a new failure while ``active`` moves the cluster to ``updating``."""
    if failure_message and failure_message != previous_message and phase == Phase.ACTIVE:
        return Phase.UPDATING
    return phase


def retry_delay(consecutive_errors: int, lifecycle: LifecycleSettings) -> float:
    """The operator's work-queue backoff before retrying the ``consecutive_errors``-th failed pass in a
    row: ``backoff_base`` doubling up to ``backoff_max``, then ``backoff_slow`` once more than
    ``backoff_slow_after`` passes failed (unscaled seconds)."""
    if consecutive_errors > lifecycle.backoff_slow_after:
        return lifecycle.backoff_slow
    exponent = min(max(consecutive_errors - 1, 0), 64)
    return min(lifecycle.backoff_max, lifecycle.backoff_base * 2.0**exponent)
