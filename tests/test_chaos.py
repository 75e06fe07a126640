"""``controlplane chaos``: the judging functions (pure), and a tiny run of the whole matrix (subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from controlplane.loadtest._chaos import KEYS, table
from controlplane.loadtest._chaos_check import (
    CHAOS_TAG,
    Change,
    Ledger,
    assess,
    duplicates,
    leaks,
    lost_changes,
)
from controlplane.loadtest._chaos_fleet import change_patch, plan
from controlplane.loadtest._chaos_options import SCENARIOS, parse_args

ROOT = Path(__file__).resolve().parents[1]


def api_cluster(
    name: str, *, imported: bool = False, groups: list[str] | None = None, **status: Any
) -> dict[str, Any]:
    eks: dict[str, Any] = {"displayName": name, "imported": imported, "tags": {}}
    if groups is not None:
        eks["nodeGroups"] = [
            {"nodegroupName": g, "desiredSize": 1, "minSize": 1, "maxSize": 3} for g in groups
        ]
    st = {"phase": "active", "failureMessage": "", "appliedSpec": eks, **status}
    return {"metadata": {"name": name}, "spec": {"eksConfig": eks}, "status": st}


def aws_cluster(name: str, groups: list[tuple[str, int]] = (), **kw: Any) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "name": name,
        "status": "ACTIVE",
        "oidcIssuer": f"oidc/{name}",
        "tags": kw.get("tags", {}),
        "nodegroups": [
            {"name": g, "status": "ACTIVE", "desiredSize": size, "launchTemplate": kw.get("lt")}
            for g, size in groups
        ],
        "addons": kw.get("addons", []),
    }


def test_a_clean_fleet_is_settled() -> None:
    ledger = Ledger(external={"imp"}, made={"made"})
    items = [api_cluster("imp", imported=True), api_cluster("made", groups=["ng-0"])]
    state = {
        "clusters": [
            aws_cluster("imp"),
            aws_cluster("made", [("ng-0", 1)], lt={"name": "rancher-managed-lt-made", "version": "2"}),
        ],
        "stacks": [{"name": "made-eks-vpc", "status": "CREATE_COMPLETE"}],
        "launchTemplates": [{"name": "rancher-managed-lt-made", "defaultVersion": 1, "versions": [1, 2]}],
        "oidcProviders": [{"url": "oidc/made"}],
    }
    verdict = assess(items, state, ledger)
    assert (
        verdict.settled
        and verdict.leak_count == 0
        and verdict.duplicate_count == 0
        and verdict.lost_count == 0
    )


def test_leaks_are_counted_by_kind() -> None:
    ledger = Ledger(external={"imp"}, made={"made", "gone"}, deleted={"gone"})
    api = {
        "imp": api_cluster("imp", imported=True),
        "made": api_cluster("made", groups=["ng-0"], ebsCSIDriver=False),
    }
    api["made"]["spec"]["eksConfig"]["ebsCSIDriver"] = False
    state = {
        "clusters": [
            aws_cluster("made", [("ng-0", 1), ("ng-old", 1)], addons=[{"name": "aws-ebs-csi-driver"}]),
            aws_cluster("gone"),
        ],
        "stacks": [
            {"name": "gone-eks-vpc", "status": "CREATE_COMPLETE"},
            {"name": "imp-eks-vpc", "status": "X"},
        ],
        "launchTemplates": [
            {"name": "rancher-managed-lt-gone", "defaultVersion": 1, "versions": [1]},
            {"name": "rancher-managed-lt-made", "defaultVersion": 1, "versions": [1, 2, 3]},
        ],
        "oidcProviders": [{"url": "oidc/gone"}],
    }
    assert leaks(api, state, ledger) == {
        "clusters": 1,
        "node groups": 1,
        "add-ons": 1,
        "stacks": 2,  # a deleted cluster's, and one for an imported cluster (never ours to make)
        "launch templates": 1,
        "launch template versions": 2,  # neither 2 nor 3 is used by a node group, 1 is the default
        "oidc providers": 1,
    }


def test_duplicates_count_extra_copies() -> None:
    state = {
        "clusters": [aws_cluster("a"), aws_cluster("a")],
        "stacks": [{"name": "s"}, {"name": "s"}, {"name": "s"}],
        "launchTemplates": [],
        "oidcProviders": [{"url": "u"}, {"url": "u"}],
    }
    assert duplicates(state) == {"clusters": 1, "stacks": 2, "oidc providers": 1}


def test_lost_changes_name_what_is_missing() -> None:
    ledger = Ledger(external={"imp"}, made={"new", "old"}, deleted={"old"}, uncertain={"maybe"})
    ledger.changes["imp"] = Change(tag="c7", desired={"ng": 2})
    api = {"imp": api_cluster("imp", imported=True), "old": api_cluster("old")}
    api["imp"]["spec"]["eksConfig"]["tags"] = {CHAOS_TAG: "c7"}
    state = {"clusters": [aws_cluster("imp", [("ng", 1)], tags={CHAOS_TAG: "c6"}), aws_cluster("old")]}
    assert lost_changes(api, state, ledger) == [
        "new: created, but not in the API",
        "old: deleted, but still in the API",
        "imp: tag c7 not in AWS",
        "imp: node group ng desired 2 not in AWS (has 1)",
    ]


def test_change_patch_writes_the_whole_node_group_list() -> None:
    cluster = api_cluster("c", groups=["a", "b"])
    patch, desired = change_patch(cluster, "c1")
    eks = patch["spec"]["eksConfig"]
    assert eks["tags"] == {CHAOS_TAG: "c1"}
    assert [g["nodegroupName"] for g in eks["nodeGroups"]] == ["a", "b"]
    assert desired == {"a": 2, "b": 1}


def test_plan_deletes_made_clusters_first_and_never_touches_avoided_ones() -> None:
    import random  # noqa: PLC0415

    alive = {f"f{i}" for i in range(20)} | {"m1", "m2"}
    p = plan(3, 9, alive, {"m1", "m2", "m-dead"}, random.Random(1), avoid={"f0", "f1"})
    assert set(p.delete) >= {"m1", "m2"} and "m-dead" not in p.delete
    assert not ({"f0", "f1"} & (set(p.update) | set(p.delete)))
    assert not set(p.update) & set(p.delete) and len(p.create) == 3


def test_options() -> None:
    o = parse_args([])
    assert o.clusters == 2000 and o.scenarios == SCENARIOS and o.derived_bound == 2 * o.period + 60
    o = parse_args(["--scenario", "disk-full", "--scenario", "throttling"])
    assert o.scenarios == ("throttling", "disk-full")  # always in the matrix's order
    with pytest.raises(SystemExit):
        parse_args(["--scenario", "meteor"])


def test_tiny_chaos_run_passes_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "chaos"
    argv = [
        sys.executable, "-m", "controlplane.cli", "chaos", "--clusters", "30", "--period", "3",
        "--time-scale", "0.01", "--window-scale", "0.1", "--churn-percent", "20", "--poll-interval", "0.5",
        "--bound", "60", "--tmpfs-size", "64m", "--out", str(out), "--timeout", "400",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        output, _ = proc.communicate(timeout=420)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"chaos timed out:\n{output.decode(errors='replace')[-4000:]}")
    text = output.decode(errors="replace")
    result = json.loads((out / "chaos.json").read_text())
    assert result["clusters"] == 30
    assert [s["name"] for s in result["scenarios"]] == list(SCENARIOS), text[-4000:]
    for s in result["scenarios"]:
        assert list(s)[: len(KEYS)] == list(KEYS)
        if s["passed"] is None:  # only disk-full may be skipped, and it says why
            assert s["name"] == "disk-full" and s["skipped"], s
            continue
        assert s["passed"], (s, text[-4000:])
        assert s["duplicates"] == 0 and s["leaks"] == 0 and s["lost_changes"] == 0
        assert s["actors_gave_up"] == 0
        assert (out / f"chaos-{s['name']}.png").stat().st_size > 10_000
    revoked = next(s for s in result["scenarios"] if s["name"] == "credentials-revoked")
    assert revoked["isolation_ok"] and revoked["isolation"]["AccessDenied"]["revoked_clusters"] >= 1
    assert "cannot access EKS" in text or "[Syncing error: syncing failed]" in json.dumps(revoked)
    kill = next(s for s in result["scenarios"] if s["name"] == "controlplane-kill")
    assert kill["kills"] == 2
    assert proc.returncode == 0, text[-4000:]
    assert "credentials-revoked" in table(result)
