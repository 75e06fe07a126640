"""Keep the cyclic collector's full passes short while the fleet grows: freeze the heap at each 25% of
growth.

Why: a full collection walks every tracked object that is not frozen, holding the GIL: the event loop,
the admin API's thread and the metrics all stop meanwhile. The service freezes what it built at start
(``gc.freeze`` in ``Service``), but a fleet imported afterwards, or shards taken over from a replica that
died, stay in the collector's sight: in the two-replica run at 50,000 clusters the loop stalled for
1.0-1.5 s again and again during the import, with the collector's callback on the stalled stack.

Each time the fleet has grown by ``FACTOR`` over the largest size frozen so far, one full collection
runs (it walks only what came since the last freeze: a quarter of the fleet, not all of it) and what
survives it is frozen. Growth back to a size already frozen (churn: as many created as deleted) freezes
nothing, so the number of freezes is logarithmic in the largest fleet.

What freezing costs: an object alive at a freeze that later dies inside a reference cycle is never
collected. A cluster's actor and its state are freed by reference counting alone once the cluster is
deleted (``tests/cluster/test_import_delete.py``, with the collector off), so what a freeze can keep is
the cycles of the work in flight at that moment (a pass's frames, an exception's traceback): bounded per
freeze, and the freezes are few.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

import anyio

from controlplane.metrics import HEAP_FREEZES

log = logging.getLogger("controlplane.heap")

FACTOR = 1.25
"""Growth over the largest size frozen so far that triggers a freeze."""
MINIMUM_GROWTH = 500
"""Clusters a freeze waits for at least (a small fleet's growth is not worth a full collection)."""
CHECK_EVERY = 1.0
"""Seconds between two looks at the fleet's size."""


class GrowthFreezer:
    """Decides when the heap is frozen; ``size`` is the fleet's size now."""

    def __init__(self, size: Callable[[], int]) -> None:
        self._size = size
        self._frozen_at = size()
        """The largest fleet size frozen so far (the service froze what it started with)."""

    def due(self) -> bool:
        n = self._size()
        return n >= max(self._frozen_at * FACTOR, self._frozen_at + MINIMUM_GROWTH)

    def freeze(self) -> None:
        """One full collection, then freeze what survived it."""
        n = self._size()
        began = time.perf_counter()
        gc.collect()
        gc.freeze()
        self._frozen_at = max(self._frozen_at, n)
        HEAP_FREEZES.inc()
        log.info(
            "heap frozen",
            extra={
                "clusters": n,
                "frozen_objects": gc.get_freeze_count(),
                "seconds": round(time.perf_counter() - began, 3),
            },
        )


async def freeze_as_the_fleet_grows(size: Callable[[], int], *, every: float = CHECK_EVERY) -> None:
    """Freeze the heap at each 25% of growth of ``size()``, until cancelled."""
    freezer = GrowthFreezer(size)
    while True:
        await anyio.sleep(every)
        if freezer.due():
            freezer.freeze()
