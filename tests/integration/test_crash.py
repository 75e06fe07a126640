"""SIGKILL at many points of create, update and delete: after each restart the cluster converges and AWS
(a standalone simulator that outlives every service process) never holds a duplicate or a leak."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ._procs import SIM_LINE, Http, Proc, Service, child_env, nodegroup, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

NAME = "crashy"
# Kill delays after each start (seconds): spread over the phases of the lifecycle at this time scale.
KILL_AFTER = (0.4, 0.8, 1.2, 1.6, 2.0)


def manifest(nodegroups: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "eks-controlplane.io/v1",
        "kind": "Cluster",
        "metadata": {"name": NAME},
        "spec": {
            "eksConfig": {
                "displayName": NAME,
                "region": "us-west-2",
                "amazonCredentialSecret": "default:crash",
                "kubernetesVersion": "1.30",
                "publicAccess": True,
                "privateAccess": False,
                "secretsEncryption": False,
                "ebsCSIDriver": True,
                "tags": {},
                "subnets": [],
                "securityGroups": [],
                "loggingTypes": [],
                "publicAccessSources": [],
                "nodeGroups": nodegroups,
            }
        },
    }


def assert_no_duplicates(state: dict[str, Any], nodegroups: set[str]) -> None:
    clusters = [c for c in state["clusters"] if c["name"] == NAME]
    assert len(clusters) <= 1, state["clusters"]
    if clusters:
        names = [g["name"] for g in clusters[0]["nodegroups"]]
        assert len(names) == len(set(names)) and set(names) <= nodegroups | set(names)
    stacks = Counter(s["name"] for s in state["stacks"])
    assert all(n == 1 for n in stacks.values()), stacks
    templates = Counter(t["name"] for t in state["launchTemplates"])
    assert all(n == 1 for n in templates.values()), templates


def converged(svc: Service) -> bool:
    c = svc.clusters().get(NAME)
    if c is None:
        return False
    st = c["status"]
    return bool(st.get("phase") == "active" and st.get("appliedSpec") == c["spec"]["eksConfig"])


def kill_and_restart(workdir: Path, data: Path, sim_url: str, sim: Http, run: int) -> None:
    """One service lifetime cut short by SIGKILL after KILL_AFTER[run]."""
    with Service(workdir, data, "--aws-endpoint", sim_url, name=f"service-{run}") as svc:
        time.sleep(KILL_AFTER[run % len(KILL_AFTER)])
        svc.proc.kill()  # SIGKILL: no shutdown hook runs
    assert_no_duplicates(sim.json("GET", "/_sim/state"), set())


def settle(workdir: Path, data: Path, sim_url: str, name: str, done: Any) -> dict[str, Any]:
    with Service(workdir, data, "--aws-endpoint", sim_url, name=name) as svc:
        wait_until(lambda: done(svc), timeout=90, what=f"{name}: converged", details=svc.diagnose)
        return svc.clusters().get(NAME) or {}


def test_sigkill_at_many_points_converges_without_duplicates(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Proc(
        "sim", ["sim", "--listen", "127.0.0.1:0", "--time-scale", "0.05"], child_env(), tmp_path
    ) as sim_proc:
        sim_url = sim_proc.wait_for(SIM_LINE, stream="stdout")
        sim = Http(sim_url)
        with Service(tmp_path, data, "--aws-endpoint", sim_url, name="service-setup") as svc:
            svc.http.json(
                "PUT",
                "/v1/credentials/default/crash",
                {"accessKey": "AKIDCRASHTEST0001", "secretKey": "crash-secret"},
                expect=201,
            )
            svc.http.json("POST", "/v1/clusters", manifest([nodegroup("a")]), expect=201)
            svc.proc.kill()
        # Create: killed again and again while stacks, the cluster, the node group and the addon are made.
        for run in range(len(KILL_AFTER)):
            kill_and_restart(tmp_path, data, sim_url, sim, run)
        cluster = settle(tmp_path, data, sim_url, "service-create", converged)
        state = sim.json("GET", "/_sim/state")
        assert_no_duplicates(state, {"a"})
        sim_cluster = next(c for c in state["clusters"] if c["name"] == NAME)
        assert [g["name"] for g in sim_cluster["nodegroups"]] == ["a"]
        assert [a["name"] for a in sim_cluster["addons"]] == ["aws-ebs-csi-driver"]
        lt = next(t for t in state["launchTemplates"] if t["name"] == f"rancher-managed-lt-{NAME}")
        used = {int(v) for v in cluster["status"]["eksStatus"]["managedLaunchTemplateVersions"].values()}
        assert sorted(lt["versions"]) == sorted({1} | used), "launch template versions leaked"

        # Update: add a node group and scale the first, killed in flight.
        with Service(tmp_path, data, "--aws-endpoint", sim_url, name="service-edit") as svc:
            current = svc.clusters()[NAME]
            body = manifest([nodegroup("a", desired=2), nodegroup("b")])
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            svc.http.json("PUT", f"/v1/clusters/{NAME}", body)
            time.sleep(0.3)
            svc.proc.kill()
        for run in range(3):
            kill_and_restart(tmp_path, data, sim_url, sim, run)
        cluster = settle(tmp_path, data, sim_url, "service-update", converged)
        state = sim.json("GET", "/_sim/state")
        assert_no_duplicates(state, {"a", "b"})
        groups = {g["name"]: g for g in next(c for c in state["clusters"] if c["name"] == NAME)["nodegroups"]}
        assert set(groups) == {"a", "b"} and groups["a"]["desiredSize"] == 2
        lt = next(t for t in state["launchTemplates"] if t["name"] == f"rancher-managed-lt-{NAME}")
        used = {int(v) for v in cluster["status"]["eksStatus"]["managedLaunchTemplateVersions"].values()}
        assert sorted(lt["versions"]) == sorted({1} | used), "launch template versions leaked"

        # Delete: killed while node groups, the cluster and the stacks go away.
        with Service(tmp_path, data, "--aws-endpoint", sim_url, name="service-delete") as svc:
            svc.http.json("DELETE", f"/v1/clusters/{NAME}", expect=202)
            time.sleep(0.3)
            svc.proc.kill()
        for run in range(3):
            kill_and_restart(tmp_path, data, sim_url, sim, run)
        settle(tmp_path, data, sim_url, "service-deleted", lambda svc: NAME not in svc.clusters())
        state = sim.json("GET", "/_sim/state")
        assert state["clusters"] == [] and state["launchTemplates"] == [] and state["stacks"] == [], state
