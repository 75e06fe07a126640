"""The cluster commands (apply, get, describe, delete, sync) against a real admin API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from controlplane.api import Event

from ..admin._support import TOKEN, Api, cluster
from ._support import Run, cli, manifests

pytestmark = pytest.mark.anyio


async def test_apply_create_unchanged_configured(api: Api, tmp_path: Path) -> None:
    path = manifests(tmp_path)
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
    path = manifests(tmp_path, kubernetesVersion="1.31")
    code, out, err = await cli(api, "apply", "-f", "-", stdin=path.read_bytes())
    assert code == 0, err
    assert out.splitlines() == ["cluster/demo configured", "cluster/imported-one unchanged"]
    stored = await api.store.get_cluster("demo")
    assert stored is not None
    assert stored.spec.eks_config.kubernetes_version == "1.31"
    assert stored.metadata.labels == {"team": "core"}
    assert [kind for kind, _ in await api.changes()] == ["created", "created", "updated", "updated"]


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
    code, _, err = await run("apply", "-f", str(manifests(tmp_path)))
    assert code == 0, err
    code, out, err = await run("get")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "NAME",
        "PHASE",
        "VERSION",
        "NODEGROUPS",
        "LAST",
        "SYNC",
        "WARNING",
        "MESSAGE",
    ]
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
    await run("apply", "-f", str(manifests(tmp_path)))
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
    await run("apply", "-f", str(manifests(tmp_path)))
    code, out, err = await run("sync", "demo")
    assert (code, out.strip()) == (0, "cluster/demo sync queued"), err
    assert ("sync", "demo") in await api.changes()
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

    api.replica.delete_removes = True
    code, out, err = await run("delete", "demo", "--wait", "--poll-interval", "0.05")
    assert code == 0, err
    assert out.splitlines() == ["cluster/demo deletion requested", "cluster/demo deleted"]
    assert await api.store.get_cluster("demo") is None


def _served(phase: str, failure: str = "", *conditions: tuple[str, str, str]) -> dict[str, object]:
    return {
        "metadata": {"name": "c"},
        "status": {
            "phase": phase,
            "failureMessage": failure,
            "conditions": [{"type": t, "status": s, "message": m} for t, s, m in conditions],
        },
    }


def test_message_column_shows_only_what_needs_attention() -> None:
    from controlplane.cli._clusters import _message  # noqa: PLC0415 - the column's own function

    healthy = ("Provisioned", "True", ""), ("Updated", "True", ""), ("Waiting", "True", "")
    assert _message(_served("active", "", *healthy)) == ""
    # In progress is not a problem: `describe` shows it, the table does not.
    assert _message(_served("active", "", ("Waiting", "Unknown", "Waiting for API to be available"))) == ""
    assert _message(_served("creating", "", ("Provisioned", "Unknown", ""))) == ""
    assert _message(_served("updating", "boom", ("Updated", "False", "boom"))) == "boom"
    nodegroups = ("Waiting", "False", "Cluster must have at least one managed nodegroup")
    assert _message(_served("active", "", *healthy[:2], nodegroups)).startswith("Waiting: Cluster must")
    conflict = ("Conflict", "True", "tags: local kept over AWS")
    assert _message(_served("active", "", *healthy, conflict)) == "Conflict: tags: local kept over AWS"
    assert _message(_served("active", "", *healthy, ("Conflict", "False", "old"))) == ""


def test_the_warning_column_flags_extended_support() -> None:
    from controlplane.cli._clusters import CLUSTER_TABLE  # noqa: PLC0415 - the table itself

    def row(support: str, policy: str) -> str:
        eks_status = {"versionSupport": support, "upstreamSpec": {"upgradePolicy": {"supportType": policy}}}
        cells = CLUSTER_TABLE.row({"metadata": {"name": "x"}, "status": {"eksStatus": eks_status}})
        return cells[CLUSTER_TABLE.headers.index("WARNING")]  # type: ignore[no-any-return]

    assert row("EXTENDED_SUPPORT", "EXTENDED") == "extended support (extra cost)"
    assert row("STANDARD_SUPPORT", "EXTENDED") == "-"
    assert row("EXTENDED_SUPPORT", "STANDARD") == "-"  # EKS upgrades it instead
