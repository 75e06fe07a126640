"""Security checks of the admin server: every ``/v1`` route (taken from the router, not a list) refuses a
missing or wrong token, compared in constant time; secrets appear in no response, log line, metric or
error; ``/metrics`` is open only when configured so; a request line, header or body over its limit is
refused without the body being read into memory; a YAML bomb is a 400, not a dead process."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from controlplane import metrics
from controlplane.admin import _app
from controlplane.config import AdminSettings

from ._support import AUTH, SECRET, TOKEN, Api, cluster, running_api

pytestmark = pytest.mark.anyio

LIMIT = 64 * 1024


@pytest.fixture
async def api(tmp_path: Path) -> Any:
    async with running_api(tmp_path, settings=AdminSettings(max_body_bytes=LIMIT)) as served:
        yield served


def _v1_routes(api: Api) -> list[tuple[str, str]]:
    """(method, concrete path) of every /v1 route the application has."""
    routes = []
    for route in api.client.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("formatter") or info.get("path") or ""
        if route.method == "HEAD" or not template.startswith("/v1"):
            continue
        routes.append((route.method, re.sub(r"\{[^}]+\}", "x", template)))
    return routes


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"bearer {TOKEN[:-1]}"},
        {"Authorization": TOKEN},
    ],
)
async def test_every_v1_route_of_the_router_refuses_a_missing_or_wrong_token(
    api: Api, headers: dict[str, str]
) -> None:
    routes = _v1_routes(api)
    assert len(routes) >= 15, routes
    for method, path in routes:
        resp = await api.client.request(method, path, headers=headers, data=b"{}")
        assert resp.status == 401, (method, path)
        assert (await resp.json()) == {"error": "missing or invalid bearer token"}


async def test_the_token_is_compared_in_constant_time(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(_app.hmac, "compare_digest", spy)
    assert (await api.client.get("/v1/settings", headers={"Authorization": "Bearer guess"})).status == 401
    assert (await api.client.get("/v1/settings", headers=AUTH)).status == 200
    assert compared == [(b"guess", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


@pytest.mark.parametrize("metrics_auth", [False, True])
async def test_metrics_need_the_token_only_when_configured(tmp_path: Path, metrics_auth: bool) -> None:
    async with running_api(tmp_path, settings=AdminSettings(metrics_auth=metrics_auth)) as api:
        open_status = (await api.client.get("/metrics")).status
        assert open_status == (401 if metrics_auth else 200)
        assert (await api.client.get("/metrics", headers=AUTH)).status == 200
        assert (await api.client.get("/metrics", headers={"Authorization": "Bearer no"})).status == (
            401 if metrics_auth else 200
        )


SECRET_VARIANTS = [
    SECRET,
    SECRET * 300,  # far over any length rule
    SECRET + "\n" + SECRET,
    SECRET + "\x00",
    "  " + SECRET + "  ",
]


async def test_secrets_appear_in_no_response_log_metric_or_event(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    async def call(method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> int:
        resp = await api.client.request(method, path, headers=headers or AUTH, **kw)
        seen.append(await resp.text())
        seen.append(str(resp.headers))
        return resp.status

    for i, secret in enumerate(SECRET_VARIANTS):
        for body in (
            {"accessKey": "AKIAEXAMPLE", "secretKey": secret},
            {"accessKey": "AKIAEXAMPLE", "secretKey": secret, "sessionToken": secret},
            {"accessKey": "", "secretKey": secret},  # refused: the error must not quote the secret
            {"accessKey": "AKIAEXAMPLE", "secretKey": secret, "externalId": secret, "roleArn": "x"},
            {"accessKey": "AKIAEXAMPLE", "secretKey": secret, "extra": secret},
            {"accessKey": "AKIAEXAMPLE", "secretKey": [secret]},
        ):
            assert await call("PUT", f"/v1/credentials/ns/c{i}", json=body) < 500
        await call("PUT", f"/v1/credentials/ns/c{i}", data=b'{"secretKey": "' + secret.encode() + b"\x80")
        await call(
            "PUT", f"/v1/credentials/ns/c{i}", data=secret.encode(), headers={**AUTH, "Content-Type": "x/y"}
        )
    # A cluster that references a credential, and its events and listing.
    assert await call("POST", "/v1/clusters", json=cluster("sec", amazonCredentialSecret="ns:c0")) == 201
    for path in ("/v1/credentials", "/v1/credentials/ns/c0", "/v1/clusters", "/v1/clusters/sec/events"):
        assert await call("GET", path) == 200
    seen.append(generate_latest(metrics.REGISTRY).decode())
    seen.extend(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for event in await api.store.list_events("sec", limit=100):
        seen.append(repr(event))
    for text in seen:
        for secret in SECRET_VARIANTS:
            assert secret.strip() not in text


# --- limits ------------------------------------------------------------------------------------------------


async def _raw(api: Api, request: bytes, *, then: bytes = b"", pause: float = 0.0) -> tuple[str, int]:
    """Send ``request`` (and ``then`` after ``pause``) on a raw connection; the status line of the answer and
    how many bytes of ``then`` the server took before it answered or closed."""
    host, port = api.client.server.host, api.client.server.port
    reader, writer = await asyncio.open_connection(host, port)
    sent = 0
    try:
        writer.write(request)
        await writer.drain()
        if then:
            await asyncio.sleep(pause)
            for start in range(0, len(then), 16384):
                if reader.at_eof() or reader._buffer:  # type: ignore[attr-defined]  # an answer came
                    break
                try:
                    writer.write(then[start : start + 16384])
                    await writer.drain()
                except (ConnectionError, OSError):
                    break
                sent = start + 16384
                await asyncio.sleep(0)
        line = await asyncio.wait_for(reader.readline(), timeout=10)
        return line.decode(errors="replace").strip(), sent
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def test_a_request_line_over_the_limit_is_refused(api: Api) -> None:
    status, _ = await _raw(api, b"GET /v1/clusters/" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status.split()[1] in {"400", "414"}, status


async def test_a_header_over_the_limit_is_refused(api: Api) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n"
    status, _ = await _raw(api, request)
    assert status.split()[1] in {"400", "431"}, status
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(20_000))
    status, _ = await _raw(api, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status.split()[1] in {"400", "431"}, status


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(api: Api) -> None:
    head = (
        b"POST /v1/clusters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 100000000\r\n\r\n"
    )
    status, _ = await _raw(api, head)  # not one byte of the 100 MB body is sent
    assert status.split()[1] == "413", status


async def test_a_chunked_body_over_the_limit_is_cut_short(api: Api) -> None:
    head = (
        b"POST /v1/clusters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (4096, b"[" * 4096)
    body = chunk * 4096  # 16 MiB offered
    status, taken = await _raw(api, head, then=body)
    assert status.split()[1] == "413", status
    assert taken < 4 * LIMIT + 1_000_000, taken  # the server stopped reading near the limit


async def test_a_yaml_bomb_is_a_400_and_the_server_lives(api: Api) -> None:
    bomb = b"a: " + b"[" * 60_000 + b"]" * 60_000  # crashed libyaml's composer before the depth check
    resp = await api.client.post(
        "/v1/clusters", data=bomb[: LIMIT - 1], headers={**AUTH, "Content-Type": "application/yaml"}
    )
    assert resp.status == 400
    assert "nested too deeply" in (await resp.json())["error"]
    assert (await api.client.get("/healthz")).status == 200
