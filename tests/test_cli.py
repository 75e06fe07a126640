"""The ``controlplane`` CLI as a subprocess against a real admin API served by the test's event loop."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from controlplane.api import Event
from controlplane.cli import main

from .admin._support import RANCHER_YAML, SECRET, TOKEN, Api, cluster, running_api

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path) as api:
        yield api


async def cli(
    api: Api | None, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run the CLI as a subprocess; it is awaited, so this loop keeps serving the API meanwhile."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLPLANE_")}
    full_env["PYTHONPATH"] = str(ROOT)
    if api is not None:
        full_env["CONTROLPLANE_SERVER"] = api.url
        full_env["CONTROLPLANE_TOKEN"] = TOKEN
    full_env.update(env or {})
    with anyio.fail_after(30):
        result = await anyio.run_process(
            [sys.executable, "-m", "controlplane.cli", *args],
            input=stdin,
            env=full_env,
            cwd=ROOT,
            check=False,
        )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


Run = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
def run(api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``main()`` in a worker thread (the loop keeps serving): the same code without a process start.

    The subprocess tests cover the entry point, exit codes, stdin and the environment end to end.
    """
    for key in list(os.environ):
        if key.startswith("CONTROLPLANE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CONTROLPLANE_SERVER", api.url)
    monkeypatch.setenv("CONTROLPLANE_TOKEN", TOKEN)

    async def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with anyio.fail_after(30):
            code = await anyio.to_thread.run_sync(main, list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _manifests(tmp_path: Path, **eks: Any) -> Path:
    path = tmp_path / "clusters.yaml"
    path.write_text(yaml.safe_dump(cluster(**eks)) + "---\n" + RANCHER_YAML)
    return path


async def test_apply_create_unchanged_configured(api: Api, tmp_path: Path) -> None:
    path = _manifests(tmp_path)
    code, out, err = await cli(api, "apply", "-f", str(path))
    assert code == 0, err
    assert out.splitlines() == ["cluster/demo created", "cluster/imported-one created"]

    code, out, err = await cli(api, "apply", "-f", str(path))
    assert code == 0, err
    assert out.splitlines() == ["cluster/demo unchanged", "cluster/imported-one unchanged"]

    await api.client.patch(
        "/v1/clusters/demo",
        data=json.dumps({"metadata": {"labels": {"extra": "kept"}}}),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/merge-patch+json"},
    )
    path = _manifests(tmp_path, kubernetesVersion="1.31")
    code, out, err = await cli(api, "apply", "-f", "-", stdin=path.read_bytes())
    assert code == 0, err
    assert out.splitlines() == ["cluster/demo configured", "cluster/imported-one unchanged"]
    stored = await api.store.get_cluster("demo")
    assert stored is not None
    assert stored.spec.eks_config.kubernetes_version == "1.31"
    assert stored.metadata.labels == {"team": "core"}
    assert [c[0] for c in api.controller.calls] == ["created", "created", "spec_changed"]


async def test_apply_errors_show_server_message(api: Api, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cluster(kubernetesVersion="banana")))
    code, out, err = await cli(api, "apply", "-f", str(bad))
    assert code == 1
    assert "422" in err
    assert "spec.eksConfig.kubernetesVersion" in err
    assert out == ""

    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n")
    code, _, err = await cli(api, "apply", "-f", str(bad))
    assert code == 1
    assert "unsupported apiVersion" in err
    code, _, err = await cli(api, "apply", "-f", str(tmp_path / "missing.yaml"))
    assert code == 1
    assert "cannot read" in err


