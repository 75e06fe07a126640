"""Rancher's conditions and failure messages, end to end."""

from __future__ import annotations

import pytest

from .conftest import World, converged
from .manifests import created, imported

pytestmark = pytest.mark.anyio


def conditions(cluster: object) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.message) for c in cluster.status.conditions}  # type: ignore[attr-defined]


async def test_no_nodegroups_is_reported_like_rancher(world: World) -> None:
    await world.apply(created("empty", nodeGroups=[]))
    cluster = await world.wait_for("empty", converged, what="converged")
    got = conditions(cluster)
    assert got["Waiting"] == (
        "False",
        "Cluster must have at least one managed nodegroup or one self-managed node.",
    )
    assert got["Provisioned"] == ("True", "")
    assert got["Updated"] == ("True", "")


async def test_missing_credential_fails_create_with_rancher_message(world: World) -> None:
    await world.apply(created("nocred", amazonCredentialSecret="default:missing"))
    cluster = await world.wait_for("nocred", lambda c: bool(c.status.failure_message), what="failure")
    assert cluster.status.failure_message.startswith("error getting secret default/missing")
    assert conditions(cluster)["Provisioned"] == ("False", cluster.status.failure_message)
    assert cluster.status.phase.value == ""


async def test_import_of_missing_cluster_keeps_importing_with_failure(world: World) -> None:
    await world.apply(imported("ghost"))
    cluster = await world.wait_for("ghost", lambda c: bool(c.status.failure_message), what="failure")
    assert cluster.status.phase.value == "importing"
    assert "No cluster found for name: ghost." in cluster.status.failure_message
    got = conditions(cluster)
    assert got["Provisioned"][0] == "False"
    # Pending is Unknown (absent) while an imported cluster is not yet active.
    assert got.get("Pending", ("Unknown", ""))[0] == "Unknown"


async def test_duplicate_display_name_is_refused(world: World) -> None:
    await world.apply(created("first", nodeGroups=[]))
    await world.wait_for("first", converged, what="converged")
    second = created("second", nodeGroups=[])
    second["spec"]["eksConfig"]["displayName"] = "first"
    await world.apply(second)
    cluster = await world.wait_for("second", lambda c: bool(c.status.failure_message), what="failure")
    assert cluster.status.failure_message == (
        "cannot create cluster [first (id: second)] because an eksclusterconfig exists with the same name"
    )
