"""The admin API end to end: a real aiohttp server on 127.0.0.1, the real SQLite store, a stand-in replica."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from prometheus_client import generate_latest

from controlplane import metrics
from controlplane.api import Event, Phase
from controlplane.config import AdminSettings

from ._support import AUTH, RANCHER_YAML, SECRET, Api, cluster, running_api

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path) as api:
        yield api


async def _create(api: Api, doc: dict[str, Any]) -> dict[str, Any]:
    resp = await api.client.post("/v1/clusters", json=doc, headers=AUTH)
    body = await resp.json()
    assert resp.status == 201, body
    return body  # type: ignore[no-any-return]


# --- health, readiness, auth ---------------------------------------------------------------------------


async def test_healthz_open_and_readyz_follows_the_replica(api: Api) -> None:
    resp = await api.client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}
    assert (await api.client.get("/readyz")).status == 200
    api.replica.is_ready = False
    resp = await api.client.get("/readyz")
    assert resp.status == 503
    assert (await api.client.get("/healthz")).status == 200


ROUTES = [
    ("GET", "/v1/clusters"),
    ("POST", "/v1/clusters"),
    ("GET", "/v1/clusters/demo"),
    ("PUT", "/v1/clusters/demo"),
    ("PATCH", "/v1/clusters/demo"),
    ("DELETE", "/v1/clusters/demo"),
    ("POST", "/v1/clusters/demo/sync"),
    ("GET", "/v1/clusters/demo/events"),
    ("GET", "/v1/credentials"),
    ("GET", "/v1/credentials/ns/aws"),
    ("PUT", "/v1/credentials/ns/aws"),
    ("DELETE", "/v1/credentials/ns/aws"),
    ("GET", "/v1/settings"),
    ("GET", "/v1/settings/eks-refresh-cron"),
    ("PUT", "/v1/settings/eks-refresh-cron"),
    ("GET", "/v1/nothing-here"),
]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdA=="}, {"Authorization": "Bearer"}],
)
async def test_every_v1_route_requires_the_token(api: Api, headers: dict[str, str]) -> None:
    await _create(api, cluster())
    before = await api.changes()
    for method, path in ROUTES:
        resp = await api.client.request(method, path, headers=headers, data=b'{"value": "@hourly"}')
        assert resp.status == 401, (method, path)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert "error" in await resp.json()
    assert await api.changes() == before
    assert (await api.store.get_cluster("demo")) is not None


async def test_metrics_open_by_default_and_counts_route_templates(api: Api) -> None:
    await _create(api, cluster("metrics-probe"))
    await api.client.get("/v1/clusters/metrics-probe", headers=AUTH)
    resp = await api.client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert 'route="/v1/clusters/{name}"' in text
    assert "metrics-probe" not in text
    assert "controlplane_admin_request_seconds_bucket" in text


async def test_metrics_auth_setting(tmp_path: Path) -> None:
    async with running_api(tmp_path, settings=AdminSettings(metrics_auth=True)) as api:
        resp = await api.client.get("/metrics")
        assert resp.status == 401
        assert (await api.client.get("/metrics", headers=AUTH)).status == 200
        assert (await api.client.get("/healthz")).status == 200


# --- create --------------------------------------------------------------------------------------------


async def test_create_json_persists_and_notifies_after(api: Api) -> None:
    doc = cluster()
    doc["status"] = {"phase": "active", "failureMessage": "client lies"}
    doc["metadata"]["resourceVersion"] = "99"
    body = await _create(api, doc)
    assert body["metadata"]["name"] == "demo"
    assert body["metadata"]["resourceVersion"] == "1"
    assert body["metadata"]["labels"] == {"team": "core"}
    assert body["status"].get("phase", "") == ""
    assert "failureMessage" not in body["status"]
    stored = await api.store.get_cluster("demo")
    assert stored is not None
    assert stored.spec.eks_config.kubernetes_version == "1.30"
    assert stored.spec.eks_config.logging_types == []
    assert stored.spec.eks_config.subnets == []
    assert stored.spec.eks_config.kms_key is None
    assert await api.changes() == [("created", "demo")]


async def test_create_rancher_yaml(api: Api) -> None:
    resp = await api.client.post(
        "/v1/clusters", data=RANCHER_YAML, headers={**AUTH, "Content-Type": "application/yaml"}
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["spec"]["eksConfig"]["imported"] is True
    assert body["spec"].get("syncPolicy", "three-way") == "three-way"


async def test_create_name_defaults_to_display_name(api: Api) -> None:
    doc = cluster("from-display")
    del doc["metadata"]
    body = await _create(api, doc)
    assert body["metadata"]["name"] == "from-display"


async def test_create_existing_name_is_409(api: Api) -> None:
    await _create(api, cluster())
    resp = await api.client.post("/v1/clusters", json=cluster(), headers=AUTH)
    assert resp.status == 409
    assert "already exists" in (await resp.json())["error"]
    assert await api.changes() == [("created", "demo")]


async def test_create_unknown_field_is_named(api: Api) -> None:
    doc = cluster()
    doc["spec"]["eksConfig"]["kubernetesVersoin"] = "1.30"
    resp = await api.client.post("/v1/clusters", json=doc, headers=AUTH)
    assert resp.status == 422
    body = await resp.json()
    assert "kubernetesVersoin" in body["error"]
    assert body["errors"][0]["path"] == "spec.eksConfig"
    assert body["errors"][0]["rule"] == "unknown-field"
    assert await api.store.get_cluster("demo") is None


async def test_create_validation_errors_are_all_reported(api: Api) -> None:
    doc = cluster(kubernetesVersion="banana")
    doc["spec"]["eksConfig"]["nodeGroups"][0]["minSize"] = 5
    resp = await api.client.post("/v1/clusters", json=doc, headers=AUTH)
    assert resp.status == 422
    body = await resp.json()
    paths = {e["path"] for e in body["errors"]}
    assert len(body["errors"]) >= 2
    assert all(e["rule"] and e["message"] for e in body["errors"])
    assert "spec.eksConfig.kubernetesVersion" in paths
    assert "spec.eksConfig.nodeGroups[0].minSize" in paths
    assert await api.store.get_cluster("demo") is None
    assert await api.changes() == []


@pytest.mark.parametrize(
    ("data", "content_type", "status", "needle"),
    [
        (b'{"apiVersion": ', "application/json", 400, ""),
        (b"kind: [unclosed", "application/yaml", 400, "YAML"),
        (b"", "application/json", 400, "empty"),
        (b'"just a string"', "application/json", 400, ""),
        (b"a: 1\n---\nb: 2\n", "text/yaml", 400, ""),
        (b"<xml/>", "application/xml", 415, "media type"),
        (b'{"apiVersion": "v1", "kind": "Pod"}', "application/json", 400, "unsupported"),
    ],
)
async def test_create_malformed_bodies(
    api: Api, data: bytes, content_type: str, status: int, needle: str
) -> None:
    resp = await api.client.post("/v1/clusters", data=data, headers={**AUTH, "Content-Type": content_type})
    assert resp.status == status, await resp.text()
    body = await resp.json()
    assert needle in body["error"]
    assert "Traceback" not in body["error"]


async def test_two_manifests_in_one_post_are_refused(api: Api) -> None:
    data = yaml.safe_dump_all([cluster("a"), cluster("b")])
    resp = await api.client.post("/v1/clusters", data=data, headers={**AUTH, "Content-Type": "text/yaml"})
    assert resp.status == 400
    assert "exactly one" in (await resp.json())["error"]
    assert await api.store.list_clusters() == []


async def test_body_limit_is_413(tmp_path: Path) -> None:
    async with running_api(tmp_path, settings=AdminSettings(max_body_bytes=2048)) as api:
        doc = cluster(tags={f"k{i}": "v" * 40 for i in range(100)})
        resp = await api.client.post("/v1/clusters", json=doc, headers=AUTH)
        assert resp.status == 413
        assert "too large" in (await resp.json())["error"]
        resp = await api.client.put(
            "/v1/credentials/ns/x", json={"accessKey": "A", "secretKey": "x" * 4096}, headers=AUTH
        )
        assert resp.status == 413
        assert await api.store.list_clusters() == []


# --- read ----------------------------------------------------------------------------------------------


async def test_get_and_list_with_phase_filter(api: Api) -> None:
    await _create(api, cluster("a"))
    await _create(api, cluster("b"))
    resp = await api.client.get("/v1/clusters", headers=AUTH)
    assert [c["metadata"]["name"] for c in (await resp.json())["items"]] == ["a", "b"]
    current = await api.store.get_cluster("b")
    assert current is not None
    await api.store.write_status(
        "b", msgspec.structs.replace(current.status, phase=Phase.ACTIVE), durable=True
    )
    resp = await api.client.get("/v1/clusters?phase=active", headers=AUTH)
    assert [c["metadata"]["name"] for c in (await resp.json())["items"]] == ["b"]
    resp = await api.client.get("/v1/clusters?phase=bogus", headers=AUTH)
    assert resp.status == 400
    assert "bogus" in (await resp.json())["error"]
    resp = await api.client.get("/v1/clusters/a", headers=AUTH)
    assert (await resp.json())["metadata"]["name"] == "a"
    resp = await api.client.get("/v1/clusters/nope", headers=AUTH)
    assert resp.status == 404
    assert "nope" in (await resp.json())["error"]


async def test_events_newest_last_with_limit(api: Api) -> None:
    await _create(api, cluster())
    for i in range(5):
        await api.store.append_event(
            "demo", Event(time=f"2024-01-01T00:00:0{i}Z", type="Normal", reason="R", message=f"m{i}")
        )
    resp = await api.client.get("/v1/clusters/demo/events", headers=AUTH)
    assert [e["message"] for e in (await resp.json())["items"]] == ["m0", "m1", "m2", "m3", "m4"]
    resp = await api.client.get("/v1/clusters/demo/events?limit=2", headers=AUTH)
    assert [e["message"] for e in (await resp.json())["items"]] == ["m3", "m4"]
    for bad in ("0", "-1", "x", "100000"):
        assert (await api.client.get(f"/v1/clusters/demo/events?limit={bad}", headers=AUTH)).status == 400
    assert (await api.client.get("/v1/clusters/nope/events", headers=AUTH)).status == 404


# --- replace -------------------------------------------------------------------------------------------


async def test_put_replaces_spec_and_honours_resource_version(api: Api) -> None:
    created = await _create(api, cluster())
    doc = cluster(kubernetesVersion="1.31")
    doc["metadata"]["resourceVersion"] = "12345"
    resp = await api.client.put("/v1/clusters/demo", json=doc, headers=AUTH)
    assert resp.status == 409
    assert "resourceVersion" in (await resp.json())["error"]
    stored = await api.store.get_cluster("demo")
    assert stored is not None
    assert stored.spec.eks_config.kubernetes_version == "1.30"

    doc["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    resp = await api.client.put("/v1/clusters/demo", json=doc, headers=AUTH)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["spec"]["eksConfig"]["kubernetesVersion"] == "1.31"
    assert body["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    assert body["metadata"]["generation"] == created["metadata"]["generation"] + 1
    assert ("updated", "demo") in await api.changes()

    # Without a resourceVersion the replace is unconditional; labels absent from the body are kept.
    doc = cluster(kubernetesVersion="1.32")
    del doc["metadata"]["labels"]
    resp = await api.client.put("/v1/clusters/demo", json=doc, headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    assert body["metadata"]["labels"] == {"team": "core"}
    assert body["spec"]["eksConfig"]["kubernetesVersion"] == "1.32"


async def test_put_lost_race_is_retried_without_precondition(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await _create(api, cluster())
    real = api.store.update_spec
    races = 0

    async def racing(name: str, spec: Any, *, expected_resource_version: str | None, **metadata: Any) -> Any:
        nonlocal races
        if races < 2:
            races += 1  # another writer gets in between our read and our write
            await real(name, spec, expected_resource_version=None, labels={"racer": str(races)})
        return await real(name, spec, expected_resource_version=expected_resource_version, **metadata)

    monkeypatch.setattr(api.store, "update_spec", racing)
    doc = cluster(kubernetesVersion="1.31")
    doc["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    resp = await api.client.put("/v1/clusters/demo", json=doc, headers=AUTH)
    assert resp.status == 409
    del doc["metadata"]["resourceVersion"]
    resp = await api.client.put("/v1/clusters/demo", json=doc, headers=AUTH)
    assert resp.status == 200, await resp.text()
    assert races == 2
    stored = await api.store.get_cluster("demo")
    assert stored is not None
    assert stored.spec.eks_config.kubernetes_version == "1.31"
    assert stored.metadata.labels == {"team": "core"}


async def test_put_errors(api: Api) -> None:
    await _create(api, cluster())
    resp = await api.client.put("/v1/clusters/demo", json=cluster("other"), headers=AUTH)
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["path"] == "metadata.name"
    resp = await api.client.put("/v1/clusters/missing", json=cluster("missing"), headers=AUTH)
    assert resp.status == 404
    resp = await api.client.put("/v1/clusters/demo", json=cluster(region="eu-west-1"), headers=AUTH)
    assert resp.status == 422, await resp.text()
    assert any("region" in e["path"] for e in (await resp.json())["errors"])


# --- merge patch ---------------------------------------------------------------------------------------


PATCH_HEADERS = {**AUTH, "Content-Type": "application/merge-patch+json"}


async def test_patch_null_unsets_field(api: Api) -> None:
    await _create(api, cluster())
    patch = {"spec": {"eksConfig": {"kubernetesVersion": None, "tags": {"env": None, "owner": "me"}}}}
    resp = await api.client.patch("/v1/clusters/demo", data=json.dumps(patch), headers=PATCH_HEADERS)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert "kubernetesVersion" not in body["spec"]["eksConfig"]
    stored = await api.store.get_cluster("demo")
    assert stored is not None
    assert stored.spec.eks_config.kubernetes_version is None
    assert stored.spec.eks_config.tags == {"owner": "me"}
    assert stored.spec.eks_config.node_groups is not None
    assert stored.spec.eks_config.node_groups[0].desired_size == 2
    assert (await api.changes())[-1] == ("updated", "demo")


async def test_patch_labels_and_resource_version(api: Api) -> None:
    created = await _create(api, cluster())
    patch = {"metadata": {"labels": {"team": None, "tier": "gold"}, "resourceVersion": "777"}}
    resp = await api.client.patch("/v1/clusters/demo", data=json.dumps(patch), headers=PATCH_HEADERS)
    assert resp.status == 409
    patch["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    resp = await api.client.patch("/v1/clusters/demo", data=json.dumps(patch), headers=PATCH_HEADERS)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["metadata"]["labels"] == {"tier": "gold"}
    stored = await api.store.get_cluster("demo")
    assert stored is not None
    assert stored.metadata.labels == {"tier": "gold"}


@pytest.mark.parametrize(
    ("patch", "status", "path"),
    [
        ({"status": {"phase": "active"}}, 422, "status"),
        ({"apiVersion": "x"}, 422, "apiVersion"),
        ({"metadata": {"name": "other"}}, 422, "metadata.name"),
        ({"metadata": {"generation": 5}}, 422, "metadata.generation"),
        ({"spec": None}, 422, "spec"),
        ({"spec": {"eksConfig": {"bogusField": 1}}}, 422, "spec.eksConfig"),
        ({"spec": {"eksConfig": {"nodeGroups": "many"}}}, 422, "spec.eksConfig.nodeGroups"),
        ({"spec": {"syncPolicy": "yolo"}}, 422, "spec.syncPolicy"),
    ],
)
async def test_patch_refusals(api: Api, patch: dict[str, Any], status: int, path: str) -> None:
    await _create(api, cluster())
    resp = await api.client.patch("/v1/clusters/demo", data=json.dumps(patch), headers=PATCH_HEADERS)
    assert resp.status == status, await resp.text()
    body = await resp.json()
    assert body["errors"][0]["path"] == path
    assert await api.changes() == [("created", "demo")]


async def test_patch_media_type_syntax_and_missing(api: Api) -> None:
    await _create(api, cluster())
    yaml_headers = {**AUTH, "Content-Type": "text/yaml"}
    resp = await api.client.patch("/v1/clusters/demo", data="{}", headers=yaml_headers)
    assert resp.status == 415
    resp = await api.client.patch("/v1/clusters/demo", data="{nope", headers=PATCH_HEADERS)
    assert resp.status == 400
    resp = await api.client.patch("/v1/clusters/demo", data="[1]", headers=PATCH_HEADERS)
    assert resp.status == 400
    resp = await api.client.patch("/v1/clusters/ghost", data="{}", headers=PATCH_HEADERS)
    assert resp.status == 404


# --- delete and sync -----------------------------------------------------------------------------------


async def test_delete_marks_then_notifies_and_blocks_edits(api: Api) -> None:
    await _create(api, cluster())
    resp = await api.client.delete("/v1/clusters/demo", headers=AUTH)
    assert resp.status == 202
    body = await resp.json()
    assert body["metadata"]["deletionTimestamp"]
    assert (await api.changes())[-1] == ("updated", "demo")
    stored = await api.store.get_cluster("demo")
    assert stored is not None
    assert stored.metadata.deletion_timestamp
    resp = await api.client.put("/v1/clusters/demo", json=cluster(), headers=AUTH)
    assert resp.status == 409
    assert "being deleted" in (await resp.json())["error"]
    resp = await api.client.patch("/v1/clusters/demo", data="{}", headers=PATCH_HEADERS)
    assert resp.status == 409
    assert (await api.client.delete("/v1/clusters/demo", headers=AUTH)).status == 202
    assert (await api.client.delete("/v1/clusters/ghost", headers=AUTH)).status == 404


async def test_a_protected_cluster_is_not_deleted(api: Api) -> None:
    await _create(api, cluster(deletionProtection=True))
    changes = await api.changes()
    resp = await api.client.delete("/v1/clusters/demo", headers=AUTH)
    assert resp.status == 409
    assert "deletion protection" in (await resp.json())["error"]
    stored = await api.store.get_cluster("demo")
    assert stored is not None and not stored.metadata.deletion_timestamp  # nothing marked: AWS never called
    assert await api.changes() == changes  # and no replica was told
    resp = await api.client.patch(
        "/v1/clusters/demo",
        data='{"spec": {"eksConfig": {"deletionProtection": false}}}',
        headers=PATCH_HEADERS,
    )
    assert resp.status == 200
    assert (await api.client.delete("/v1/clusters/demo", headers=AUTH)).status == 202


async def test_sync(api: Api) -> None:
    await _create(api, cluster())
    resp = await api.client.post("/v1/clusters/demo/sync", headers=AUTH)
    assert resp.status == 202
    assert (await api.changes())[-1] == ("sync", "demo")
    assert (await api.client.post("/v1/clusters/ghost/sync", headers=AUTH)).status == 404
    assert (await api.changes())[-1] == ("sync", "demo")


# --- credentials ---------------------------------------------------------------------------------------


async def test_credentials_never_return_secrets(api: Api) -> None:
    bodies: list[str] = []

    async def call(method: str, path: str, **kw: Any) -> int:
        resp = await api.client.request(method, path, headers=AUTH, **kw)
        bodies.append(await resp.text())
        bodies.append(str(resp.headers))
        return resp.status

    cred = {"accessKey": "AKIAEXAMPLE", "secretKey": SECRET, "sessionToken": SECRET + "-tok"}
    assert await call("PUT", "/v1/credentials/ns/aws", json=cred) == 201
    role = "arn:aws:iam::123456789012:role/x"
    assert await call("PUT", "/v1/credentials/ns/aws", json={**cred, "roleArn": role}) == 200
    assert await call("GET", "/v1/credentials") == 200
    assert await call("GET", "/v1/credentials/ns/aws") == 200
    assert await call("PUT", "/v1/credentials/ns/bad", json={**cred, "extra": SECRET}) == 422
    assert await call("PUT", "/v1/credentials/ns/bad", json={"secretKey": SECRET}) == 422
    bad_json = b"{" + SECRET.encode()
    assert await call("PUT", "/v1/credentials/ns/bad", data=bad_json, json=None) == 415
    json_type = {**AUTH, "Content-Type": "application/json"}
    resp = await api.client.put("/v1/credentials/ns/bad", data=bad_json, headers=json_type)
    assert resp.status == 400
    bodies.append(await resp.text())
    assert await call("PUT", "/v1/credentials/ns/bad", json={**cred, "accessKey": ""}) == 422
    info = json.loads(bodies[6])
    assert info == {
        "namespace": "ns",
        "name": "aws",
        "accessKeyId": "AKIAEXAMPLE",
        "hasSessionToken": True,
        "roleArn": role,
        "created": info["created"],
        "updated": info["updated"],
    }
    assert json.loads(bodies[4])["items"][0]["name"] == "aws"
    for text in bodies:
        assert SECRET not in text
    stored = await api.store.get_credential("ns", "aws")
    assert stored is not None
    assert stored.secret_key == SECRET
    metrics_text = generate_latest(metrics.REGISTRY).decode()
    assert SECRET not in metrics_text


async def test_credential_delete(api: Api) -> None:
    cred = {"accessKey": "AKIA", "secretKey": SECRET}
    path = "/v1/credentials/cattle-global-data/aws"
    assert (await api.client.put(path, json=cred, headers=AUTH)).status == 201
    await _create(api, cluster())
    resp = await api.client.delete("/v1/credentials/cattle-global-data/aws", headers=AUTH)
    assert resp.status == 409
    assert "demo" in (await resp.json())["error"]
    await api.store.delete_cluster("demo")
    resp = await api.client.delete("/v1/credentials/cattle-global-data/aws", headers=AUTH)
    assert resp.status == 204
    assert await api.store.get_credential("cattle-global-data", "aws") is None
    assert (await api.client.delete("/v1/credentials/cattle-global-data/aws", headers=AUTH)).status == 404
    assert (await api.client.get("/v1/credentials/cattle-global-data/aws", headers=AUTH)).status == 404


# --- settings ------------------------------------------------------------------------------------------


async def test_settings(api: Api) -> None:
    resp = await api.client.get("/v1/settings", headers=AUTH)
    assert (await resp.json()) == {"items": {"eks-refresh-cron": "*/5 * * * *"}}
    resp = await api.client.put("/v1/settings/eks-refresh-cron", json={"value": "@every 30s"}, headers=AUTH)
    assert resp.status == 200, await resp.text()
    assert (await api.changes())[-1] == ("setting", "eks-refresh-cron")
    assert await api.store.get_setting("eks-refresh-cron") == "@every 30s"

    resp = await api.client.put("/v1/settings/eks-refresh-cron", json={"value": "61 * * * *"}, headers=AUTH)
    assert resp.status == 422
    body = await resp.json()
    assert body["errors"][0]["path"] == "value"
    assert body["errors"][0]["rule"] == "eks-refresh-cron"
    assert await api.store.get_setting("eks-refresh-cron") == "@every 30s"
    resp = await api.client.get("/v1/settings/eks-refresh-cron", headers=AUTH)
    assert await resp.json() == {"name": "eks-refresh-cron", "value": "@every 30s"}

    assert (await api.client.put("/v1/settings/nope", json={"value": "1"}, headers=AUTH)).status == 404
    assert (await api.client.get("/v1/settings/nope", headers=AUTH)).status == 404
    resp = await api.client.put("/v1/settings/eks-refresh-cron", json={"value": 5}, headers=AUTH)
    assert resp.status == 422
    assert await api.changes() == [("setting", "eks-refresh-cron")]


# --- OpenAPI, errors -----------------------------------------------------------------------------------


async def test_openapi_document(api: Api) -> None:
    resp = await api.client.get("/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/v1/clusters",
        "/v1/clusters/{name}",
        "/v1/clusters/{name}/sync",
        "/v1/clusters/{name}/events",
        "/v1/credentials",
        "/v1/credentials/{namespace}/{name}",
        "/v1/settings",
        "/v1/settings/{name}",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in doc["paths"], path
    assert set(doc["paths"]["/v1/clusters/{name}"]) == {"get", "put", "patch", "delete"}
    schemas = doc["components"]["schemas"]
    assert "eksConfig" in schemas["ClusterSpec"]["properties"]
    assert "secretKey" not in json.dumps(schemas["CredentialInfo"])
    refs = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"].rsplit("/", 1)[-1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs <= set(schemas), refs - set(schemas)


async def test_unexpected_error_is_a_bare_500(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> bool:
        raise RuntimeError("secret-ish detail")

    api.replica.ready = boom  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="test.admin"):
        resp = await api.client.get("/readyz")
    assert resp.status == 500
    assert await resp.json() == {"error": "internal error"}
    assert any(r.getMessage() == "admin request failed" for r in caplog.records)


async def test_unknown_route_and_method(api: Api) -> None:
    resp = await api.client.get("/nope")
    assert resp.status == 404
    assert "error" in await resp.json()
    resp = await api.client.post("/v1/settings", headers=AUTH)
    assert resp.status == 405
    assert "error" in await resp.json()


# --- region ------------------------------------------------------------------------------------------------

REGIONLESS_YAML = """\
apiVersion: eks.cattle.io/v1
kind: EKSClusterConfig
metadata:
  name: my-cluster
