"""SIGTERM while a cluster is mid-update, restart on the same data directory: the cluster converges, and AWS
(the standalone simulator, a separate process that outlives both service runs) holds no duplicates."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from controlplane.api import Cluster, Phase
from controlplane.store import SQLiteStore

from ._procs import SIM_LINE, Http, Proc, Service, child_env, condition, nodegroup, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

ACCESS_KEY = "AKIDRESTARTTEST01"
SECRET_KEY = "restart-test-secret"
NAME = "restart"
# The simulator runs at a fifth of demo speed so that a node group update stays in flight ~1 s: long enough
# for the test to see the cluster `updating` and stop the service inside that window.
SIM_TIME_SCALE = "0.2"


MANIFEST: dict[str, Any] = {
    "apiVersion": "eks-controlplane.io/v1",
    "kind": "Cluster",
    "metadata": {"name": NAME},
    "spec": {
        "eksConfig": {
            "displayName": NAME,
            "region": "us-west-2",
            "amazonCredentialSecret": "default:restart",
            "kubernetesVersion": "1.30",
            "publicAccess": True,
            "privateAccess": False,
            "secretsEncryption": False,
            "tags": {"team": "a"},
            "subnets": [],
            "securityGroups": [],
            "loggingTypes": [],
            "publicAccessSources": [],
            "nodeGroups": [nodegroup("workers", desired=2, maximum=3, labels={"role": "workers"})],
        }
    },
}
PATCH = {
    "spec": {
        "eksConfig": {
            "tags": {"team": "b", "stage": "restarted"},
            "nodeGroups": [nodegroup("workers", desired=3, maximum=4, labels={"role": "workers"})],
        }
    }
}


def _converged(svc: Service) -> dict[str, Any] | None:
    cluster = svc.clusters().get(NAME)
    if cluster is None:
        return None
    status = cluster.get("status") or {}
    updated = condition(cluster, "Updated")
    if (
        status.get("phase") == "active"
        and status.get("appliedSpec") == cluster["spec"]["eksConfig"]
        and updated is not None
        and updated.get("status") == "True"
    ):
        return cluster
    return None


def _stored(data_dir: Path) -> Cluster:
    async def read() -> Cluster | None:
        async with SQLiteStore(data_dir / "controlplane.db") as store:
            return await store.get_cluster(NAME)

    cluster = asyncio.run(read())
    assert cluster is not None
    return cluster


def _sim_cluster(state: dict[str, Any]) -> dict[str, Any]:
    found = [c for c in state["clusters"] if c["name"] == NAME]
    assert len(found) == 1, f"EKS clusters named {NAME}: {found}"
    cluster: dict[str, Any] = found[0]
    return cluster


def _duplicates(names: list[str]) -> list[str]:
    return [name for name, count in Counter(names).items() if count > 1]


def test_sigterm_mid_update_then_restart_converges_without_duplicates(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Proc(
        "sim", ["sim", "--listen", "127.0.0.1:0", "--time-scale", SIM_TIME_SCALE], child_env(), tmp_path
    ) as sim_proc:
        sim = Http(sim_proc.wait_for(SIM_LINE, stream="stdout", timeout=30))
        # The simulated Kubernetes endpoints then verify the IAM tokens' signatures with this secret.
        sim.json("PUT", "/_sim/credentials", {ACCESS_KEY: SECRET_KEY})

        with Service(tmp_path, data, "--aws-endpoint", sim.base, name="service-1") as svc:
            credential = {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
            svc.http.json("PUT", "/v1/credentials/default/restart", credential, expect=201)
            svc.http.json("POST", "/v1/clusters", MANIFEST, expect=201)
            before = wait_until(
                lambda: _converged(svc),
                timeout=40,
                what="cluster created",
                details=lambda: svc.diagnose(NAME),
            )
            assert before["status"]["serviceAccountTokenSecret"]
            generation = before["metadata"]["generation"]

            resp = svc.http.request(
                "PATCH", f"/v1/clusters/{NAME}", PATCH, content_type="application/merge-patch+json"
            )
            assert resp.status == 200, resp.body
            assert resp.json()["metadata"]["generation"] == generation + 1
            wait_until(
                lambda: (svc.clusters()[NAME].get("status") or {}).get("phase") == "updating",
                timeout=20,
                what="cluster updating after the patch",
                details=lambda: svc.diagnose(NAME),
            )
            code, took = svc.proc.terminate(timeout=15)
            assert code == 0, svc.proc.output()
            assert took < 10, f"shutdown took {took:.1f}s"

        # Stopped mid-update: the store says so, and the spec change itself is durable.
        stopped = _stored(data)
        assert stopped.status.phase == Phase.UPDATING
        assert stopped.spec.eks_config.tags == {"team": "b", "stage": "restarted"}
        assert stopped.status.applied_spec != stopped.spec.eks_config

        with Service(tmp_path, data, "--aws-endpoint", sim.base, name="service-2") as svc:
            after = wait_until(
                lambda: _converged(svc),
                timeout=40,
                what="convergence after restart",
                details=lambda: svc.diagnose(NAME),
            )
            assert after["spec"]["eksConfig"]["nodeGroups"][0]["desiredSize"] == 3
            # (The generation may have moved on: three-way sync adopts values AWS filled in, such as the
            # node group's subnets; the patched fields are what matters.)
            assert after["spec"]["eksConfig"]["tags"] == {"team": "b", "stage": "restarted"}
            state = sim.json("GET", "/_sim/state")
            code, _ = svc.proc.terminate(timeout=15)
            assert code == 0, svc.proc.output()

        eks = _sim_cluster(state)
        assert eks["status"] == "ACTIVE"
        assert eks["tags"].items() >= {"team": "b", "stage": "restarted"}.items()
        groups = eks["nodegroups"]
        assert [g["name"] for g in groups] == ["workers"], groups
        assert (groups[0]["desiredSize"], groups[0]["minSize"], groups[0]["maxSize"]) == (3, 1, 4)
        assert groups[0]["status"] == "ACTIVE"
        in_progress = [u for u in eks["updates"] if u["status"] == "InProgress"]
        assert not in_progress, in_progress
        # One scaling request in all: the restarted service picked up the update in flight, it did not
        # send it again.
        scaling = [u for u in eks["updates"] if u["nodegroup"] == "workers" and u["type"] == "ConfigUpdate"]
        assert len(scaling) == 1, eks["updates"]

        stacks = [s["name"] for s in state["stacks"]]
        assert not _duplicates(stacks), stacks
        assert all(s["status"].endswith("_COMPLETE") for s in state["stacks"]), state["stacks"]
        assert sum(NAME in s for s in stacks) >= 2, stacks  # generated VPC and roles
        templates = [lt["name"] for lt in state["launchTemplates"]]
        assert not _duplicates(templates), templates
        assert sum(NAME in t for t in templates) == 1, templates

        code, _ = sim_proc.terminate(timeout=15)
        assert code == 0, sim_proc.output()
