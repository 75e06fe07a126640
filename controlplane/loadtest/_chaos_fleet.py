"""The chaos run's side of the admin API: the fleet's manifests, and creates, updates and deletes made the
way a careful client makes them (retried on 5xx and lost connections until a deadline), each outcome
written to the ledger."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable
from typing import Any

import aiohttp
import msgspec

from ._chaos_check import CHAOS_TAG, Change, Ledger
from ._clients import API_VERSION, JSON, MERGE_PATCH, REGION

CREDENTIAL_A = ("default", "chaos-a")
CREDENTIAL_B = ("default", "chaos-b")
KEYS = {"chaos-a": ("AKIDCHAOSA", "chaos-secret-a"), "chaos-b": ("AKIDCHAOSB", "chaos-secret-b")}
"""Fake keys known only to the simulator (never real secrets)."""
FLEET_PREFIX = "fleet-"
RETRY_STATUSES = frozenset({500, 502, 503, 504})


def credential_ref(cred: tuple[str, str]) -> str:
    return f"{cred[0]}:{cred[1]}"


def import_manifest(name: str, cred: tuple[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {
            "eksConfig": {
                "displayName": name,
                "region": REGION,
                "amazonCredentialSecret": credential_ref(cred),
                "imported": True,
            }
        },
    }


def create_manifest(name: str, *, ebs: bool, cred: tuple[str, str] = CREDENTIAL_A) -> dict[str, Any]:
    """A cluster the control plane creates: generated networking, service and node roles, a managed launch
    template, one node group, and (``ebs``) the EBS CSI add-on with its OIDC provider and role. Its endpoint
    is private (a tunnel, as for the imported fleet): the chaos is about AWS, not the downstream API."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {
            "eksConfig": {
                "displayName": name,
                "region": REGION,
                "amazonCredentialSecret": credential_ref(cred),
                "imported": False,
                "kubernetesVersion": "1.31",
                "publicAccess": False,
                "privateAccess": True,
                "secretsEncryption": False,
                "ebsCSIDriver": ebs,
                "tags": {"chaos": "made"},
                "subnets": [],
                "securityGroups": [],
                "loggingTypes": [],
                "publicAccessSources": [],
                "nodeGroups": [
                    {
                        "nodegroupName": "ng-0",
                        "instanceType": "t3.medium",
                        "diskSize": 20,
                        "ec2SshKey": "",
                        "resourceTags": {},
                        "version": "1.31",
                        "minSize": 1,
                        "maxSize": 4,
                        "desiredSize": 1,
                        "gpu": False,
                        "subnets": [],
                        "tags": {},
                        "labels": {},
                        "requestSpotInstances": False,
                    }
                ],
            }
        },
    }


def change_patch(cluster: dict[str, Any], tag: str) -> tuple[dict[str, Any], dict[str, int]]:
    """A user's edit: the ``chaos-change`` tag, and the first node group's desired size moved within its
    bounds (the list is written whole, from the spec or else the upstream spec: arrays replace in a
    merge patch). Returns the patch and the desired sizes it sets."""
    eks = (cluster.get("spec") or {}).get("eksConfig") or {}
    upstream = ((cluster.get("status") or {}).get("eksStatus") or {}).get("upstreamSpec") or {}
    groups = [dict(g) for g in (eks.get("nodeGroups") or upstream.get("nodeGroups") or [])]
    tags = dict(eks.get("tags") or upstream.get("tags") or {})
    tags[CHAOS_TAG] = tag
    patch: dict[str, Any] = {"spec": {"eksConfig": {"tags": tags}}}
    desired: dict[str, int] = {}
    if groups:
        g = groups[0]
        low, high = int(g.get("minSize") or 0), int(g.get("maxSize") or 1)
        size = int(g.get("desiredSize") or low)
        g["desiredSize"] = low if size != low else min(high, low + 1)
        patch["spec"]["eksConfig"]["nodeGroups"] = groups
        desired = {str(x.get("nodegroupName")): int(x.get("desiredSize") or 0) for x in groups}
    return patch, desired


class Outcome(msgspec.Struct):
    status: int
    """The last HTTP status, or 0 when no answer came."""
    attempts: int
    body: Any = None


