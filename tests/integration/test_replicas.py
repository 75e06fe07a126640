"""Three replicas share one fleet of 30 clusters (issue 10), as real processes on one store, with the
simulator in its own process: balancing, a spec change applied by the owner whatever replica took it,
fail-over after SIGKILL, re-balancing after a restart, and fencing of a replica paused past its lease.

Each scenario runs on both stores: SQLite (replicas on one machine share the file) and a throwaway
PostgreSQL; lease timing is shortened (3 s) so the scenarios take seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.store import shard_of
from controlplane.store._crypto import new_key, write_key_file

from .. import _pg
from ._procs import SIM_LINE, Http, Proc, Service, child_env, wait_until

pytestmark = pytest.mark.slow

CLUSTERS = 30
REPLICAS = ("r1", "r2", "r3")
LEASE = 3.0
RETRY = 0.5
TICK = 2.0
SHARDS = 256
ACCESS_KEY = "AKIDREPLICAS"
SECRET_KEY = "replicas-secret"
FAST = {
    "CONTROLPLANE_REPLICA_LEASE_DURATION": str(LEASE),
    "CONTROLPLANE_REPLICA_RENEW_DEADLINE": "2",
    "CONTROLPLANE_REPLICA_RETRY_PERIOD": str(RETRY),
    "CONTROLPLANE_REPLICA_LEASE_MARGIN": "0.2",
    "CONTROLPLANE_SYNC_REFRESH_CRON": f"@every {TICK:g}s",
    "CONTROLPLANE_SYNC_INITIAL_ROUND_SPREAD": "100",  # scaled by 0.01: one second
}


class Fleet:
    def __init__(self, tmp: Path, store_env: dict[str, str]) -> None:
        self.tmp = tmp
        self.data = tmp / "data"
        self.store_env = store_env
        self.sim_proc = Proc(
            "sim", ["sim", "--listen", "127.0.0.1:0", "--time-scale", "0.01"], child_env(), tmp
        )
        self.sim = Http(self.sim_proc.wait_for(SIM_LINE, stream="stdout", timeout=30))
        self.replicas: dict[str, Service] = {}

    def start(self, replica: str) -> Service:
        svc = Service(
            self.tmp,
            self.data,
            "--aws-endpoint",
            self.sim.base,
            name=f"{replica}-{len(os.listdir(self.tmp))}",
            CONTROLPLANE_REPLICA_ID=replica,
            **FAST,
            **self.store_env,
        )
        self.replicas[replica] = svc
        return svc

    def any(self, but: str = "") -> Service:
        return next(
            svc for name, svc in self.replicas.items() if name != but and svc.proc.popen.poll() is None
        )

    def clusters(self, via: str = "") -> dict[str, dict[str, Any]]:
        return self.any(but=via).clusters() if not via else self.replicas[via].clusters()

    def owners(self) -> dict[str, list[int]]:
        items = self.any().http.json("GET", "/v1/replicas")["items"]
        return {r["id"]: r["shards"] for r in items if r["alive"]}

    def close(self) -> None:
        for svc in self.replicas.values():
            svc.proc.kill()
        self.sim_proc.kill()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fleet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp(f"replicas-{request.param}")
    with contextlib.ExitStack() as stack:
        store_env: dict[str, str] = {}
        if request.param == "postgresql":
            url = stack.enter_context(_pg.fresh_database(request.getfixturevalue("pg_server")))
            key = tmp / "store.key"
            write_key_file(key, new_key())  # every replica of one PostgreSQL store shares the key
            store_env = {"CONTROLPLANE_STORE_URL": url, "CONTROLPLANE_STORE_SECRET_KEY_FILE": str(key)}
        yield from _fleet(tmp, store_env)


def _fleet(tmp: Path, store_env: dict[str, str]) -> Iterator[Fleet]:
    f = Fleet(tmp, store_env)
    try:
        f.sim.json("PUT", "/_sim/credentials", {ACCESS_KEY: SECRET_KEY})
        template = {"region": "us-west-2", "nodegroups": [{"name": "ng", "desiredSize": 1}]}
        f.sim.json(
            "POST",
            "/_sim/clusters:batch",
            {"prefix": "rep-", "count": CLUSTERS, "template": template},
            expect=201,
        )
        for replica in REPLICAS:
            f.start(replica)
        first = f.replicas["r1"]
        first.http.json(
            "PUT",
            "/v1/credentials/default/rep",
            {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY},
            expect=201,
        )
        for i in range(CLUSTERS):
            name = f"rep-{i:05d}"
            manifest = {
                "apiVersion": "eks-controlplane.io/v1",
                "kind": "Cluster",
                "metadata": {"name": name},
                "spec": {
                    "eksConfig": {
                        "displayName": name,
                        "region": "us-west-2",
                        "amazonCredentialSecret": "default:rep",
                        "imported": True,
                    }
                },
            }
            f.replicas[REPLICAS[i % 3]].http.json("POST", "/v1/clusters", manifest, expect=201)
        wait_until(
            lambda: _all(
                f.clusters(),
                lambda c: c["status"].get("phase") == "active" and c["status"].get("lastSyncTime"),
            ),
            timeout=60,
            what="every cluster imported and refreshed",
            details=first.diagnose,
        )
        yield f
    finally:
        f.close()


def _all(clusters: dict[str, dict[str, Any]], predicate: Any) -> bool:
    return len(clusters) == CLUSTERS and all(predicate(c) for c in clusters.values())


def _even(owners: dict[str, list[int]], replicas: set[str]) -> bool:
    counts = [len(owners.get(r, [])) for r in replicas]
    return set(owners) == replicas and sum(counts) == SHARDS and max(counts) - min(counts) <= 1


def _by_replica(clusters: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, c in clusters.items():
        out.setdefault(c["status"].get("replica", ""), []).append(name)
    return out


def test_the_split_is_even_and_every_cluster_is_run_by_its_shard_owner(fleet: Fleet) -> None:
    def even() -> dict[str, list[int]] | None:
        owners = fleet.owners()
        return owners if _even(owners, set(REPLICAS)) else None

    owners = wait_until(even, timeout=20, what="an even split")
    shard_owner = {shard: replica for replica, shards in owners.items() for shard in shards}

    def consistent() -> bool:
        clusters = fleet.clusters()
        return all(
            c["status"].get("replica") == shard_owner[shard_of(n, SHARDS)] for n, c in clusters.items()
        )

    wait_until(consistent, timeout=10, what="every status written by its shard's owner")
    # Every replica answers the whole API, the same.
    names = {svc.proc.name: sorted(svc.clusters()) for svc in fleet.replicas.values()}
    assert len({tuple(v) for v in names.values()}) == 1, names


def test_a_spec_change_sent_to_one_replica_is_applied_by_the_owner(fleet: Fleet) -> None:
    clusters = fleet.clusters()
    name = next(n for n, c in sorted(clusters.items()) if c["status"]["replica"] == "r3")
    before = fleet.sim.json("GET", "/_sim/calls").get("eks", {}).get("TagResource", 0)
    resp = fleet.replicas["r1"].http.request(
        "PATCH",
        f"/v1/clusters/{name}",
        {"spec": {"eksConfig": {"tags": {"replicas": "yes"}}}},
        content_type="application/merge-patch+json",
    )
    assert resp.status == 200, resp.body
    started = time.monotonic()

    def applied() -> dict[str, Any] | None:
        eks = next(c for c in fleet.sim.json("GET", "/_sim/state")["clusters"] if c["name"] == name)
        return eks if eks["tags"].get("replicas") == "yes" else None

    wait_until(
        applied, timeout=15, what=f"{name}'s tag pushed", details=lambda: fleet.replicas["r3"].diagnose(name)
    )
    took = time.monotonic() - started
    after = fleet.replicas["r2"].clusters()[name]
    assert after["status"]["replica"] == "r3"  # the owner did it, and every replica shows it
    calls = fleet.sim.json("GET", "/_sim/calls")["eks"]
    assert calls.get("TagResource", 0) == before + 1, calls  # one call for one intent
    assert took < 10, f"the owner took {took:.1f}s to apply a change made on another replica"


def test_sigkill_one_replica_and_the_survivors_refresh_its_clusters(fleet: Fleet) -> None:
    victim = fleet.replicas["r2"]
    orphans = _by_replica(fleet.clusters()).get("r2", [])
    assert orphans
    mutations_before = _mutations(fleet)
    victim.proc.popen.send_signal(signal.SIGKILL)
    victim.proc.popen.wait(timeout=10)
    killed = time.monotonic()

    def taken_over() -> bool:
        clusters = fleet.clusters()
        return all(clusters[n]["status"].get("replica") in ("r1", "r3") for n in orphans)

    wait_until(taken_over, timeout=LEASE + RETRY + TICK + 15, what="the orphans refreshed by survivors")
    failover = time.monotonic() - killed
    assert failover <= LEASE + RETRY + TICK + 5, f"fail-over took {failover:.1f}s"
    wait_until(
        lambda: _even(fleet.owners(), {"r1", "r3"}), timeout=15, what="the survivors split every shard"
    )
    assert _mutations(fleet) == mutations_before  # a fail-over of settled clusters changes nothing in AWS
    _no_duplicates(fleet)


def test_the_restarted_replica_gets_its_even_share_back(fleet: Fleet) -> None:
    fleet.start("r2")
    wait_until(lambda: _even(fleet.owners(), set(REPLICAS)), timeout=20, what="an even split again")
    wait_until(
        lambda: "r2" in _by_replica(fleet.clusters()),
        timeout=LEASE + TICK + 10,
        what="r2 running clusters again",
    )


def test_a_replica_paused_past_its_lease_writes_nothing_for_the_shards_it_lost(fleet: Fleet) -> None:
    paused = fleet.replicas["r3"]
    lost = _by_replica(fleet.clusters()).get("r3", [])
    assert lost
    paused.proc.popen.send_signal(signal.SIGSTOP)
    try:

        def taken() -> bool:
            clusters = fleet.clusters()
            return all(clusters[n]["status"].get("replica") in ("r1", "r2") for n in lost)

        wait_until(taken, timeout=LEASE + TICK + 15, what="r3's clusters taken over while it is stopped")
    finally:
        paused.proc.popen.send_signal(signal.SIGCONT)
    # r3 wakes up with stale timers and believes, for a moment, that it holds its old shards. Whatever it
    # writes under those leases is refused: a cluster's status names r3 only where r3 holds the shard now.
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:
        owners = fleet.owners()
        clusters = fleet.clusters()
        holder = {shard: r for r, shards in owners.items() for shard in shards}
        for name in lost:
            if clusters[name]["status"].get("replica") == "r3":
                assert holder.get(shard_of(name, SHARDS)) == "r3", (name, owners)
        time.sleep(0.1)
    log = paused.proc.stderr()
    assert "renew deadline passed" in log or "shard lease lost" in log, log[-3000:]
    wait_until(
        lambda: _even(fleet.owners(), set(REPLICAS)), timeout=20, what="an even split after r3 is back"
    )
    _no_duplicates(fleet)


def _mutations(fleet: Fleet) -> dict[str, int]:
    calls = fleet.sim.json("GET", "/_sim/calls")
    return {
        f"{service}:{op}": n
        for service, ops in calls.items()
        if not service.startswith("_")
        for op, n in ops.items()
        if not op.startswith(("Describe", "List", "Get"))
    }


def _no_duplicates(fleet: Fleet) -> None:
    state = fleet.sim.json("GET", "/_sim/state")
    names = [c["name"] for c in state["clusters"]]
    assert len(names) == len(set(names)) == CLUSTERS
    for c in state["clusters"]:
        groups = [g["name"] for g in c["nodegroups"]]
        assert len(groups) == len(set(groups)), c