async def test_get_table_json_yaml_and_phase(api: Api, run: Run, tmp_path: Path) -> None:
    code, _, err = await run("apply", "-f", str(_manifests(tmp_path)))
    assert code == 0, err
    code, out, err = await run("get")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "VERSION", "NODEGROUPS", "LAST", "SYNC", "MESSAGE"]
    demo = next(line for line in lines if line.startswith("demo "))
    assert demo.split()[:4] == ["demo", "new", "1.30", "1"]
    assert any(line.startswith("imported-one ") for line in lines)

    code, out, _ = await run("get", "-o", "json")
    assert [c["metadata"]["name"] for c in json.loads(out)["items"]] == ["demo", "imported-one"]
    code, out, _ = await run("get", "demo", "-o", "yaml")
    doc = yaml.safe_load(out)
    assert doc["metadata"]["name"] == "demo"
    assert doc["spec"]["eksConfig"]["kubernetesVersion"] == "1.30"

    code, out, err = await run("get", "--phase", "active")
    assert code == 0
    assert out == ""
    assert "No clusters" in err
    code, _, err = await run("get", "--phase", "bogus")
    assert code == 1
    assert "invalid phase" in err
    code, _, err = await run("get", "ghost")
    assert code == 1
    assert "404" in err
    assert "ghost" in err


async def test_describe(api: Api, run: Run, tmp_path: Path) -> None:
    await run("apply", "-f", str(_manifests(tmp_path)))
    await api.store.append_event(
        "demo", Event(time="2024-01-01T00:00:00Z", type="Warning", reason="Conflict", message="both sides")
    )
    code, out, err = await run("describe", "demo")
    assert code == 0, err
    assert "Name:" in out
    assert "demo" in out
    assert "team=core" in out
    assert "kubernetesVersion: '1.30'" in out or 'kubernetesVersion: "1.30"' in out
    events = out.split("Events:", 1)[1]
    assert "Conflict" in events
    assert "both sides" in events


async def test_sync_and_delete_wait(api: Api, run: Run, tmp_path: Path) -> None:
    await run("apply", "-f", str(_manifests(tmp_path)))
    code, out, err = await run("sync", "demo")
    assert (code, out.strip()) == (0, "cluster/demo sync queued"), err
    assert ("sync", "demo") in api.controller.calls
    code, _, err = await run("sync", "ghost")
    assert code == 1
    assert "not found" in err

    code, out, err = await run("delete", "imported-one")
    assert code == 0, err
    assert "deletion requested" in out
    assert await api.store.get_cluster("imported-one") is not None
    wait = ("--wait", "--timeout", "0.3", "--poll-interval", "0.05")
    code, _, err = await run("delete", "imported-one", *wait)
    assert code == 1
    assert "timed out" in err

    api.controller.delete_removes = True
    code, out, err = await run("delete", "demo", "--wait", "--poll-interval", "0.05")
    assert code == 0, err
    assert out.splitlines() == ["cluster/demo deletion requested", "cluster/demo deleted"]
    assert await api.store.get_cluster("demo") is None


async def test_credentials(api: Api, run: Run) -> None:
    code, out, err = await cli(
        api, "credentials", "set", "cattle-global-data/aws", "--access-key", "AKIAEXAMPLE",
        "--secret-key-stdin", stdin=SECRET.encode() + b"\n",
    )  # fmt: skip
    assert (code, out.strip()) == (0, "credential/cattle-global-data/aws created"), err
    stored = await api.store.get_credential("cattle-global-data", "aws")
    assert stored is not None
    assert stored.secret_key == SECRET
    code, out, err = await cli(
        api, "credentials", "set", "cattle-global-data:aws", "--access-key", "AKIAEXAMPLE",
        "--secret-key", SECRET, "--role-arn", "arn:aws:iam::123456789012:role/eks",
    )  # fmt: skip
    assert (code, out.strip()) == (0, "credential/cattle-global-data/aws configured"), err

    code, out, err = await run("credentials", "list")
    assert code == 0, err
    assert "AKIAEXAMPLE" in out
    assert "arn:aws:iam::123456789012:role/eks" in out
    code, out_json, _ = await run("credentials", "list", "-o", "json")
    assert json.loads(out_json)["items"][0]["accessKeyId"] == "AKIAEXAMPLE"
    assert SECRET not in out + out_json + err

    code, _, err = await run("credentials", "set", "bad", "--access-key", "A", "--secret-key", "S")
    assert code == 1
    assert "NAMESPACE/NAME" in err
    code, out, err = await run("credentials", "delete", "cattle-global-data/aws")
    assert (code, out.strip()) == (0, "credential/cattle-global-data/aws deleted"), err
    code, _, err = await run("credentials", "delete", "cattle-global-data/aws")
    assert code == 1
    assert "not found" in err


