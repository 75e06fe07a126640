from __future__ import annotations

import pytest

from controlplane.api import Phase

from .conftest import World
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
    # The create phase polls its two stacks between messages; listing every EKS cluster of the
    # account on each poll cost 100 calls a poll in a 10,000-cluster account (the soak fell behind).
    await world.apply(created("once", nodeGroups=[]))
    await world.wait_phase("once", Phase.ACTIVE)
    calls = await world.calls()
    assert calls["cloudformation"]["CreateStack"] == 2  # VPC and service role: polled at least twice
    assert calls["cloudformation"]["DescribeStacks"] >= 3
    assert calls["eks"]["ListClusters"] == 1
