from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
from botocore.credentials import ReadOnlyCredentials

from controlplane.probe import ssl_context_for_ca
from controlplane.sim._kube import KubeFleet, generate_pki
from controlplane.token import mint_token

CREDS = ReadOnlyCredentials("AKIDTEST", "secret", None)
SA_TOKEN = "kubernetes.io/service-account-token"


def secrets(key: str) -> str | None:
    return "secret" if key == "AKIDTEST" else None


@pytest.fixture
async def fleet() -> AsyncIterator[KubeFleet]:
    async with KubeFleet(secret_for_access_key=secrets, token_delay=0.005) as f:
        yield f


@pytest.fixture
async def http(fleet: KubeFleet) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=ssl_context_for_ca(fleet.ca_data))
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


class Api:
    def __init__(self, http: aiohttp.ClientSession, endpoint: str, token: str | None) -> None:
        self.http, self.endpoint, self.token = http, endpoint, token

    async def __call__(self, method: str, path: str, body: Any = None, **params: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(
            method, self.endpoint + path, json=body, headers=headers, params=params or None
        ) as response:
            return response.status, await response.json(content_type=None)


def api_for(http: aiohttp.ClientSession, endpoint: str, cluster: str) -> Api:
    return Api(http, endpoint, mint_token(cluster_name=cluster, region="us-east-1", credentials=CREDS))


@pytest.mark.anyio
async def test_lifecycle_misuse_is_precise() -> None:
    fleet = KubeFleet()
    with pytest.raises(RuntimeError, match="before it is started"):
        _ = fleet.ca_data
    with pytest.raises(RuntimeError, match="new"):
        fleet.add_cluster("a", "public")
    async with fleet:
        with pytest.raises(RuntimeError, match="running"):
            await fleet.__aenter__()
        with pytest.raises(ValueError):
            fleet.add_cluster("bad/name", "public")
        with pytest.raises(ValueError):
            fleet.add_cluster("ok", "private")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="closed"):
        fleet.add_cluster("a", "public")


@pytest.mark.anyio
async def test_endpoint_shapes(fleet: KubeFleet) -> None:
    public = fleet.add_cluster("demo", "public")
    assert public.startswith("https://127.0.0.1:") and public.endswith("/k8s/demo")
    assert fleet.add_cluster("My_Cluster-1", "unresolvable") == "https://my-cluster-1.unresolvable.invalid"
    blackhole = fleet.add_cluster("hidden", "blackhole")
    assert blackhole.startswith("https://127.0.0.1:") and blackhole.count("/") == 2
    assert blackhole != public.split("/k8s/")[0]
    assert fleet.endpoint("demo") == public
    # Changing access keeps the cluster; the URL follows the mode.
    assert fleet.add_cluster("hidden", "public").endswith("/k8s/hidden")
    # The CA is base64 of a PEM certificate.
    assert base64.b64decode(fleet.ca_data).startswith(b"-----BEGIN CERTIFICATE-----")


@pytest.mark.anyio
async def test_tls_is_verifiable_with_ca_data_only(fleet: KubeFleet) -> None:
    endpoint = fleet.add_cluster("demo", "public")
    good = aiohttp.TCPConnector(ssl=ssl_context_for_ca(fleet.ca_data))
    async with aiohttp.ClientSession(connector=good) as session, session.get(endpoint + "/version") as r:
        assert r.status == 200
        assert (await r.json())["major"] == "1"
    other_ca = generate_pki(["127.0.0.1"]).ca_data
    bad = aiohttp.TCPConnector(ssl=ssl_context_for_ca(other_ca))
    async with aiohttp.ClientSession(connector=bad) as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(endpoint + "/version")