async def test_settings(api: Api, run: Run) -> None:
    code, out, err = await run("settings", "get")
    assert code == 0, err
    assert out.splitlines()[1].split(None, 1) == ["eks-refresh-cron", "*/5 * * * *"]
    code, out, err = await run("settings", "set", "eks-refresh-cron", "@every 1m")
    assert code == 0, err
    assert "@every 1m" in out
    code, out, _ = await run("settings", "get", "eks-refresh-cron")
    assert out.strip() == "@every 1m"
    code, _, err = await run("settings", "set", "eks-refresh-cron", "not a cron")
    assert code == 1
    assert "422" in err
    assert "eks-refresh-cron" in err
    assert await api.store.get_setting("eks-refresh-cron") == "@every 1m"


async def test_token_sources_and_connection_errors(api: Api, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "admin-token").write_text(TOKEN + "\n")
    code, _, err = await cli(None, "get", "--server", api.url, "--data-dir", str(data_dir))
    assert code == 0, err
    env = {"CONTROLPLANE_SERVER": api.url, "CONTROLPLANE_DATA_DIR": str(data_dir)}
    code, _, err = await cli(None, "get", env=env)
    assert code == 0, err
    code, _, err = await cli(None, "get", "--server", api.url, "--data-dir", str(tmp_path / "none"))
    assert code == 1
    assert "no admin token" in err
    code, _, err = await cli(None, "get", "--server", api.url, "--token", "wrong")
    assert code == 1
    assert "401" in err
    assert "bearer token" in err
    with anyio.fail_after(5):
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        await listener.aclose()
    code, _, err = await cli(None, "get", "--server", f"127.0.0.1:{port}", "--token", "x")
    assert code == 1
    assert "cannot reach" in err


async def test_iam_policy_needs_no_server(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await cli(None, "iam-policy")
    assert code == 0, err
    policy = json.loads(out)
    assert policy["Version"] == "2012-10-17"
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {"eks:CreateCluster", "eks:DescribeCluster", "iam:PassRole"} <= actions
    assert "ec2:CreateVpc" not in actions
    capsys.readouterr()
    assert main(["iam-policy", "--generated-vpc", "--generated-service-role", "--ebs-csi"]) == 0
    out = capsys.readouterr().out
    actions = {a for s in json.loads(out)["Statement"] for a in s["Action"]}
    assert {"ec2:CreateVpc", "cloudformation:CreateStack", "iam:CreateRole", "eks:CreateAddon"} <= actions


async def test_serve_exit_codes(tmp_path: Path) -> None:
    """A bad setting exits 2 and names it; a taken listen address exits 1 and names the address."""
    code, _, err = await cli(None, "serve", "--listen", "nohost", "--data-dir", str(tmp_path))
    assert code == 2
    assert "controlplane: invalid setting admin.listen" in err
    with anyio.fail_after(5):
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener:
        listen = f"127.0.0.1:{listener.extra(anyio.abc.SocketAttribute.local_port)}"
        code, out, err = await cli(None, "serve", "--listen", listen, "--data-dir", str(tmp_path))
    assert code == 1
    assert out == ""
    assert err.rstrip().splitlines()[-1].startswith("controlplane: ")
    assert err.rstrip().endswith(f"({listen})")
    assert "Traceback" not in err


async def test_usage_errors_exit_2() -> None:
    code, _, err = await cli(None, "get", "-o", "xml")
    assert code == 2
    assert "invalid choice" in err
    code, _, err = await cli(None)
    assert code == 2
