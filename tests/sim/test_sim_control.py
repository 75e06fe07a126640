"""Control API, moto forwarding, leak-check state, persistence and the standalone entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from controlplane.sim import SimSettings, Simulator

from .conftest import aws, make_cluster, status_of, wait_for

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


async def call(sim: Simulator, method: str, path: str, doc: Any = None) -> tuple[int, Any]:
    data = None if doc is None else msgspec.json.encode(doc)
    async with aiohttp.ClientSession() as h, h.request(method, sim.url + path, data=data) as r:
        return r.status, msgspec.json.decode(await r.read())


async def test_forwarding_to_moto(sim: Simulator) -> None:
    async with aws(sim, "sts") as sts:
        assert (await sts.get_caller_identity())["Account"] == "123456789012"
    async with aws(sim, "ec2") as ec2:
        lt = await ec2.create_launch_template(
            LaunchTemplateName="rancher-managed-lt-x", LaunchTemplateData={"UserData": "eA=="}
        )
        lt_id = lt["LaunchTemplate"]["LaunchTemplateId"]
        await ec2.create_launch_template_version(
            LaunchTemplateId=lt_id, LaunchTemplateData={"UserData": "eQ=="}
        )
        vpc = (await ec2.create_vpc(CidrBlock="10.0.0.0/16"))["Vpc"]["VpcId"]
        subnet = (await ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24"))["Subnet"]["SubnetId"]
    template = '{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}'
    async with aws(sim, "cloudformation") as cfn:
        await cfn.create_stack(StackName="x-eks-vpc", TemplateBody=template)
        assert (await cfn.describe_stacks(StackName="x-eks-vpc"))["Stacks"][0][
            "StackStatus"
        ] == "CREATE_COMPLETE"
    async with aws(sim, "eks") as eks:  # EKS learns the VPC of a moto subnet
        c = await make_cluster(eks, "fw", vpc={"subnetIds": [subnet, "subnet-other"]})
        assert c["resourcesVpcConfig"]["vpcId"] == vpc
    status, state = await call(sim, "GET", "/_sim/state")
    assert status == 200
    lts = {t["name"]: t for t in state["launchTemplates"]}
    assert lts["rancher-managed-lt-x"]["versions"] == [1, 2]
    assert [s["name"] for s in state["stacks"]] == ["x-eks-vpc"]
    assert [c["name"] for c in state["clusters"]] == ["fw"]
    _, calls = await call(sim, "GET", "/_sim/calls")
    assert calls["ec2"]["CreateLaunchTemplate"] == 1 and calls["ec2"]["CreateSubnet"] == 1
    assert calls["cloudformation"] == {"CreateStack": 1, "DescribeStacks": 1}
    assert calls["sts"] == {"GetCallerIdentity": 1} and calls["eks"] == {"CreateCluster": 1}
    async with aws(sim, "cloudformation") as cfn:
        await cfn.delete_stack(StackName="x-eks-vpc")

    async def stack_gone() -> bool:  # deletion takes stack_delete_seconds (scaled)
        _, state = await call(sim, "GET", "/_sim/state")
        return not state["stacks"]

    await wait_for(stack_gone)


async def test_control_create_patch_and_delete(sim: Simulator) -> None:
    status, out = await call(
        sim,
        "POST",
        "/_sim/clusters",
        {
            "name": "ext",
            "version": "1.30",
            "tags": {"env": "prod"},
            "loggingTypes": ["api"],
            "nodegroups": [
                {"name": "ng", "desiredSize": 2, "minSize": 1, "maxSize": 3, "labels": {"a": "1"}}
            ],
        },
    )
    assert status == 201 and out["clusters"][0]["name"] == "ext"
    async with aws(sim, "eks") as eks:
        c = (await eks.describe_cluster(name="ext"))["cluster"]
        assert c["status"] == "ACTIVE" and c["version"] == "1.30" and c["tags"] == {"env": "prod"}
        ng = (await eks.describe_nodegroup(clusterName="ext", nodegroupName="ng"))["nodegroup"]
        assert ng["status"] == "ACTIVE" and ng["labels"] == {"a": "1"} and ng["version"] == "1.30"

        status, out = await call(
            sim,
            "PATCH",
            "/_sim/clusters/ext",
            {
                "tags": {"env": "dev"},
                "publicAccess": False,
                "privateAccess": True,
                "nodegroups": {"ng": {"desiredSize": 3, "labels": {"b": "2"}}},
            },
        )
        assert status == 200 and len(out["updates"]) == 2
        assert await status_of(eks, "ext") == "UPDATING"
        assert await status_of(eks, "ext", "ng") == "UPDATING"
        upd = (await eks.list_updates(name="ext"))["updateIds"]
        assert len(upd) == 1
        with pytest.raises(Exception, match="currently has update"):
            await eks.update_cluster_version(name="ext", version="1.31")
        assert (await eks.describe_cluster(name="ext"))["cluster"]["tags"] == {"env": "dev"}

        async def settled() -> bool:
            return await status_of(eks, "ext") == "ACTIVE" and await status_of(eks, "ext", "ng") == "ACTIVE"

        await wait_for(settled)
        c = (await eks.describe_cluster(name="ext"))["cluster"]
        assert c["resourcesVpcConfig"]["endpointPublicAccess"] is False
        assert (await eks.describe_update(name="ext", updateId=upd[0]))["update"]["status"] == "Successful"
        ng = (await eks.describe_nodegroup(clusterName="ext", nodegroupName="ng"))["nodegroup"]
        assert ng["scalingConfig"]["desiredSize"] == 3 and ng["labels"] == {"b": "2"}

        status, _ = await call(sim, "PATCH", "/_sim/clusters/ext", {"deleteNodegroups": ["ng"]})
        assert status == 200 and await status_of(eks, "ext", "ng") == "DELETING"
        status, err = await call(sim, "PATCH", "/_sim/clusters/nope", {"tags": {}})
        assert status == 404 and "No cluster found" in err["message"]
        status, _ = await call(sim, "DELETE", "/_sim/clusters/ext")
        assert status == 200 and await status_of(eks, "ext") == "DELETING"


async def test_console_edits_are_checked_like_the_api_and_a_bad_patch_changes_nothing(sim: Simulator) -> None:
    spec = {"name": "con", "tags": {"a": "1"}, "nodegroups": [{"name": "ng", "maxSize": 3}]}
    assert (await call(sim, "POST", "/_sim/clusters", spec))[0] == 201
    bad_patches = [
        ({"nodegroups": {"ng": {"desiredSize": 9}}}, "Desired capacity 9"),
        ({"loggingTypes": ["api", "nope"]}, "Unknown log type 'nope'"),
        ({"publicAccess": False}, "public or private access"),
        ({"nodegroups": {"new": {"version": "1.99"}}}, "unsupported Kubernetes version"),
        ({"deleteNodegroups": ["ghost"]}, "No node group found"),
    ]
    for bad, message in bad_patches:
        status, out = await call(sim, "PATCH", "/_sim/clusters/con", {"tags": {"b": "2"}, **bad})
        assert status >= 400 and message in out["message"], (bad, out)
    status, out = await call(
        sim,
        "POST",
        "/_sim/clusters",
        {**spec, "name": "con2", "nodegroups": [{"name": "ng", "minSize": 4, "maxSize": 3}]},
    )
    assert status == 400 and "Minimum capacity 4" in out["message"]
    _, state = await call(sim, "GET", "/_sim/state")
    [c] = state["clusters"]  # the refused cluster was not made, and nothing of "con" changed
    assert c["name"] == "con" and c["tags"] == {"a": "1"} and c["updates"] == []
    assert [(n["name"], n["desiredSize"], n["status"]) for n in c["nodegroups"]] == [("ng", 2, "ACTIVE")]


async def test_console_updates_read_like_the_apis(sim: Simulator) -> None:
    spec = {"name": "con", "version": "1.30", "nodegroups": [{"name": "ng", "labels": {"a": "1"}}]}
    await call(sim, "POST", "/_sim/clusters", spec)
    patch = {
        "version": "1.31",
        "loggingTypes": ["api"],
        "nodegroups": {"ng": {"maxSize": 4, "labels": {"b": "2"}, "version": "1.31"}},
    }
    status, out = await call(sim, "PATCH", "/_sim/clusters/con", patch)
    assert status == 200
    params = {(u["type"], p["type"]): p["value"] for u in out["updates"] for p in u["params"]}
    assert params == {
        ("VersionUpdate", "Version"): "1.31",
        ("VersionUpdate", "PlatformVersion"): "eks.1",
        ("LoggingUpdate", "ClusterLogging"): (
            '[{"types":["api"],"enabled":true},'
            '{"types":["audit","authenticator","controllerManager","scheduler"],"enabled":false}]'
        ),
        ("ConfigUpdate", "MaxSize"): "4",
        ("ConfigUpdate", "LabelsToAdd"): '{"b":"2"}',
        ("ConfigUpdate", "LabelsToRemove"): '["a"]',
        ("VersionUpdate", "ReleaseVersion"): "1.31.0-20250501",
    }
    async with aws(sim, "eks") as eks:

        async def settled() -> bool:
            return await status_of(eks, "con") == "ACTIVE" and await status_of(eks, "con", "ng") == "ACTIVE"

        await wait_for(settled)
        c = (await eks.describe_cluster(name="con"))["cluster"]
        assert c["version"] == "1.31" and c["logging"]["clusterLogging"][0] == {
            "types": ["api"],
            "enabled": True,
        }
        ng = (await eks.describe_nodegroup(clusterName="con", nodegroupName="ng"))["nodegroup"]
        assert ng["version"] == "1.31" and ng["labels"] == {"b": "2"} and ng["scalingConfig"]["maxSize"] == 4


async def test_control_batch(sim: Simulator) -> None:
    status, out = await call(
        sim,
        "POST",
        "/_sim/clusters:batch",
        {
            "count": 300,
            "prefix": "load-",
            "template": {"nodegroups": [{"name": "ng"}]},
        },
    )
    assert status == 201 and len(out["clusters"]) == 300
    status, out = await call(
        sim, "POST", "/_sim/clusters", [{"name": "l1"}, {"name": "l2", "region": "eu-west-1"}]
    )
    assert status == 201 and [c["region"] for c in out["clusters"]] == ["us-west-2", "eu-west-1"]
    async with aws(sim, "eks") as eks:
        names = [n async for p in eks.get_paginator("list_clusters").paginate() for n in p["clusters"]]
    assert len(names) == 301 and names[0] == "l1" and names[1] == "load-00000"
    status, _ = await call(sim, "POST", "/_sim/clusters", {"name": "l1"})
    assert status == 409


async def test_state_file_survives_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "state.json")
    settings = SimSettings(
        time_scale=0.01, kube_endpoints=False, state_file=path, cluster_create_seconds=1000
    )
    async with Simulator(settings) as sim:
        async with aws(sim, "eks") as eks:
            await make_cluster(eks, "keep", tags={"k": "v"})
        await call(sim, "POST", "/_sim/clusters", {"name": "ready", "nodegroups": [{"name": "ng"}]})
    assert os.path.exists(path)
    async with Simulator(settings) as sim, aws(sim, "eks") as eks:
        c = (await eks.describe_cluster(name="keep"))["cluster"]
        assert c["status"] == "CREATING" and c["tags"] == {"k": "v"}  # still creating after restart
        ng = (await eks.describe_nodegroup(clusterName="ready", nodegroupName="ng"))["nodegroup"]
        assert ng["status"] == "ACTIVE"
    settings = SimSettings(time_scale=0.01, kube_endpoints=False, state_file=path)
    async with Simulator(settings) as sim, aws(sim, "eks") as eks:
        assert sorted((await eks.list_clusters())["clusters"]) == ["keep", "ready"]


def test_main_prints_url_and_serves() -> None:
    args = "['--listen', '127.0.0.1:0', '--time-scale', '0.01', '--no-kube']"
    code = f"import sys; from controlplane.sim import main; sys.exit(main({args}))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line
        url = line.strip().split()[-1]
        with urllib.request.urlopen(url + "/_sim/calls", timeout=10) as r:
            assert r.status == 200
        proc.terminate()
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
