"""``controlplane replicas`` against the real admin API and store."""

from __future__ import annotations

import json

import pytest

from controlplane.store import shard_of

from ..admin._support import Api
from ..store._helpers import cluster
from ._support import Run

pytestmark = pytest.mark.anyio


async def test_replicas_table_and_json(api: Api, run: Run) -> None:
    code, out, err = await run("replicas")
    assert (code, out) == (0, "")
    assert "No replicas." in err
    await api.store.heartbeat("r-one", "http://127.0.0.1:1", started=1.0)
    await api.store.heartbeat("r-two", "http://127.0.0.1:2", started=1.0)
    await api.store.acquire_leases("r-one", [0, 1, 2], 30.0)
    await api.store.acquire_leases("r-two", [3], 30.0)
    names = [n for n in (f"c{i}" for i in range(2000)) if shard_of(n, 256) in (0, 1, 2)][:2]
    for name in names:
        await api.store.create_cluster(cluster(name))
    code, out, err = await run("replicas")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "ADDRESS", "ALIVE", "HEARTBEAT", "SHARDS", "CLUSTERS"]
    one = lines[1].split()
    assert (one[0], one[1], one[2], one[-2], one[-1]) == ("r-one", "http://127.0.0.1:1", "yes", "3", "2")
    assert lines[2].split()[-2:] == ["1", "0"]
    code, out, err = await run("replicas", "-o", "json")
    assert code == 0, err
    items = json.loads(out)["items"]
    assert [(r["id"], r["shards"]) for r in items] == [("r-one", [0, 1, 2]), ("r-two", [3])]
