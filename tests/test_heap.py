"""The heap is frozen at each quarter of fleet growth, and only then."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from controlplane._heap import GrowthFreezer
from controlplane.metrics import REGISTRY


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def _freezes() -> float:
    return REGISTRY.get_sample_value("controlplane_heap_freezes_total") or 0.0


def test_a_quarter_of_growth_over_the_largest_frozen_size_freezes_once() -> None:
    size = [2000]
    freezer = GrowthFreezer(lambda: size[0])
    size[0] = 2499
    assert not freezer.due()
    size[0] = 2500
    assert freezer.due()
    before = _freezes()
    survivor = [object()]  # tracked and alive: frozen with the rest
    assert any(o is survivor for o in gc.get_objects())
    freezer.freeze()
    assert _freezes() == before + 1
    assert not any(o is survivor for o in gc.get_objects())  # out of the collector's sight
    assert not freezer.due()
    size[0] = 1000  # churn: the fleet shrank and grows back, no higher than before
    assert not freezer.due()
    size[0] = 3124
    assert not freezer.due()
    size[0] = 3125
    assert freezer.due()


@pytest.mark.parametrize(("start", "first_due"), [(100, 600), (0, 500), (4000, 5000)])
def test_a_freeze_waits_for_a_quarter_more_and_500_clusters_at_least(start: int, first_due: int) -> None:
    size = [start]
    freezer = GrowthFreezer(lambda: size[0])
    size[0] = first_due - 1
    assert not freezer.due()
    size[0] = first_due
    assert freezer.due()
