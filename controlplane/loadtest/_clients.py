"""Thin HTTP clients of the admin API and the simulator's control API, and the manifests a run sends."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec

API_VERSION = "eks-controlplane.io/v1"
CREDENTIAL = ("default", "load")
ACCESS_KEY = "AKIDLOADTEST"
SECRET_KEY = "load-test-secret"  # a fake key known to the simulator only; never a real secret
REGION = "us-west-2"
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


class HttpError(RuntimeError):
    """An unexpected HTTP status; the message carries the method, path, status and a short body."""


def _manifest(name: str, **eks_config: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {
            "eksConfig": {
                "displayName": name,
                "region": REGION,
                "amazonCredentialSecret": f"{CREDENTIAL[0]}:{CREDENTIAL[1]}",
                **eks_config,
            }
        },
    }


def import_manifest(name: str) -> dict[str, Any]:
    return _manifest(name, imported=True)


def create_manifest(name: str) -> dict[str, Any]:
    """A cluster the control plane creates: generated networking and service role, one node group."""
    return _manifest(
        name,
        imported=False,
        kubernetesVersion="1.31",
        publicAccess=True,
        privateAccess=False,
        secretsEncryption=False,
        ebsCSIDriver=False,
        tags={"load": "created"},
        subnets=[],
        securityGroups=[],
        loggingTypes=[],
        publicAccessSources=[],
        nodeGroups=[
            {
                "nodegroupName": "ng-0",
                "instanceType": "t3.medium",
                "diskSize": 20,
                "ec2SshKey": "",
                "resourceTags": {},
                "version": "1.31",
                "minSize": 1,
                "maxSize": 3,
                "desiredSize": 1,
                "gpu": False,
                "subnets": [],
                "tags": {},
                "labels": {},
                "requestSpotInstances": False,
            }
        ],
    )


def update_patch(cluster: dict[str, Any], round_no: int) -> dict[str, Any]:
    """Tags plus a scaling change of the first node group, written as a user would: the node group list
    is taken from the upstream spec (arrays replace in a merge patch) with one desired size moved."""
    patch: dict[str, Any] = {"spec": {"eksConfig": {"tags": {"load-round": str(round_no)}}}}
    upstream = ((cluster.get("status") or {}).get("eksStatus") or {}).get("upstreamSpec") or {}
    groups = [dict(g) for g in upstream.get("nodeGroups") or []]
    if groups:
        g = groups[0]
        low, high = int(g.get("minSize") or 0), int(g.get("maxSize") or 1)
        desired = int(g.get("desiredSize") or low)
        g["desiredSize"] = low if desired != low else min(high, low + 1)
        patch["spec"]["eksConfig"]["nodeGroups"] = groups
    return patch


class AdminClient:
    """The admin API over one aiohttp session (owned by the caller)."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        self.http = http
        self.url = url
        self._token = token
        self._headers = {"Authorization": f"Bearer {token}"}

    def __repr__(self) -> str:
        return f"AdminClient(url={self.url!r})"  # the token stays out of reprs

    @property
    def token(self) -> str:
        """The admin token (for a child process of the harness that talks to the same API)."""
        return self._token

    async def request(
        self, method: str, path: str, body: Any = None, *, content_type: str = JSON, ok: tuple[int, ...] = ()
    ) -> Any:
        headers = dict(self._headers)
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = msgspec.json.encode(body)
        async with self.http.request(method, self.url + path, data=data, headers=headers) as resp:
            raw = await resp.read()
            if resp.status >= 400 and resp.status not in ok:
                raise HttpError(f"{method} {path}: HTTP {resp.status}: {raw[:300]!r}")
            return msgspec.json.decode(raw) if raw and resp.content_type == JSON else None

    async def timed_get(self, path: str) -> tuple[float, int]:
        began = time.perf_counter()
        async with self.http.get(self.url + path, headers=self._headers) as resp:
            await resp.read()
            return time.perf_counter() - began, resp.status

    def on(self, http: aiohttp.ClientSession) -> AdminClient:
        """The same API and token over another session (e.g. one whose pool long watches may fill)."""
        other = AdminClient(http, self.url, "")
        other._headers = dict(self._headers)
        return other

    async def timed_get_body(self, path: str) -> tuple[float, bytes]:
        began = time.perf_counter()
        async with self.http.get(self.url + path, headers=self._headers) as resp:
            body = await resp.read()
            if resp.status >= 400:
                raise HttpError(f"GET {path}: HTTP {resp.status}: {body[:300]!r}")
        return time.perf_counter() - began, body

    async def watch(self, path: str) -> AsyncIterator[dict[str, Any]]:
        """The events of a watch as they arrive (no overall timeout: the caller cancels)."""
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self.http.get(self.url + path, headers=self._headers, timeout=timeout) as resp:
            if resp.status >= 400:
                raise HttpError(f"GET {path}: HTTP {resp.status}: {(await resp.read())[:300]!r}")
            async for line in resp.content:
                if line.strip():
                    yield msgspec.json.decode(line)

    async def put_credential(self) -> None:
        ns, name = CREDENTIAL
        await self.request(
            "PUT", f"/v1/credentials/{ns}/{name}", {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
        )

    async def set_refresh_cron(self, value: str) -> None:
        await self.request("PUT", "/v1/settings/eks-refresh-cron", {"value": value})

    async def create(self, manifest: dict[str, Any]) -> None:
        await self.request("POST", "/v1/clusters", manifest, ok=(409,))

    async def get(self, name: str) -> dict[str, Any] | None:
        answer: dict[str, Any] | None = await self.request("GET", f"/v1/clusters/{name}", ok=(404,))
        return answer

    async def patch(self, name: str, patch: dict[str, Any]) -> None:
        await self.request("PATCH", f"/v1/clusters/{name}", patch, content_type=MERGE_PATCH, ok=(404, 409))

    async def delete(self, name: str) -> None:
        await self.request("DELETE", f"/v1/clusters/{name}", ok=(404, 409))

    async def metrics(self) -> tuple[str, float, int]:
        """The /metrics text, the seconds the scrape took and its size in bytes."""
        began = time.perf_counter()
        async with self.http.get(self.url + "/metrics") as resp:
            raw = await resp.read()
        return raw.decode(), time.perf_counter() - began, len(raw)


class SimClient:
    """The simulator's ``/_sim/`` control API."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http = http
        self.url = url

    async def _send(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else msgspec.json.encode(body)
        async with self.http.request(
            method, self.url + path, data=data, headers={"Content-Type": JSON}
        ) as resp:
            raw = await resp.read()
            if resp.status >= 400:
                raise HttpError(f"simulator {method} {path}: HTTP {resp.status}: {raw[:300]!r}")
            return msgspec.json.decode(raw) if raw else None

    async def create_batch(
        self, count: int, prefix: str, nodegroups: int, *, start: int = 0, private: bool = False
    ) -> None:
        template: dict[str, Any] = {"nodegroups": [{"name": f"ng-{i}"} for i in range(nodegroups)]}
        if private:
            template |= {"publicAccess": False, "privateAccess": True}
        await self._send(
            "POST",
            "/_sim/clusters:batch",
            {"count": count, "prefix": prefix, "start": start, "template": template},
        )

    async def register_credential(self) -> None:
        # Lets the downstream Kubernetes endpoints verify the IAM tokens minted with this key.
        await self._send("PUT", "/_sim/credentials", {ACCESS_KEY: SECRET_KEY})

    async def set_faults(self, faults: dict[str, Any]) -> None:
        await self._send("PUT", "/_sim/faults", faults)

    async def calls(self) -> dict[str, dict[str, int]]:
        answer: dict[str, dict[str, int]] = await self._send("GET", "/_sim/calls")
        return {k: v for k, v in answer.items() if not k.startswith("_")}


def total_calls(calls: dict[str, dict[str, int]]) -> int:
    return sum(sum(ops.values()) for ops in calls.values())


def calls_delta(after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]) -> dict[str, int]:
    """Per ``service:Operation`` calls between two readings (zeros left out)."""
    out: dict[str, int] = {}
    for service, ops in after.items():
        for op, n in ops.items():
            d = n - before.get(service, {}).get(op, 0)
            if d:
                out[f"{service}:{op}"] = d
    return out