class ChaosClient:
    """The admin API for the chaos run. Every write is retried on 5xx or a lost connection (after a short
    backoff, until ``patience`` seconds passed): what a careful client does when the service is restarting
    or its store is unavailable. The outcome is recorded in ``ledger``."""

    def __init__(self, http: aiohttp.ClientSession, ledger: Ledger, *, patience: float) -> None:
        self.http = http
        self.ledger = ledger
        self.patience = patience
        self.url = ""
        self.token = ""
        self.counts: dict[str, int] = {}
        self._serial = 0

    def bind(self, url: str, token: str) -> None:
        """Point at a (re)started control plane."""
        self.url, self.token = url, token

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    async def send(self, method: str, path: str, body: Any = None, *, content_type: str = JSON) -> Outcome:
        deadline = time.monotonic() + self.patience
        attempts = 0
        delay = 0.2
        status = 0
        while True:
            attempts += 1
            headers = {"Authorization": f"Bearer {self.token}"}
            data = None
            if body is not None:
                headers["Content-Type"] = content_type
                data = msgspec.json.encode(body)
            try:
                async with self.http.request(method, self.url + path, data=data, headers=headers) as resp:
                    raw = await resp.read()
                    status = resp.status
                    if status not in RETRY_STATUSES:
                        doc = msgspec.json.decode(raw) if raw and resp.content_type == JSON else None
                        return Outcome(status, attempts, doc)
                    self._count(f"retried {status}")
            except (TimeoutError, aiohttp.ClientError, OSError):
                status = 0
                self._count("retried no answer")
            if time.monotonic() + delay > deadline:
                return Outcome(status, attempts)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def get(self, name: str) -> dict[str, Any] | None:
        out = await self.send("GET", f"/v1/clusters/{name}")
        return out.body if out.status == 200 else None

    async def list_all(self) -> list[dict[str, Any]]:
        """Every cluster (following ``continue`` tokens should the API page its lists)."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            path = "/v1/clusters?limit=1000" + (f"&continue={token}" if token else "")
            out = await self.send("GET", path)
            if out.status != 200 or not isinstance(out.body, dict):
                raise RuntimeError(f"listing clusters failed: HTTP {out.status}")
            items.extend(out.body.get("items") or [])
            token = str((out.body.get("metadata") or {}).get("continue") or out.body.get("continue") or "")
            if not token:
                return items

    async def put_credentials(self) -> None:
        for ns, name in (CREDENTIAL_A, CREDENTIAL_B):
            key, secret = KEYS[name]
            out = await self.send(
                "PUT", f"/v1/credentials/{ns}/{name}", {"accessKey": key, "secretKey": secret}
            )
            if out.status not in (200, 201):
                raise RuntimeError(f"storing credential {ns}:{name} failed: HTTP {out.status}")

    async def set_refresh_cron(self, value: str) -> None:
        out = await self.send("PUT", "/v1/settings/eks-refresh-cron", {"value": value})
        if out.status != 200:
            raise RuntimeError(f"setting eks-refresh-cron failed: HTTP {out.status}")

    async def import_cluster(self, name: str, cred: tuple[str, str]) -> None:
        out = await self.send("POST", "/v1/clusters", import_manifest(name, cred))
        if out.status not in (201, 409):
            raise RuntimeError(f"importing {name} failed: HTTP {out.status} {out.body}")

    # --- the scenario's changes ----------------------------------------------------------------------

    async def create(self, name: str, *, ebs: bool) -> None:
        out = await self.send("POST", "/v1/clusters", create_manifest(name, ebs=ebs))
        if out.status == 201 or (out.status == 409 and out.attempts > 1):
            self.ledger.create_accepted(name)  # a 409 after a lost answer: our first attempt got in
            self._count("created")
        elif out.status == 0 or out.status in RETRY_STATUSES:
            self.ledger.uncertain.add(name)
            self._count("create uncertain")
        else:
            self._count(f"create refused {out.status}")

    async def update(self, name: str) -> None:
        cluster = await self.get(name)
        if cluster is None:
            self._count("update skipped")
            return
        self._serial += 1
        tag = f"c{self._serial}"
        patch, desired = change_patch(cluster, tag)
        out = await self.send("PATCH", f"/v1/clusters/{name}", patch, content_type=MERGE_PATCH)
        if out.status == 200:
            self.ledger.changes[name] = Change(tag=tag, desired=desired)
            self._count("updated")
        elif out.status == 0 or out.status in RETRY_STATUSES:
            # Unknown: the change may or may not be in. Only a later accepted change will be checked.
            self.ledger.changes.pop(name, None)
            self._count("update uncertain")
        else:
            self._count(f"update refused {out.status}")

    async def delete(self, name: str) -> None:
        out = await self.send("DELETE", f"/v1/clusters/{name}")
        if out.status == 202 or (out.status == 404 and out.attempts > 1):
            self.ledger.delete_accepted(name)
            self._count("deleted")
        elif out.status == 0 or out.status in RETRY_STATUSES:
            self.ledger.uncertain.add(name)
            self.ledger.changes.pop(name, None)
            self._count("delete uncertain")
        else:
            self._count(f"delete refused {out.status}")


class Plan(msgspec.Struct):
    """One scenario's changes: names to create, update and delete."""

    create: list[str]
    update: list[str]
    delete: list[str]

    def ops(self, rng: random.Random) -> list[tuple[str, str]]:
        ops = [("create", n) for n in self.create] + [("update", n) for n in self.update]
        ops += [("delete", n) for n in self.delete]
        rng.shuffle(ops)
        return ops


def plan(
    scenario: int,
    count: int,
    alive: Iterable[str],
    made: Iterable[str],
    rng: random.Random,
    *,
    avoid: set[str],
) -> Plan:
    """About a third each: new clusters, updates of live ones, deletions (made clusters first, so the
    deletion of every kind of AWS resource is exercised). ``avoid``: names never touched here."""
    third = max(1, count // 3)
    pool = sorted(set(alive) - avoid)
    made_pool = sorted((set(made) & set(alive)) - avoid)
    deletions = rng.sample(made_pool, min(len(made_pool), third))
    if len(deletions) < third:
        rest = sorted(set(pool) - set(deletions))
        deletions += rng.sample(rest, min(len(rest), third - len(deletions)))
    candidates = sorted(set(pool) - set(deletions))
    updates = rng.sample(candidates, min(len(candidates), third))
    creates = [f"made-{scenario}-{i}" for i in range(max(1, count - 2 * third))]
    return Plan(create=creates, update=updates, delete=deletions)


async def apply(
    client: ChaosClient, ops: list[tuple[str, str]], *, spread: float, rng: random.Random
) -> None:
    """Run ``ops`` spread evenly over ``spread`` seconds, each in its own task (a slow one does not hold
    the rest)."""
    gap = spread / max(1, len(ops))
    async with asyncio.TaskGroup() as tg:
        for kind, name in ops:
            if kind == "create":
                tg.create_task(client.create(name, ebs=rng.random() < 0.5))
            elif kind == "update":
                tg.create_task(client.update(name))
            else:
                tg.create_task(client.delete(name))
            await asyncio.sleep(gap)