@pytest.mark.anyio
async def test_authentication(fleet: KubeFleet, http: aiohttp.ClientSession) -> None:
    endpoint = fleet.add_cluster("demo", "public")
    fleet.add_cluster("other", "public")
    status, body = await Api(http, endpoint, None)("GET", "/api/v1/namespaces/default")
    assert status == 401
    assert body["kind"] == "Status" and body["reason"] == "Unauthorized" and body["code"] == 401
    # A token signed for another cluster fails the signature check (the secret is known).
    status, _ = await api_for(http, endpoint, "other")("GET", "/api/v1/namespaces/default")
    assert status == 401
    # Wrong secret.
    wrong = mint_token(
        cluster_name="demo", region="us-east-1", credentials=ReadOnlyCredentials("AKIDTEST", "nope", None)
    )
    status, _ = await Api(http, endpoint, wrong)("GET", "/api/v1/namespaces/default")
    assert status == 401
    # Garbage and non-bearer schemes.
    assert (await Api(http, endpoint, "k8s-aws-v1.garbage")("GET", "/api"))[0] == 401
    # A key the simulator has no secret for is checked structurally only.
    unknown = mint_token(
        cluster_name="demo", region="us-east-1", credentials=ReadOnlyCredentials("AKIDOTHER", "x", None)
    )
    assert (await Api(http, endpoint, unknown)("GET", "/api/v1/namespaces/default"))[0] == 200
    status, body = await api_for(http, endpoint, "demo")("GET", "/api/v1/namespaces/default")
    assert status == 200
    assert body["kind"] == "Namespace" and body["apiVersion"] == "v1"
    assert body["metadata"]["name"] == "default" and body["status"]["phase"] == "Active"


@pytest.mark.anyio
async def test_unknown_and_non_public_clusters_are_not_served(
    fleet: KubeFleet, http: aiohttp.ClientSession
) -> None:
    endpoint = fleet.add_cluster("demo", "public")
    base = endpoint.rsplit("/", 1)[0]
    status, body = await api_for(http, base + "/nope", "nope")("GET", "/api")
    assert status == 404 and body["reason"] == "NotFound"
    fleet.add_cluster("demo", "blackhole")
    assert (await api_for(http, endpoint, "demo")("GET", "/api"))[0] == 404
    fleet.add_cluster("demo", "public")
    assert (await api_for(http, endpoint, "demo")("GET", "/api"))[0] == 200
    fleet.remove_cluster("demo")
    assert (await api_for(http, endpoint, "demo")("GET", "/api"))[0] == 404


