"""The metrics observer counts restarts and actors that gave up (the chaos report reads both)."""

from __future__ import annotations

from controlplane._observer import MetricsObserver
from controlplane.metrics import REGISTRY


def _value(name: str, kind: str) -> float:
    return REGISTRY.get_sample_value(name, {"kind": kind}) or 0.0


def test_gave_up_and_restarts_are_counted_per_kind() -> None:
    observer = MetricsObserver()
    before = _value("controlplane_actor_gave_up_total", "observer-test")
    restarts = _value("controlplane_actor_restarts_total", "observer-test")
    observer.actor_restarted("observer-test", "a", RuntimeError("boom"))
    observer.actor_gave_up("observer-test", "a", RuntimeError("boom"))
    assert _value("controlplane_actor_gave_up_total", "observer-test") == before + 1
    assert _value("controlplane_actor_restarts_total", "observer-test") == restarts + 1
