"""A tiny scripted AWS endpoint on 127.0.0.1 for what moto lacks: paging, throttling, errors,
concurrency observation, and EC2 DeleteLaunchTemplateVersions."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Fault:
    status: int
    code: str
    message: str


@dataclass
class FakeAws:
    url: str = ""
    page_size: int = 2
    clusters: list[str] = field(default_factory=list)
    nodegroups: list[str] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)
    addons: list[str] = field(default_factory=list)
    addon_versions: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    """Returned in order to the next EKS requests, before normal answers resume."""
    always: Fault | None = None
    delay: float = 0.0
    default_versions: set[int] = field(default_factory=lambda: {1})
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ec2_batches: list[list[int]] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0


def _page(items: list[str], request: web.Request, size: int, key: str) -> web.Response:
    start = int(request.query.get("nextToken", "0"))
    body: dict[str, object] = {key: items[start : start + size]}
    if start + size < len(items):
        body["nextToken"] = str(start + size)
    return web.json_response(body)


def _eks_error(fault: Fault) -> web.Response:
    return web.Response(
        status=fault.status,
        text=json.dumps({"message": fault.message}),
        content_type="application/json",
        headers={"x-amzn-ErrorType": f"{fault.code}:http://internal.amazon.com/"},
    )


def build_app(fake: FakeAws) -> web.Application:
    @web.middleware
    async def observe(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        fake.in_flight += 1
        fake.peak_in_flight = max(fake.peak_in_flight, fake.in_flight)
        try:
            if fake.delay:
                await asyncio.sleep(fake.delay)
            if request.method != "POST" or request.path != "/":
                fault = fake.faults.pop(0) if fake.faults else fake.always
                if fault is not None:
                    fake.calls[f"fault:{fault.code}"] += 1
                    return _eks_error(fault)
            return await handler(request)
        finally:
            fake.in_flight -= 1

    async def list_clusters(request: web.Request) -> web.Response:
        fake.calls["ListClusters"] += 1
        return _page(fake.clusters, request, fake.page_size, "clusters")

    async def describe_cluster(request: web.Request) -> web.Response:
        fake.calls["DescribeCluster"] += 1
        name = request.match_info["name"]
        return web.json_response({"cluster": {"name": name, "status": "ACTIVE", "version": "1.31"}})

    async def list_nodegroups(request: web.Request) -> web.Response:
        return _page(fake.nodegroups, request, fake.page_size, "nodegroups")

    async def list_updates(request: web.Request) -> web.Response:
        return _page(fake.updates, request, fake.page_size, "updateIds")

    async def update_version(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(
            {
                "update": {
                    "id": "u-1",
                    "status": "InProgress",
                    "type": "VersionUpdate",
                    "params": [{"type": "Version", "value": body["version"]}],
                }
            }
        )

    async def list_addons(request: web.Request) -> web.Response:
        return _page(fake.addons, request, fake.page_size, "addons")

    async def addon_versions(request: web.Request) -> web.Response:
        start = int(request.query.get("nextToken", "0"))
        chunk = fake.addon_versions[start : start + fake.page_size]
        body: dict[str, object] = {"addons": [{"addonName": n, "addonVersions": []} for n in chunk]}
        if start + fake.page_size < len(fake.addon_versions):
            body["nextToken"] = str(start + fake.page_size)
        return web.json_response(body)

    async def ec2(request: web.Request) -> web.Response:
        form = await request.post()
        assert form["Action"] == "DeleteLaunchTemplateVersions", form["Action"]
        lt_id = str(form["LaunchTemplateId"])
        versions = [int(str(v)) for k, v in form.items() if k.startswith("LaunchTemplateVersion.")]
        fake.ec2_batches.append(versions)
        ok, bad = [], []
        for v in versions:
            if v in fake.default_versions:
                bad.append(
                    f"<item><launchTemplateId>{lt_id}</launchTemplateId><versionNumber>{v}</versionNumber>"
                    "<responseError><code>launchTemplateVersionIsDefault</code>"
                    "<message>default version</message></responseError></item>"
                )
            elif v > 1000:
                bad.append(
                    f"<item><launchTemplateId>{lt_id}</launchTemplateId><versionNumber>{v}</versionNumber>"
                    "<responseError><code>launchTemplateVersionDoesNotExist</code>"
                    "<message>gone</message></responseError></item>"
                )
            else:
                ok.append(
                    f"<item><launchTemplateId>{lt_id}</launchTemplateId>"
                    f"<versionNumber>{v}</versionNumber></item>"
                )
        xml = (
            '<DeleteLaunchTemplateVersionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            "<requestId>r-1</requestId>"
            f"<successfullyDeletedLaunchTemplateVersionSet>{''.join(ok)}</successfullyDeletedLaunchTemplateVersionSet>"
            f"<unsuccessfullyDeletedLaunchTemplateVersionSet>{''.join(bad)}"
            "</unsuccessfullyDeletedLaunchTemplateVersionSet>"
            "</DeleteLaunchTemplateVersionsResponse>"
        )
        return web.Response(text=xml, content_type="text/xml")

    app = web.Application(middlewares=[observe])
    app.router.add_get("/clusters", list_clusters)
    app.router.add_get("/clusters/{name}", describe_cluster)
    app.router.add_get("/clusters/{name}/node-groups", list_nodegroups)
    app.router.add_get("/clusters/{name}/updates", list_updates)
    app.router.add_post("/clusters/{name}/updates", update_version)
    app.router.add_get("/clusters/{name}/addons", list_addons)
    app.router.add_get("/addons/supported-versions", addon_versions)
    app.router.add_post("/", ec2)
    return app


@asynccontextmanager
async def fake_aws() -> AsyncIterator[FakeAws]:
    fake = FakeAws()
    runner = web.AppRunner(build_app(fake), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
