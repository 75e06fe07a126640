"""Watches over HTTP: events from the change feed, resume, 410, filters, bookmarks, limits, slow readers."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from aiohttp import ClientResponse

from controlplane import metrics
from controlplane.admin._keys import HUB
from controlplane.api import Cluster, ClusterStatus, Phase
from controlplane.config import AdminSettings
from controlplane.store import ChangesExpired, StoreSettings

from ._support import AUTH, TOKEN, Api, cluster, running_api

pytestmark = pytest.mark.anyio


def _struct(name: str, labels: dict[str, str] | None = None) -> Cluster:
    doc = cluster(name)
    doc["metadata"]["labels"] = labels or {}
    return msgspec.convert(doc, type=Cluster)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = AdminSettings(max_body_bytes=64 * 1024, watch_bookmark_interval=0.2, max_watches_per_token=3)
    async with running_api(tmp_path, settings=settings) as api:
        yield api


async def _watch(api: Api, query: str) -> ClientResponse:
    resp = await api.client.get(f"/v1/clusters?watch=true&{query}", headers=AUTH)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/json")
    return resp


async def _events(resp: ClientResponse, n: int, *, bookmarks: bool = False) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with anyio.fail_after(10):
        while len(out) < n:
            line = await resp.content.readline()
            assert line, f"the stream ended after {out}"
            event = json.loads(line)
            if bookmarks or event["type"] != "BOOKMARK":
                out.append(event)
    return out


def _brief(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"]["name"]) for e in events]


async def _list_rv(api: Api, query: str = "") -> str:
    resp = await api.client.get(f"/v1/clusters?{query}", headers=AUTH)
    return str((await resp.json())["metadata"]["resourceVersion"])


async def test_list_then_watch_sees_every_later_change(api: Api) -> None:
    await api.store.create_cluster(_struct("before"))
    rv = await _list_rv(api)
    resp = await _watch(api, f"resourceVersion={rv}")
    await api.store.create_cluster(_struct("a"))
    await api.store.write_status("a", ClusterStatus(phase=Phase.ACTIVE), durable=True)
    await api.store.request_sync("a")  # not an object change: no event
    await api.store.delete_cluster("a")
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] != "DELETED":
        events += await _events(resp, 1)
    # Changes that land in one feed page collapse (the object is read once, as it is then): the
    # events are an ordered subsequence of what happened, always ending with the deletion.
    types = [t for t, _ in _brief(events)]
    assert types in (["ADDED", "MODIFIED", "DELETED"], ["ADDED", "DELETED"], ["DELETED"])
    assert _brief(events)[-1] == ("DELETED", "a")
    if types[0] == "ADDED":
        assert events[0]["object"]["spec"]["eksConfig"]["displayName"] == "a"
        assert events[0]["object"]["metadata"]["resourceVersion"] == "1"  # the object's own version
    seqs = [int(e["resourceVersion"]) for e in events]
    assert seqs == sorted(seqs) and seqs[0] > int(rv)
    resp.close()


async def test_resume_from_an_event_replays_only_what_followed(api: Api) -> None:
    rv = await _list_rv(api)
    resp = await _watch(api, f"resourceVersion={rv}")
    await api.store.create_cluster(_struct("one"))
    (first,) = await _events(resp, 1)
    resp.close()
    for name in ("two", "three"):
        await api.store.create_cluster(_struct(name))
    resp = await _watch(api, f"resourceVersion={first['resourceVersion']}")
    assert _brief(await _events(resp, 2)) == [("ADDED", "two"), ("ADDED", "three")]
    await api.store.create_cluster(_struct("four"))  # live, after the replay
    assert _brief(await _events(resp, 1)) == [("ADDED", "four")]
    resp.close()


async def test_watch_without_a_resource_version_starts_now_and_bookmarks(api: Api) -> None:
    await api.store.create_cluster(_struct("old"))
    resp = await _watch(api, "timeoutSeconds=5")
    head = await api.store.head()
    (mark,) = await _events(resp, 1, bookmarks=True)
    assert mark["type"] == "BOOKMARK"
    assert int(mark["resourceVersion"]) == head
    assert mark["object"]["metadata"]["resourceVersion"] == mark["resourceVersion"]
    resp.close()


async def test_timeout_seconds_ends_the_stream(api: Api) -> None:
    resp = await _watch(api, "timeoutSeconds=1")
    with anyio.fail_after(10):
        body = await resp.read()
    assert all(json.loads(line)["type"] == "BOOKMARK" for line in body.splitlines())


async def test_filtered_watch_and_summary_rows(api: Api) -> None:
    rv = await _list_rv(api)
    resp = await _watch(api, f"resourceVersion={rv}&labelSelector=env%3Dprod&view=summary")
    await api.store.create_cluster(_struct("dev-1", {"env": "dev"}))
    prod = await api.store.create_cluster(_struct("prod-1", {"env": "prod"}))
    (added,) = await _events(resp, 1)
    assert added["type"] == "ADDED"
    assert added["object"]["name"] == "prod-1"
    assert added["object"]["labels"] == {"env": "prod"}
    await api.store.update_spec("prod-1", prod.spec, expected_resource_version=None, labels={"env": "dev"})
    (gone,) = await _events(resp, 1)
    assert (gone["type"], gone["object"]["name"]) == ("DELETED", "prod-1")  # it left the selection
    resp.close()


async def test_bad_watch_parameters(api: Api) -> None:
    for query, message in [
        ("resourceVersion=abc", "invalid resourceVersion 'abc'"),
        ("limit=5", "limit and continue apply to lists"),
        ("labelSelector=a%20in", "invalid labelSelector"),
    ]:
        resp = await api.client.get(f"/v1/clusters?watch=true&{query}", headers=AUTH)
        assert resp.status == 400
        assert message in (await resp.json())["error"]


async def test_watches_are_bounded_per_token(api: Api) -> None:
    streams = [await _watch(api, "") for _ in range(3)]
    resp = await api.client.get("/v1/clusters?watch=true", headers=AUTH)
    assert resp.status == 429
    assert "limit is 3 (admin.max_watches_per_token)" in (await resp.json())["error"]
    streams.pop().close()
    hub = api.client.app[HUB]  # type: ignore[union-attr]
    with anyio.fail_after(5):
        while hub.watches > 2:
            await anyio.sleep(0.01)  # the server learns of the close when it writes next
    streams.append(await _watch(api, ""))
    for s in streams:
        s.close()


async def test_a_position_too_old_is_410_gone(tmp_path: Path) -> None:
    fast_trim = StoreSettings(feed_poll_interval=0.01, change_retention=0.05)
    async with running_api(tmp_path, store_settings=fast_trim) as api:
        await api.store.create_cluster(_struct("a"))
        await api.store.create_cluster(_struct("b"))
        with anyio.fail_after(5):
            while True:
                try:
                    await api.store.changes_since(1)
                except ChangesExpired:
                    break
                await anyio.sleep(0.02)
        resp = await api.client.get("/v1/clusters?watch=true&resourceVersion=1", headers=AUTH)
        assert resp.status == 410
        assert "list again" in (await resp.json())["error"]


async def test_a_slow_reader_is_disconnected_not_buffered(tmp_path: Path) -> None:
    settings = AdminSettings(watch_buffer=4, watch_bookmark_interval=30.0)
    async with running_api(tmp_path, settings=settings) as api:
        hub = api.client.app[HUB]  # type: ignore[union-attr]
        ends = metrics.REGISTRY.get_sample_value(
            "controlplane_admin_watch_ends_total", {"reason": "slow_reader"}
        )
        host, port = api.client.server.host, api.client.server.port  # type: ignore[union-attr]
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with sock:
            sock.settimeout(5)
            await anyio.to_thread.run_sync(sock.connect, (host, port))
            request = (
                f"GET /v1/clusters?watch=true HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {TOKEN}\r\n\r\n"
            )
            await anyio.to_thread.run_sync(sock.sendall, request.encode())
            with anyio.fail_after(5):
                while hub.watches < 1:
                    await anyio.sleep(0.01)
            big = "x" * 60_000  # each event carries it: the socket buffers fill after a few dozen
            for i in range(200):
                await api.store.create_cluster(_struct(f"c-{i:03d}"))
                await api.store.write_status(f"c-{i:03d}", ClusterStatus(failure_message=big), durable=True)
                if hub.watches == 0:
                    break
            with anyio.fail_after(10):
                while hub.watches:
                    await anyio.sleep(0.01)
        after = metrics.REGISTRY.get_sample_value(
            "controlplane_admin_watch_ends_total", {"reason": "slow_reader"}
        )
        assert (after or 0) == (ends or 0) + 1