@pytest.mark.anyio
async def test_crud_and_status_objects(fleet: KubeFleet, http: aiohttp.ClientSession) -> None:
    api = api_for(http, fleet.add_cluster("demo", "public"), "demo")
    status, body = await api("GET", "/api/v1/namespaces/cattle-system")
    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'namespaces "cattle-system" not found',
        "reason": "NotFound",
        "code": 404,
        "details": {"name": "cattle-system", "kind": "namespaces"},
    }
    # Namespaced objects need their namespace.
    sa = {"metadata": {"name": "kontainer-engine"}}
    status, body = await api("POST", "/api/v1/namespaces/cattle-system/serviceaccounts", sa)
    assert status == 404 and body["reason"] == "NotFound"
    status, body = await api("POST", "/api/v1/namespaces", {"metadata": {"name": "cattle-system"}})
    assert status == 201 and body["kind"] == "Namespace"
    status, body = await api("POST", "/api/v1/namespaces/cattle-system/serviceaccounts", sa)
    assert status == 201
    assert body["kind"] == "ServiceAccount" and body["metadata"]["namespace"] == "cattle-system"
    assert (
        body["metadata"]["uid"]
        and body["metadata"]["resourceVersion"]
        and body["metadata"]["creationTimestamp"]
    )
    status, body = await api("POST", "/api/v1/namespaces/cattle-system/serviceaccounts", sa)
    assert status == 409 and body["reason"] == "AlreadyExists"
    assert body["message"] == 'serviceaccounts "kontainer-engine" already exists'

    # Optimistic concurrency on update.
    _, current = await api("GET", "/api/v1/namespaces/cattle-system/serviceaccounts/kontainer-engine")
    stale = {**current, "metadata": {**current["metadata"], "annotations": {"a": "1"}}}
    status, updated = await api(
        "PUT", "/api/v1/namespaces/cattle-system/serviceaccounts/kontainer-engine", stale
    )
    assert status == 200 and updated["metadata"]["annotations"] == {"a": "1"}
    assert updated["metadata"]["uid"] == current["metadata"]["uid"]
    status, body = await api(
        "PUT", "/api/v1/namespaces/cattle-system/serviceaccounts/kontainer-engine", stale
    )
    assert status == 409 and body["reason"] == "Conflict"

    # RBAC: cluster-admin exists like on a real cluster; bindings are created and conflict.
    status, role = await api("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin")
    assert status == 200 and role["kind"] == "ClusterRole" and role["rules"][0]["verbs"] == ["*"]
    binding = {
        "metadata": {"name": "system-netes-default-clusterRoleBinding"},
        "subjects": [{"kind": "ServiceAccount", "name": "kontainer-engine", "namespace": "cattle-system"}],
        "roleRef": {"kind": "ClusterRole", "name": "cluster-admin", "apiGroup": "rbac.authorization.k8s.io"},
    }
    path = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
    assert (await api("POST", path, binding))[0] == 201
    assert (await api("POST", path, binding))[1]["reason"] == "AlreadyExists"

    # Delete.
    status, body = await api("DELETE", "/api/v1/namespaces/cattle-system/serviceaccounts/kontainer-engine")
    assert status == 200 and body["status"] == "Success"
    assert (await api("DELETE", "/api/v1/namespaces/cattle-system/serviceaccounts/kontainer-engine"))[
        0
    ] == 404
    # Unknown paths and verbs.
    assert (await api("GET", "/api/v1/pods"))[0] == 404
    assert (await api("PATCH", "/api/v1/namespaces/default"))[0] == 405


@pytest.mark.anyio
async def test_token_controller_fills_and_issued_token_authenticates(
    fleet: KubeFleet, http: aiohttp.ClientSession
) -> None:
    endpoint = fleet.add_cluster("demo", "public")
    api = api_for(http, endpoint, "demo")
    await api("POST", "/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "robot"}})
    secret = {
        "metadata": {
            "generateName": "robot-token-",
            "annotations": {"kubernetes.io/service-account.name": "robot"},
            "labels": {"cattle.io/service-account.name": "robot"},
        },
        "type": SA_TOKEN,
    }
    status, created = await api("POST", "/api/v1/namespaces/default/secrets", secret)
    assert status == 201
    name = created["metadata"]["name"]
    assert name.startswith("robot-token-") and len(name) == len("robot-token-") + 5
    assert created["data"] == {}  # not filled yet: the client must wait
    with anyio.fail_after(1):
        while True:
            _, current = await api("GET", f"/api/v1/namespaces/default/secrets/{name}")
            if current["data"].get("token"):
                break
            await anyio.sleep(0.002)
    data = {k: base64.b64decode(v).decode() for k, v in current["data"].items()}
    assert data["namespace"] == "default"
    assert data["ca.crt"] == base64.b64decode(fleet.ca_data).decode()
    assert current["metadata"]["annotations"]["kubernetes.io/service-account.uid"]
    # The issued token is a bearer credential for this cluster, until its secret is deleted.
    sa_api = Api(http, endpoint, data["token"])
    assert (await sa_api("GET", "/api/v1/namespaces/default"))[0] == 200
    other = fleet.add_cluster("other", "public")
    assert (await Api(http, other, data["token"])("GET", "/api/v1/namespaces/default"))[0] == 401

    # Label selectors.
    _, listed = await api(
        "GET", "/api/v1/namespaces/default/secrets", labelSelector="cattle.io/service-account.name=robot"
    )
    assert listed["kind"] == "SecretList" and [i["metadata"]["name"] for i in listed["items"]] == [name]
    _, listed = await api(
        "GET", "/api/v1/namespaces/default/secrets", labelSelector="cattle.io/service-account.name!=robot"
    )
    assert listed["items"] == []
    _, listed = await api(
        "GET", "/api/v1/namespaces/default/secrets", labelSelector="!cattle.io/service-account.name"
    )
    assert listed["items"] == []

    assert (await api("DELETE", f"/api/v1/namespaces/default/secrets/{name}"))[0] == 200
    assert (await sa_api("GET", "/api/v1/namespaces/default"))[0] == 401


@pytest.mark.anyio
async def test_token_secret_validation_and_orphans(fleet: KubeFleet, http: aiohttp.ClientSession) -> None:
    api = api_for(http, fleet.add_cluster("demo", "public"), "demo")
    status, body = await api(
        "POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": "t"}, "type": SA_TOKEN}
    )
    assert status == 422 and body["reason"] == "Invalid"
    orphan = {
        "metadata": {"name": "orphan", "annotations": {"kubernetes.io/service-account.name": "ghost"}},
        "type": SA_TOKEN,
    }
    assert (await api("POST", "/api/v1/namespaces/default/secrets", orphan))[0] == 201
    await anyio.sleep(0.01)
    # Kubernetes' token controller deletes token secrets of service accounts that do not exist.
    assert (await api("GET", "/api/v1/namespaces/default/secrets/orphan"))[0] == 404
    status, created = await api(
        "POST",
        "/api/v1/namespaces/default/secrets",
        {"metadata": {"name": "plain"}, "stringData": {"k": "v"}},
    )
    assert (
        status == 201
        and created["type"] == "Opaque"
        and created["data"] == {"k": base64.b64encode(b"v").decode()}
    )


