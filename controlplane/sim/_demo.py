"""The demo's world: an example credential, the pre-existing EKS cluster the import example adopts, and
the example manifests, all applied the way a user would, through the admin API.

Only HTTP: the simulator learns of the pre-existing cluster through its ``/_sim/`` control API, and the
control plane of everything else through its public admin API, so the demo exercises exactly what users
run (and the simulator still imports nothing from the control plane).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import yaml

log = logging.getLogger("controlplane.sim.demo")

DEMO_CREDENTIAL = ("default", "demo")
DEMO_ACCESS_KEY = "AKIDDEMOEXAMPLE"
DEMO_SECRET_KEY = "demo-secret"
IMPORTED_VERSION = "1.30"


class DemoSeedError(RuntimeError):
    """The admin API refused part of the demo (the message says which document and why)."""


def _eks_config(doc: dict[str, Any]) -> dict[str, Any]:
    """The eksConfig of a manifest in either form (ours, or Rancher's ``EKSClusterConfig``)."""
    spec = doc.get("spec") or {}
    if doc.get("kind") == "EKSClusterConfig":
        return dict(spec)
    return dict(spec.get("eksConfig") or {})


def example_manifests(examples: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every YAML document of ``examples/*.yaml`` (sorted by file), with the file it came from."""
    if not examples.is_dir():
        return []
    out: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(examples.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict):
                out.append((path.name, doc))
    return out


async def seed_demo(*, sim_url: str, admin_url: str, token: str, examples: Path) -> int:
    """Store the demo credential (unless one exists), pre-create the clusters the imported examples
    adopt, and apply every example manifest not applied yet. Returns how many clusters were created."""
    headers = {"Authorization": f"Bearer {token}"}
    created = 0
    async with aiohttp.ClientSession(headers=headers) as http:
        namespace, name = DEMO_CREDENTIAL
        credential_url = f"{admin_url}/v1/credentials/{namespace}/{name}"
        async with http.get(credential_url) as resp:
            missing = resp.status == 404
        if missing:
            body = {"accessKey": DEMO_ACCESS_KEY, "secretKey": DEMO_SECRET_KEY}
            async with http.put(credential_url, json=body) as resp:
                await _expect(resp, (200, 201), f"credential {namespace}/{name}")
        for source, doc in example_manifests(examples):
            eks = _eks_config(doc)
            if eks.get("imported"):
                await _precreate(http, sim_url, eks)
            async with http.post(f"{admin_url}/v1/clusters", json=doc) as resp:
                if resp.status == 409:
                    continue  # applied by an earlier run of the demo
                await _expect(resp, (201,), source)
                created += 1
    log.info("demo seeded", extra={"clusters_created": created})
    return created


async def _precreate(http: aiohttp.ClientSession, sim_url: str, eks: dict[str, Any]) -> None:
    """The EKS cluster an imported example adopts; already there (a kept simulator state) is fine."""
    body = {
        "name": eks.get("displayName"),
        "region": eks.get("region"),
        "version": IMPORTED_VERSION,
        "nodegroups": [{"name": "existing", "desiredSize": 2, "minSize": 1, "maxSize": 3}],
    }
    async with http.post(f"{sim_url}/_sim/clusters", json=body) as resp:
        if resp.status not in (201, 409):
            await _expect(resp, (201, 409), f"simulated cluster {body['name']}")


async def _expect(resp: aiohttp.ClientResponse, ok: tuple[int, ...], what: str) -> None:
    if resp.status not in ok:
        raise DemoSeedError(f"{what}: HTTP {resp.status}: {(await resp.text())[:500]}")
