from __future__ import annotations

import base64
import functools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from botocore.credentials import ReadOnlyCredentials

from controlplane.downstream import DownstreamError, DownstreamSettings, generate_service_account_token
from controlplane.metrics import REGISTRY
from controlplane.probe import ssl_context_for_ca
from controlplane.sim._kube import KubeFleet, generate_pki
from controlplane.token import TokenMinter, mint_token

CREDS = ReadOnlyCredentials("AKIDTEST", "secret", None)
NS = "/api/v1/namespaces/cattle-system"


def secrets(key: str) -> str | None:
    return "secret" if key == "AKIDTEST" else None


@pytest.fixture
async def fleet() -> AsyncIterator[KubeFleet]:
    async with KubeFleet(secret_for_access_key=secrets) as f:
        yield f


def token_for(cluster: str, creds: ReadOnlyCredentials = CREDS) -> str:
    return mint_token(cluster_name=cluster, region="us-west-2", credentials=creds)


class Api:
    """Raw HTTP access to the simulated API, to inspect what the procedure left behind."""

    def __init__(self, fleet: KubeFleet, endpoint: str, cluster: str) -> None:
        self.fleet, self.endpoint, self.token = fleet, endpoint, token_for(cluster)

    async def __call__(self, method: str, path: str, body: Any = None, **params: str) -> tuple[int, Any]:
        connector = aiohttp.TCPConnector(ssl=ssl_context_for_ca(self.fleet.ca_data))
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.request(
                method,
                self.endpoint + path,
                json=body,
                params=params or None,
                headers={"Authorization": f"Bearer {self.token}"},
            ) as response,
        ):
            return response.status, await response.json(content_type=None)


def downstream(label: str) -> float:
    return REGISTRY.get_sample_value("controlplane_downstream_requests_total", {"outcome": label}) or 0.0


@pytest.mark.anyio
async def test_generates_token_exactly_like_rancher(fleet: KubeFleet) -> None:
    endpoint = fleet.add_cluster("demo", "public")
    ok_before = downstream("ok")
    token = await generate_service_account_token(
        endpoint=endpoint, ca_data=fleet.ca_data, token=token_for("demo"), cluster_name="c-r64vb"
    )
    assert token and not token.startswith("k8s-aws-v1.")
    # GET ns (404) + POST ns + POST sa + GET role + POST binding + GET sa + (no ref) LIST + POST secret
    # + PUT sa + at least one GET of the secret.
    assert downstream("ok") - ok_before >= 9

    api = Api(fleet, endpoint, "demo")
    status, sa = await api("GET", f"{NS}/serviceaccounts/kontainer-engine")
    assert status == 200
    ref = sa["metadata"]["annotations"]["rancher.io/service-account.secret-ref"]
    ref_ns, ref_name = ref.split("/")
    assert ref_ns == "cattle-system" and ref_name.startswith("kontainer-engine-token-")

    _, secret = await api("GET", f"{NS}/secrets/{ref_name}")
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert secret["metadata"]["labels"] == {"cattle.io/service-account.name": "kontainer-engine"}
    assert secret["metadata"]["annotations"]["kubernetes.io/service-account.name"] == "kontainer-engine"
    assert secret["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "name": "kontainer-engine",
            "uid": sa["metadata"]["uid"],
        }
    ]
    assert base64.b64decode(secret["data"]["token"]).decode() == token

    _, binding = await api(
        "GET",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system-netes-default-clusterRoleBinding",
    )
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kontainer-engine", "namespace": "cattle-system", "apiGroup": ""}
    ]
    assert binding["roleRef"] == {
        "kind": "ClusterRole",
        "name": "cluster-admin",
        "apiGroup": "rbac.authorization.k8s.io",
    }
    # The returned token is a working credential for the cluster.
    api.token = token
    assert (await api("GET", "/api/v1/namespaces/default"))[0] == 200


@pytest.mark.anyio
async def test_idempotent(fleet: KubeFleet) -> None:
    endpoint = fleet.add_cluster("demo", "public")
    minter = TokenMinter()
    provider = functools.partial(minter.token, cluster_name="demo", region="us-west-2", credentials=CREDS)
    first = await generate_service_account_token(endpoint=endpoint, ca_data=fleet.ca_data, token=provider)
    second = await generate_service_account_token(endpoint=endpoint, ca_data=fleet.ca_data, token=provider)
    assert first == second
    _, listed = await Api(fleet, endpoint, "demo")(
        "GET", f"{NS}/secrets", labelSelector="cattle.io/service-account.name=kontainer-engine"
    )
    assert len(listed["items"]) == 1