@pytest.mark.anyio
async def test_discovery(fleet: KubeFleet, http: aiohttp.ClientSession) -> None:
    api = api_for(http, fleet.add_cluster("demo", "public"), "demo")
    assert (await api("GET", "/api"))[1]["versions"] == ["v1"]
    groups = (await api("GET", "/apis"))[1]["groups"]
    assert [g["name"] for g in groups] == ["rbac.authorization.k8s.io"]
    resources = {r["name"]: r for r in (await api("GET", "/api/v1"))[1]["resources"]}
    assert resources["secrets"]["namespaced"] and not resources["namespaces"]["namespaced"]
    rbac = (await api("GET", "/apis/rbac.authorization.k8s.io/v1"))[1]
    assert "clusterrolebindings" in {r["name"] for r in rbac["resources"]}


@pytest.mark.anyio
async def test_blackhole_accepts_and_never_answers(fleet: KubeFleet) -> None:
    endpoint = fleet.add_cluster("hidden", "blackhole")
    host, port = endpoint.removeprefix("https://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"\x16\x03\x01\x00\x05hello")  # looks like the start of a ClientHello
        await writer.drain()
        with anyio.move_on_after(0.05) as scope:
            await reader.read(1)
        assert scope.cancelled_caught  # no answer, no close
        assert fleet.blackhole_connections == 1
    finally:
        writer.close()
        await writer.wait_closed()
    with anyio.fail_after(1):
        while fleet.blackhole_connections:
            await anyio.sleep(0.005)


@pytest.mark.anyio
async def test_close_drops_held_connections() -> None:
    async with KubeFleet() as fleet:
        host, port = fleet.add_cluster("hidden", "blackhole").removeprefix("https://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        with anyio.fail_after(1):
            while not fleet.blackhole_connections:
                await anyio.sleep(0.002)
    with anyio.fail_after(1):
        assert await reader.read(1) == b""  # the listener closed it
    writer.close()


def test_generated_pki_verifies() -> None:
    pki = generate_pki(["127.0.0.1", "localhost"])
    client = ssl_context_for_ca(pki.ca_data)
    server = pki.server_context()
    assert isinstance(server, ssl.SSLContext)
    assert client.verify_mode == ssl.CERT_REQUIRED and client.check_hostname
