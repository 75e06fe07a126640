"""Rancher's conditions and failure messages, end to end."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controlplane.cli._clusters import _message as cli_message

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


async def served(world: World, name: str) -> dict[str, Any]:
    """The cluster as the admin API serves it: the bytes, decoded without our structs. The API reads what
    is committed (on its own store connection): the actors' batched status writes are flushed first."""
    await world.svc.store.flush()
    headers = {"Authorization": f"Bearer {world.svc.token}"}
    async with world.http.get(f"{world.svc.url}/v1/clusters/{name}", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        doc: dict[str, Any] = json.loads(await resp.read())
    return doc


def served_conditions(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in doc["status"]["conditions"]}


async def test_every_served_condition_carries_type_status_and_timestamps(world: World) -> None:
    # A private-only endpoint keeps Waiting Unknown ("waiting for cluster agent"): the case that lost its
    # status on the wire when Unknown was the struct's default.
    await world.apply(created("wire", publicAccess=False, privateAccess=True))
    await world.wait_for(
        "wire", lambda c: c.status.eks_status.private_requires_tunnel is not None and converged(c), timeout=60
    )
    doc = await served(world, "wire")
    for c in doc["status"]["conditions"]:
        assert {"type", "status", "lastUpdateTime", "lastTransitionTime"} <= c.keys(), c
        assert c["status"] in ("True", "False", "Unknown")
        assert c["lastUpdateTime"] and c["lastTransitionTime"]
    waiting = served_conditions(doc)["Waiting"]
    assert (waiting["status"], waiting["message"]) == ("Unknown", "waiting for cluster agent to be deployed")


async def test_waiting_clears_once_a_token_was_minted_through_the_api(world: World) -> None:
    await world.apply(created("ready"))
    await world.wait_for(
        "ready", lambda c: converged(c) and bool(c.status.service_account_token_secret), timeout=60
    )
    doc = await served(world, "ready")
    waiting = served_conditions(doc)["Waiting"]
    assert (waiting["status"], waiting["message"]) == ("True", "")
    # ... so `controlplane get` has nothing to say about a healthy cluster.
    assert cli_message(doc) == ""


async def test_waiting_for_nodegroups_stays_after_the_token(world: World) -> None:
    await world.apply(created("bare", nodeGroups=[]))
    cluster = await world.wait_for(
        "bare", lambda c: converged(c) and bool(c.status.service_account_token_secret), timeout=60
    )
    assert conditions(cluster)["Waiting"] == (
        "False",
        "Cluster must have at least one managed nodegroup or one self-managed node.",
    )
    assert cli_message(await served(world, "bare")).startswith("Waiting: Cluster must have")