spec:
  displayName: my-cluster
  imported: true
  amazonCredentialSecret: "default:demo"
"""
"""eks-operator's ``examples/import-example.yaml`` shape: no region (the operator uses the SDK's default)."""

YAML = {"Content-Type": "application/yaml", **AUTH}


async def test_a_manifest_without_region_gets_the_services_default_region(tmp_path: Path) -> None:
    async with running_api(tmp_path, default_region="eu-central-1") as api:
        resp = await api.client.post("/v1/clusters", data=REGIONLESS_YAML, headers=YAML)
        assert resp.status == 201, await resp.text()
        stored = await api.store.get_cluster("my-cluster")
        assert stored is not None and stored.spec.eks_config.region == "eu-central-1"
        # Re-applying the same manifest keeps the region it was created in (no "cannot modify region").
        resp = await api.client.put("/v1/clusters/my-cluster", data=REGIONLESS_YAML, headers=YAML)
        assert resp.status == 200, await resp.text()
        stored = await api.store.get_cluster("my-cluster")
        assert stored is not None and stored.spec.eks_config.region == "eu-central-1"


async def test_a_manifest_without_region_is_refused_when_the_service_has_no_default(api: Api) -> None:
    resp = await api.client.post("/v1/clusters", data=REGIONLESS_YAML, headers=YAML)
    body = await resp.json()
    assert resp.status == 422
    assert body["errors"] == [
        {
            "path": "spec.eksConfig.region",
            "rule": "required",
            "message": "region is required: set it in the manifest (the service has no default AWS region to "
            "fill in, from AWS_DEFAULT_REGION or the AWS config file)",
        }
    ]
    assert await api.store.get_cluster("my-cluster") is None
