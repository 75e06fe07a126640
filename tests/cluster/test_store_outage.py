"""A store that refuses writes (locked, disk full) is not a crash: the actor acts on nothing it could not
persist, retries with the operator's backoff (never giving up), and converges once the store is back."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from controlplane.metrics import REGISTRY
from controlplane.store import StoreError

from .conftest import World, converged
from .manifests import created

pytestmark = pytest.mark.anyio


def _restarts() -> float:
    return REGISTRY.get_sample_value("controlplane_actor_restarts_total", {"kind": "cluster"}) or 0.0


async def test_no_create_call_while_the_intent_cannot_be_persisted(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = world.svc.store
    real = store.write_status
    refused = 0
    outage = True

    async def write_status(name: str, status: Any, *, durable: bool = False, fence: Any = None) -> None:
        nonlocal refused
        if outage and durable:
            refused += 1
            raise StoreError("sqlite: database or disk is full")
        await real(name, status, durable=durable, fence=fence)

    monkeypatch.setattr(store, "write_status", write_status)
    restarts = _restarts()
    await world.apply(created("outage"))
    with anyio.fail_after(30):
        while refused < 5:  # several passes tried and were refused, with the backoff in between
            await anyio.sleep(0.02)
    calls = (await world.calls()).get("eks", {})
    # The networking stack is recorded durably before anything relies on it: nothing past it ran.
    assert calls.get("CreateCluster", 0) == 0
    assert _restarts() == restarts  # retried by the actor itself, not crash-restarted
    outage = False
    cluster = await world.wait_for("outage", converged, timeout=60, what="converged after the outage")
    assert cluster.status.failure_message == ""
    assert (await world.calls())["eks"]["CreateCluster"] == 1
