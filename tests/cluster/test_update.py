"""Every update kind, in the order EKS accepts them, and node-group bookkeeping without leaks."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from controlplane.api import EKSClusterConfigSpec

from .conftest import World, converged
from .manifests import created, nodegroup

pytestmark = pytest.mark.anyio


def ng(spec: EKSClusterConfigSpec, name: str) -> Any:
    return next(g for g in spec.node_groups or [] if g.nodegroup_name == name)


async def test_cluster_level_updates_apply_one_at_a_time(world: World) -> None:
    await world.apply(created("u1", kubernetesVersion="1.29", nodeGroups=[nodegroup("a", version="1.29")]))
    await world.wait_for("u1", converged, what="converged")
    # Version, access, CIDRs, tags and logging at once: EKS takes one update at a time.
    await world.edit(
        "u1",
        kubernetes_version="1.30",
        private_access=True,
        public_access_sources=["203.0.113.0/24"],
        tags={"team": "a"},
        logging_types=["audit", "api"],
    )
    await world.wait_for("u1", converged, timeout=60, what="converged after edits")
    c = await world.sim_cluster("u1")
    assert c["version"] == "1.30"
    assert c["privateAccess"] is True
    assert c["publicAccessSources"] == ["203.0.113.0/24"]
    assert c["tags"] == {"team": "a"}
    assert sorted(c["loggingTypes"]) == ["api", "audit"]
    updates = [u["type"] for u in c["updates"]]
    # The operator's order: version, endpoint access, CIDRs (tags have no update), logging.
    assert updates[:4] == ["VersionUpdate", "EndpointAccessUpdate", "EndpointAccessUpdate", "LoggingUpdate"]
    events = [e.reason for e in await world.svc.store.list_events("u1")]
    assert "Updating" in events


async def test_nodegroup_add_scale_upgrade_remove_without_leaking_versions(world: World) -> None:
    await world.apply(created("u2", kubernetesVersion="1.29", nodeGroups=[nodegroup("a", version="1.29")]))
    await world.wait_for("u2", converged, what="converged")
    current = (await world.get("u2")).spec.eks_config
    a = ng(current, "a")
    await world.edit(
        "u2",
        node_groups=[
            msgspec.structs.replace(a, desired_size=3, max_size=4, labels={"x": "1"}),
            msgspec.convert(nodegroup("b", version="1.29"), type=type(a)),
        ],
    )
    await world.wait_for("u2", converged, timeout=60, what="scaled and added")
    c = await world.sim_cluster("u2")
    groups = {g["name"]: g for g in c["nodegroups"]}
    assert set(groups) == {"a", "b"}
    assert groups["a"]["desiredSize"] == 3 and groups["a"]["maxSize"] == 4
    assert groups["a"]["labels"] == {"x": "1"}
    # Upgrade the cluster and the node groups; change a launch-template field of "a" too.
    current = (await world.get("u2")).spec.eks_config
    await world.edit(
        "u2",
        kubernetes_version="1.30",
        node_groups=[
            msgspec.structs.replace(ng(current, "a"), version="1.30", disk_size=50),
            msgspec.structs.replace(ng(current, "b"), version="1.30"),
        ],
    )
    await world.wait_for("u2", converged, timeout=60, what="upgraded")
    c = await world.sim_cluster("u2")
    assert c["version"] == "1.30"
    assert {g["name"]: g["version"] for g in c["nodegroups"]} == {"a": "1.30", "b": "1.30"}
    # Remove "b": its launch-template version is deleted once the cluster is back to active.
    current = (await world.get("u2")).spec.eks_config
    await world.edit("u2", node_groups=[ng(current, "a")])
    cluster = await world.wait_for(
        "u2", lambda c: converged(c) and not c.status.template_versions_to_delete, timeout=60, what="removed"
    )
    state = await world.state()
    c = next(x for x in state["clusters"] if x["name"] == "u2")
    assert [g["name"] for g in c["nodegroups"]] == ["a"]
    lt = next(t for t in state["launchTemplates"] if t["name"] == "rancher-managed-lt-u2")
    in_use = cluster.status.eks_status.managed_launch_template_versions
    # Only the placeholder version 1 and the version node group "a" runs are left.
    assert sorted(lt["versions"]) == sorted({1, int(in_use["a"])})


async def test_downgrade_is_refused_with_a_clear_failure(world: World) -> None:
    await world.apply(created("u3", kubernetesVersion="1.30", nodeGroups=[]))
    await world.wait_for("u3", converged, what="converged")
    await world.edit("u3", kubernetes_version="1.29")
    c = await world.wait_for("u3", lambda c: "cannot downgrade" in c.status.failure_message, what="failure")
    assert c.status.phase.value == "updating"
    assert (await world.sim_cluster("u3"))["version"] == "1.30"
