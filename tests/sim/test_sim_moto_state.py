"""``--state FILE`` keeps moto's resources too (stacks, launch templates, IAM), and ``/_sim/state`` shows the
OIDC providers for leak checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from controlplane.sim import SimSettings, Simulator

from .conftest import aws, wait_for

pytestmark = pytest.mark.anyio

TEMPLATE = json.dumps(
    {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "kept-role",
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
                },
            }
        },
        "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}}},
    }
)
ISSUER = "https://oidc.eks.us-west-2.amazonaws.com/id/ABCDEF"


async def sim_state(sim: Simulator) -> dict[str, Any]:
    async with aiohttp.ClientSession() as h, h.get(sim.url + "/_sim/state") as r:
        doc: dict[str, Any] = await r.json()
        return doc


async def test_moto_resources_survive_a_restart(tmp_path: Path) -> None:
    settings = SimSettings(
        time_scale=0.01,
        kube_endpoints=False,
        state_file=str(tmp_path / "state.json"),
        stack_delete_seconds=1000,
    )
    async with Simulator(settings) as sim:
        async with aws(sim, "cloudformation") as cfn:
            await cfn.create_stack(
                StackName="kept", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_NAMED_IAM"]
            )
            await cfn.create_stack(
                StackName="going", TemplateBody=TEMPLATE.replace("kept-role", "going-role")
            )
            await cfn.delete_stack(StackName="going")  # still DELETE_IN_PROGRESS at the restart
        async with aws(sim, "ec2") as ec2:
            lt = await ec2.create_launch_template(
                LaunchTemplateName="rancher-managed-lt-kept", LaunchTemplateData={"InstanceType": "t3.medium"}
            )
            await ec2.create_launch_template_version(
                LaunchTemplateId=lt["LaunchTemplate"]["LaunchTemplateId"],
                LaunchTemplateData={"InstanceType": "t3.large"},
            )
        async with aws(sim, "iam") as iam:
            await iam.create_open_id_connect_provider(Url=ISSUER, ClientIDList=["sts.amazonaws.com"])
        before = await sim_state(sim)
    assert (tmp_path / "state.json.moto").exists()

    fast = SimSettings(time_scale=0.01, kube_endpoints=False, state_file=str(tmp_path / "state.json"))
    async with Simulator(fast) as sim:
        after = await sim_state(sim)
        assert after["launchTemplates"] == before["launchTemplates"]
        assert [p["url"] for p in after["oidcProviders"]] == [ISSUER.removeprefix("https://")]
        async with aws(sim, "iam") as iam:
            role = (await iam.get_role(RoleName="kept-role"))["Role"]
            assert role["RoleName"] == "kept-role"
        async with aws(sim, "cloudformation") as cfn:
            kept = (await cfn.describe_stacks(StackName="kept"))["Stacks"][0]
            assert kept["StackStatus"] == "CREATE_COMPLETE"

        async def going_gone() -> bool:
            return {s["name"] for s in (await sim_state(sim))["stacks"]} == {"kept"}

        # The deletion that was in progress at the restart completes in the new process.
        await wait_for(going_gone, timeout=10)
        async with aws(sim, "iam") as iam:
            names = {r["RoleName"] for r in (await iam.list_roles())["Roles"]}
        assert "kept-role" in names and "going-role" not in names


async def test_without_a_state_file_moto_starts_empty(tmp_path: Path) -> None:
    async with Simulator(SimSettings(time_scale=0.01, kube_endpoints=False)) as sim:
        async with aws(sim, "iam") as iam:
            await iam.create_open_id_connect_provider(Url=ISSUER, ClientIDList=["sts.amazonaws.com"])
        assert len((await sim_state(sim))["oidcProviders"]) == 1
    async with Simulator(SimSettings(time_scale=0.01, kube_endpoints=False)) as sim:
        assert (await sim_state(sim))["oidcProviders"] == []


async def test_renumbered_launch_templates_keep_their_numbering_after_a_restart(tmp_path: Path) -> None:
    settings = SimSettings(time_scale=0.01, kube_endpoints=False, state_file=str(tmp_path / "state.json"))
    async with Simulator(settings) as sim, aws(sim, "ec2") as ec2:
        lt = (await ec2.create_launch_template(LaunchTemplateName="lt", LaunchTemplateData={}))[
            "LaunchTemplate"
        ]
        lt_id = lt["LaunchTemplateId"]
        for _ in range(2):
            await ec2.create_launch_template_version(LaunchTemplateId=lt_id, LaunchTemplateData={})
        # Deleting a version makes the simulator number the template's versions itself (as EC2 does).
        await ec2.delete_launch_template_versions(LaunchTemplateId=lt_id, Versions=["2"])
    async with Simulator(settings) as sim, aws(sim, "ec2") as ec2:
        v = await ec2.create_launch_template_version(LaunchTemplateId=lt_id, LaunchTemplateData={})
        assert v["LaunchTemplateVersion"]["VersionNumber"] == 4  # never a reused 3, nor 2
