"""The real service process: `controlplane serve` as a child, driven over HTTP, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import secrets
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from controlplane.api import Cluster, Phase
from controlplane.store import SQLiteStore

from ._procs import REPO, Service, child_env, condition, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

EXAMPLES = ("demo-created", "demo-imported", "demo-private", "demo-spot", "demo-beyond")
WAITING_FOR_AGENT = "waiting for cluster agent to be deployed"


def _stored_clusters(data_dir: Path) -> dict[str, Cluster]:
    async def read() -> dict[str, Cluster]:
        async with SQLiteStore(data_dir / "controlplane.db") as store:
            return {c.metadata.name: c for c in await store.list_clusters()}

    return asyncio.run(read())


def _converged(cluster: dict[str, Any]) -> bool:
    """Active, with every managed field of the spec applied (the create/update work is done)."""
    status = cluster.get("status") or {}
    if status.get("phase") != "active":
        return False
    updated = condition(cluster, "Updated")
    return status.get("appliedSpec") == cluster["spec"]["eksConfig"] and bool(
        updated and updated.get("status") == "True"
    )


def _demo_settled(svc: Service) -> dict[str, dict[str, Any]] | None:
    clusters = svc.clusters()
    if set(clusters) != set(EXAMPLES) or not all(_converged(c) for c in clusters.values()):
        return None
    private = clusters["demo-private"]
    waiting = condition(private, "Waiting")
    if private["status"].get("eksStatus", {}).get("privateRequiresTunnel") is not True or waiting is None:
        return None
    if (waiting.get("status", "Unknown"), waiting.get("message")) != ("Unknown", WAITING_FOR_AGENT):
        return None
    return clusters


def _conditions(conditions: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(c["type"], c.get("status", "Unknown"), c.get("message", "")) for c in conditions}


def test_sim_demo_reaches_active_and_persists_on_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Service(tmp_path, data, "--sim", CONTROLPLANE_SIM_TIME_SCALE="0.01") as svc:
        http = svc.http
        assert http.request("GET", "/healthz", token="").status == 200
        wait_until(
            lambda: http.request("GET", "/readyz", token="").status == 200, timeout=10, what="/readyz 200"
        )
        assert http.request("GET", "/v1/clusters", token="").status == 401
        assert http.request("GET", "/v1/clusters", token="wrong").status == 401
        assert stat.S_IMODE((data / "admin-token").stat().st_mode) == 0o600
        assert stat.S_IMODE((data / "controlplane.db").stat().st_mode) & 0o077 == 0

        clusters = wait_until(
            lambda: _demo_settled(svc), timeout=60, what="every example cluster active", details=svc.diagnose
        )
        metrics = http.request("GET", "/metrics", token="")
        assert metrics.status == 200
        assert metrics.headers["Content-Type"].startswith("text/plain")
        text = metrics.body.decode()
        assert "# TYPE controlplane_clusters gauge" in text
        assert 'controlplane_clusters{phase="active"} 5.0' in text
        assert "controlplane_aws_requests_total{" in text

        code, took = svc.proc.terminate(timeout=15)
        assert code == 0, svc.proc.output()
        assert took < 10, f"shutdown took {took:.1f}s"

    stored = _stored_clusters(data)
    assert set(stored) == set(EXAMPLES)
    for name, seen in clusters.items():
        status = stored[name].status
        assert status.phase == Phase.ACTIVE, name
        assert msgspec.to_builtins(status.applied_spec) == seen["status"]["appliedSpec"], name
        assert _conditions(msgspec.to_builtins(status.conditions)) == _conditions(
            seen["status"]["conditions"]
        ), name
    assert stored["demo-private"].status.eks_status.private_requires_tunnel is True
    assert stored["demo-created"].status.eks_status.virtual_network


def _leaky_manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((REPO / "config/examples/01-created.yaml").read_text())
    manifest["metadata"]["name"] = "leaky"
    eks = manifest["spec"]["eksConfig"]
    eks.update(displayName="leaky", amazonCredentialSecret="team:leaky")
    eks["nodeGroups"] = eks["nodeGroups"][:1]
    return manifest


def _stored_secrets(data_dir: Path) -> list[str]:
    """The service-account tokens the service stored for its clusters (they must stay in the store)."""

    async def read() -> list[str]:
        async with SQLiteStore(data_dir / "controlplane.db") as store:
            values: list[str] = []
            for c in await store.list_clusters():
                ref = c.status.service_account_token_secret
                data = await store.get_secret(f"{c.metadata.name}/{ref}") if ref else None
                values.extend((data or {}).values())
            return values

    return asyncio.run(read())


def _cli(svc: Service, *args: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "controlplane.cli",
            *args,
            "--server",
            svc.url,
            "--data-dir",
            str(svc.data_dir),
        ],
        cwd=REPO,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_no_secret_in_responses_logs_or_metrics(tmp_path: Path) -> None:
    secret_key = "SecretKeyLEAK" + secrets.token_hex(12)
    session_token = "SessionTokenLEAK" + secrets.token_hex(16)
    data = tmp_path / "data"
    with Service(tmp_path, data, "--sim", "--log-level", "debug", CONTROLPLANE_SIM_TIME_SCALE="0.01") as svc:
        http = svc.http
        body = {"accessKey": "AKIDLEAKTEST0001", "secretKey": secret_key, "sessionToken": session_token}
        assert http.request("PUT", "/v1/credentials/team/leaky", body).status == 201
        assert http.request("PUT", "/v1/credentials/team/leaky", body).status == 200
        # Refused bodies carrying the secret: the error names the problem, never echoes the value.
        assert http.request("PUT", "/v1/credentials/team/bad", {**body, "bogus": 1}).status == 422
        assert http.request("PUT", "/v1/credentials/team/bad", {**body, "accessKey": 7}).status == 422
        broken = f'{{"accessKey": "AKIDLEAKTEST0001", "secretKey": "{secret_key}"'.encode()
        assert http.request("PUT", "/v1/credentials/team/bad", broken).status == 400
        # A secret sent as a bearer token must not be logged either.
        assert http.request("GET", "/v1/clusters", token=secret_key).status == 401

        http.json("POST", "/v1/clusters", _leaky_manifest(), expect=201)
        wait_until(
            lambda: _converged(svc.clusters().get("leaky") or {"status": {}}),
            timeout=60,
            what="cluster leaky (using the leaky credential) active",
            details=lambda: svc.diagnose("leaky"),
        )
        listed = http.json("GET", "/v1/credentials")["items"]
        assert {(c["namespace"], c["name"]) for c in listed} >= {("team", "leaky"), ("default", "demo")}
        http.json("GET", "/v1/credentials/team/leaky")
        http.json("GET", "/v1/clusters")
        http.json("GET", "/v1/clusters/leaky")
        http.json("GET", "/v1/clusters/leaky/events")
        http.json("POST", "/v1/clusters/leaky/sync", expect=202)
        http.json("GET", "/v1/settings")
        http.json("GET", "/openapi.json")
        cli = _cli(svc, "credentials", "list") + _cli(svc, "describe", "leaky") + _cli(svc, "get")
        metrics = http.request("GET", "/metrics", token="").body.decode()
        code, _ = svc.proc.terminate(timeout=15)
        assert code == 0, svc.proc.output()
        logs = svc.proc.stdout() + svc.proc.stderr()
        token = svc.token

    responses = b"\n".join(http.transcript).decode(errors="replace")
    # The haystacks are real: they hold the credential's metadata and the log lines of its cluster.
    assert "AKIDLEAKTEST0001" in responses
    assert "AKIDLEAKTEST0001" in cli
    assert '"cluster":"leaky"' in logs
    assert "controlplane_aws_requests_total" in metrics
    service_account_tokens = _stored_secrets(data)
    assert service_account_tokens, "no service-account token was created: the leak check would be partial"
    haystacks = {"responses": responses, "logs": logs, "metrics": metrics, "cli output": cli}
    needles = {
        "secret key": secret_key,
        "session token": session_token,
        "demo secret key": "demo-secret",
        "admin token": token,
        "EKS bearer token": "k8s-aws-v1.",
        **{f"service-account token {i}": t for i, t in enumerate(service_account_tokens)},
    }
    leaks = [f"{n} in {h}" for h, text in haystacks.items() for n, value in needles.items() if value in text]
    assert not leaks, leaks