@pytest.mark.anyio
async def test_recreates_missing_cluster_admin_and_falls_back_from_stale_reference(fleet: KubeFleet) -> None:
    endpoint = fleet.add_cluster("demo", "public")
    api = Api(fleet, endpoint, "demo")
    assert (await api("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin"))[0] == 200
    await api("POST", "/api/v1/namespaces", {"metadata": {"name": "cattle-system"}})
    sa = {
        "metadata": {
            "name": "kontainer-engine",
            "annotations": {"rancher.io/service-account.secret-ref": "cattle-system/gone"},
        }
    }
    await api("POST", f"{NS}/serviceaccounts", sa)
    # A labelled secret that is not a token for this SA gets deleted; a valid one gets adopted.
    bogus = {"metadata": {"name": "bogus", "labels": {"cattle.io/service-account.name": "kontainer-engine"}}}
    await api("POST", f"{NS}/secrets", bogus)
    valid = {
        "metadata": {
            "name": "adopted",
            "labels": {"cattle.io/service-account.name": "kontainer-engine"},
            "annotations": {"kubernetes.io/service-account.name": "kontainer-engine"},
        },
        "type": "kubernetes.io/service-account-token",
    }
    await api("POST", f"{NS}/secrets", valid)

    token = await generate_service_account_token(
        endpoint=endpoint, ca_data=fleet.ca_data, token=token_for("demo")
    )
    status, role = await api("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin")
    assert status == 200
    assert role["rules"] == [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ]
    assert (await api("GET", f"{NS}/secrets/bogus"))[0] == 404
    _, adopted = await api("GET", f"{NS}/secrets/adopted")
    assert base64.b64decode(adopted["data"]["token"]).decode() == token
    # Found by listing, not created: Rancher does not rewrite the reference in that case.
    _, current = await api("GET", f"{NS}/serviceaccounts/kontainer-engine")
    assert current["metadata"]["annotations"]["rancher.io/service-account.secret-ref"] == "cattle-system/gone"


@pytest.mark.anyio
async def test_wrong_token_is_401(fleet: KubeFleet) -> None:
    endpoint = fleet.add_cluster("demo", "public")
    wrong_secret = token_for("demo", ReadOnlyCredentials("AKIDTEST", "not-the-secret", None))
    unauthorized = downstream("unauthorized")
    for bad in (wrong_secret, token_for("another-cluster")):
        with pytest.raises(DownstreamError) as info:
            await generate_service_account_token(endpoint=endpoint, ca_data=fleet.ca_data, token=bad)
        assert info.value.kind == "api" and info.value.status == 401
        assert str(info.value) == "Unauthorized"
        assert bad not in str(info.value) and bad[11:40] not in repr(info.value)
    assert downstream("unauthorized") == unauthorized + 2


@pytest.mark.anyio
async def test_tls_verification_with_wrong_ca_fails(fleet: KubeFleet) -> None:
    endpoint = fleet.add_cluster("demo", "public")
    other_ca = generate_pki(["127.0.0.1"]).ca_data
    with pytest.raises(DownstreamError) as info:
        await generate_service_account_token(endpoint=endpoint, ca_data=other_ca, token=token_for("demo"))
    assert info.value.kind == "tls"
    assert "certificate" in str(info.value)
    # Nothing was created: the first request never left the TLS handshake.
    assert (await Api(fleet, endpoint, "demo")("GET", NS))[0] == 404


@pytest.mark.anyio
async def test_unreachable_endpoints_are_classified(fleet: KubeFleet) -> None:
    settings = DownstreamSettings(request_timeout=0.1)
    unresolvable = fleet.add_cluster("dark", "unresolvable")
    with pytest.raises(DownstreamError) as info:
        await generate_service_account_token(
            endpoint=unresolvable, ca_data=fleet.ca_data, token=token_for("dark"), settings=settings
        )
    assert info.value.kind == "dns"
    blackhole = fleet.add_cluster("hole", "blackhole")
    with pytest.raises(DownstreamError) as info:
        await generate_service_account_token(
            endpoint=blackhole, ca_data=fleet.ca_data, token=token_for("hole"), settings=settings
        )
    assert info.value.kind == "timeout"


@pytest.mark.anyio
async def test_token_wait_is_bounded() -> None:
    async with KubeFleet(secret_for_access_key=secrets, token_delay=60) as fleet:
        endpoint = fleet.add_cluster("slow", "public")
        settings = DownstreamSettings(token_poll_attempts=5, token_poll_interval=0.001)
        with pytest.raises(DownstreamError) as info:
            await generate_service_account_token(
                endpoint=endpoint, ca_data=fleet.ca_data, token=token_for("slow"), settings=settings
            )
    assert info.value.kind == "not_ready"
    assert str(info.value) == "error ensuring secret for service account: timed out waiting for the condition"


@pytest.mark.anyio
async def test_invalid_ca_data() -> None:
    with pytest.raises(DownstreamError) as info:
        await generate_service_account_token(endpoint="https://127.0.0.1:1", ca_data="%%%", token="t")
    assert info.value.kind == "invalid"
    broken_pem = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkFBQUEKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
    with pytest.raises(DownstreamError) as info:
        await generate_service_account_token(endpoint="https://127.0.0.1:1", ca_data=broken_pem, token="t")
    assert info.value.kind == "invalid"
