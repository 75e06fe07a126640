from __future__ import annotations

import pytest

from controlplane.api import Phase

from .conftest import World, mutating
from .manifests import created

pytestmark = pytest.mark.anyio


async def test_create_with_generated_networking_reaches_active(world: World) -> None:
    await world.apply(created("c1"))
    cluster = await world.wait_for(
        "c1",
        lambda c: c.status.phase == Phase.ACTIVE and c.status.applied_spec is not None,
        what="active with applied spec",
    )
    st = cluster.status
    assert st.network_fields_source == "generated"
    assert st.eks_status.subnets and st.eks_status.virtual_network
    assert st.api_endpoint.startswith("https://")
    assert st.ca_cert
    assert st.eks_status.managed_launch_template_id
    assert set(st.eks_status.managed_launch_template_versions) == {"ng1"}
    conditions = {c.type: (c.status, c.message) for c in st.conditions}
    assert conditions["Provisioned"] == ("True", "")
    assert conditions["Updated"] == ("True", "")
    state = await world.state()
    clusters = {c["name"]: c for c in state["clusters"]}
    assert clusters["c1"]["status"] == "ACTIVE"


async def test_duplicate_checks_run_once_per_create_not_on_every_stack_poll(world: World) -> None:
    # The create phase polls its two stacks between messages; the checks ran again on every poll
    # (they listed every EKS cluster of the account then: the soak fell behind at 10,000 clusters).
    await world.apply(created("once", nodeGroups=[]))
    await world.wait_phase("once", Phase.ACTIVE)
    calls = await world.calls()
    assert calls["cloudformation"]["CreateStack"] == 2  # VPC and service role: polled at least twice
    assert calls["cloudformation"]["DescribeStacks"] >= 3
    assert "ListClusters" not in calls["eks"]  # one DescribeCluster of the name, not every page
    assert calls["eks"]["DescribeCluster"] >= 2  # the check (not found), then the wait for ACTIVE


async def test_a_cluster_of_the_same_name_in_eks_is_refused_before_anything_is_made(world: World) -> None:
    await world.sim_post("/_sim/clusters", {"name": "taken", "version": "1.30"})
    await world.apply(created("mine", displayName="taken", nodeGroups=[]))
    cluster = await world.wait_for("mine", lambda c: bool(c.status.failure_message), what="failure")
    assert cluster.status.failure_message == (
        "cannot create cluster [taken (id: mine)] because a cluster in EKS exists with the same name"
    )
    assert cluster.status.phase.value == ""
    assert mutating(await world.calls()) == {}  # no stack, no role, no cluster


async def test_the_same_name_past_the_first_hundred_clusters_is_found(world: World) -> None:
    # The operator reads only the first page of ListClusters; this name sorts after 100 others.
    await world.sim_post("/_sim/clusters:batch", {"prefix": "a-", "count": 120, "template": {}})
    await world.sim_post("/_sim/clusters", {"name": "zz-taken", "version": "1.30"})
    await world.apply(created("late", displayName="zz-taken", nodeGroups=[]))
    cluster = await world.wait_for("late", lambda c: bool(c.status.failure_message), what="failure")
    assert "a cluster in EKS exists with the same name" in cluster.status.failure_message
