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
