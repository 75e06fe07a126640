"""What the simulator fixes in moto: a clean moto per simulator, launch-template versions, not-found
codes, stack deletion that takes time, and IAM OIDC providers without thumbprints."""

from __future__ import annotations

from typing import Any

import aiohttp
import anyio
import msgspec
import pytest
from botocore.exceptions import ClientError

from controlplane.sim import SimSettings, Simulator

from .conftest import aws, wait_for

pytestmark = pytest.mark.anyio

ROLE_TEMPLATE = msgspec.json.encode(
    {
        "Resources": {
            "R": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "stack-role",
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
                },
            }
        }
    }
).decode()

# moto's CloudFormation cannot delete this VPC: it leaves the route table, which blocks the VPC.
VPC_TEMPLATE = msgspec.json.encode(
    {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Routes": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        }
    }
).decode()


async def sim_state(sim: Simulator) -> Any:
    async with aiohttp.ClientSession() as h, h.get(sim.url + "/_sim/state") as r:
        assert r.status == 200
        return msgspec.json.decode(await r.read())


async def stack_status(cfn: Any, name_or_id: str) -> str:
    return str((await cfn.describe_stacks(StackName=name_or_id))["Stacks"][0]["StackStatus"])


def code_of(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


async def new_template(ec2: Any, name: str, versions: int) -> str:
    """A launch template with versions 1..``versions`` (1 is the default)."""
    lt = await ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"UserData": "eA=="})
    lt_id = str(lt["LaunchTemplate"]["LaunchTemplateId"])
    for i in range(2, versions + 1):
        v = await ec2.create_launch_template_version(
            LaunchTemplateId=lt_id, LaunchTemplateData={"InstanceType": "t3.small"}
        )
        assert v["LaunchTemplateVersion"]["VersionNumber"] == i
    return lt_id


async def versions_of(ec2: Any, lt_id: str) -> list[int]:
    pages = ec2.get_paginator("describe_launch_template_versions").paginate(LaunchTemplateId=lt_id)
    return sorted([v["VersionNumber"] async for p in pages for v in p["LaunchTemplateVersions"]])


async def test_every_simulator_starts_from_an_empty_moto() -> None:
    settings = SimSettings(time_scale=0.01, kube_endpoints=False, stack_delete_seconds=0)
    async with Simulator(settings) as first:
        async with aws(first, "ec2") as ec2, aws(first, "cloudformation") as cfn:
            await new_template(ec2, "left-behind", 1)
            await cfn.create_stack(StackName="left-behind", TemplateBody=ROLE_TEMPLATE)
        state = await sim_state(first)
        assert [t["name"] for t in state["launchTemplates"]] == ["left-behind"]
        assert [s["name"] for s in state["stacks"]] == ["left-behind"]
    async with Simulator(settings) as second:
        state = await sim_state(second)
        assert state["launchTemplates"] == [] and state["stacks"] == []
        async with aws(second, "iam") as iam:
            assert (await iam.list_roles())["Roles"] == []


async def test_delete_launch_template_versions(sim: Simulator) -> None:
    async with aws(sim, "ec2") as ec2:
        lt_id = await new_template(ec2, "rancher-managed-lt-a", 5)
        out = await ec2.delete_launch_template_versions(LaunchTemplateId=lt_id, Versions=["2", "3", "1", "9"])
        ok = out["SuccessfullyDeletedLaunchTemplateVersions"]
        assert ok == [
            {"LaunchTemplateId": lt_id, "LaunchTemplateName": "rancher-managed-lt-a", "VersionNumber": n}
            for n in (2, 3)
        ]
        failed = {f["VersionNumber"]: f for f in out["UnsuccessfullyDeletedLaunchTemplateVersions"]}
        assert set(failed) == {1, 9}
        assert failed[1]["ResponseError"]["Code"] == "unexpectedError"
        assert "default version" in failed[1]["ResponseError"]["Message"]
        assert failed[9]["ResponseError"]["Code"] == "launchTemplateVersionDoesNotExist"
        assert failed[9]["LaunchTemplateId"] == lt_id

        assert await versions_of(ec2, lt_id) == [1, 4, 5]
        lts = {t["id"]: t for t in (await sim_state(sim))["launchTemplates"]}
        assert lts[lt_id]["versions"] == [1, 4, 5]
        with pytest.raises(ClientError) as e:
            await ec2.describe_launch_template_versions(LaunchTemplateId=lt_id, Versions=["2"])
        assert code_of(e) == "InvalidLaunchTemplateId.VersionNotFound"
        got = await ec2.describe_launch_template_versions(LaunchTemplateId=lt_id, Versions=["4", "$Default"])
        assert [v["VersionNumber"] for v in got["LaunchTemplateVersions"]] == [4, 1]

        # numbers are never reused, and "$Latest" is the newest
        v = await ec2.create_launch_template_version(LaunchTemplateId=lt_id, LaunchTemplateData={})
        assert v["LaunchTemplateVersion"]["VersionNumber"] == 6
        await ec2.delete_launch_template_versions(LaunchTemplateId=lt_id, Versions=["6", "5"])
        v = await ec2.create_launch_template_version(LaunchTemplateId=lt_id, LaunchTemplateData={})
        assert v["LaunchTemplateVersion"]["VersionNumber"] == 7
        got = await ec2.describe_launch_template_versions(LaunchTemplateId=lt_id, Versions=["$Latest"])
        assert got["LaunchTemplateVersions"][0]["VersionNumber"] == 7
        described = (await ec2.describe_launch_templates(LaunchTemplateIds=[lt_id]))["LaunchTemplates"][0]
        assert described["LatestVersionNumber"] == 7 and described["DefaultVersionNumber"] == 1

        # by name, and deleting again reports the version as gone
        out = await ec2.delete_launch_template_versions(
            LaunchTemplateName="rancher-managed-lt-a", Versions=["4"]
        )
        assert [d["VersionNumber"] for d in out["SuccessfullyDeletedLaunchTemplateVersions"]] == [4]
        out = await ec2.delete_launch_template_versions(LaunchTemplateId=lt_id, Versions=["4"])
        assert out["SuccessfullyDeletedLaunchTemplateVersions"] == []
        assert out["UnsuccessfullyDeletedLaunchTemplateVersions"][0]["ResponseError"]["Code"] == (
            "launchTemplateVersionDoesNotExist"
        )
        assert await versions_of(ec2, lt_id) == [1, 7]


async def test_delete_launch_template_versions_of_a_missing_template(sim: Simulator) -> None:
    async with aws(sim, "ec2") as ec2:
        out = await ec2.delete_launch_template_versions(
            LaunchTemplateId="lt-0123456789abcdef0", Versions=["2", "3"]
        )
        assert out["SuccessfullyDeletedLaunchTemplateVersions"] == []
        failed = out["UnsuccessfullyDeletedLaunchTemplateVersions"]
        assert [f["VersionNumber"] for f in failed] == [2, 3]
        assert {f["ResponseError"]["Code"] for f in failed} == {"launchTemplateIdDoesNotExist"}
        assert failed[0]["LaunchTemplateId"] == "lt-0123456789abcdef0"
        out = await ec2.delete_launch_template_versions(LaunchTemplateName="nope", Versions=["2"])
        failed = out["UnsuccessfullyDeletedLaunchTemplateVersions"]
        assert failed[0]["ResponseError"]["Code"] == "launchTemplateNameDoesNotExist"
        assert failed[0]["LaunchTemplateName"] == "nope"

        lt_id = await new_template(ec2, "lt-b", 1)
        with pytest.raises(ClientError) as e:
            await ec2.delete_launch_template_versions(
                LaunchTemplateId=lt_id, Versions=[str(n) for n in range(2, 203)]
            )
        assert code_of(e) == "InvalidParameterValue"
        with pytest.raises(ClientError) as e:
            await ec2.delete_launch_template_versions(Versions=["2"])
        assert code_of(e) == "MissingParameter"
        with pytest.raises(ClientError) as e:
            await ec2.delete_launch_template_versions(LaunchTemplateId=lt_id, Versions=["$Latest"])
        assert code_of(e) == "InvalidParameterValue"
        assert await versions_of(ec2, lt_id) == [1]


async def test_describe_launch_template_versions_returns_every_version(sim: Simulator) -> None:
    async with aws(sim, "ec2") as ec2:
        lt_id = await new_template(ec2, "many", 22)  # moto alone stops at 15, without a NextToken
        assert await versions_of(ec2, lt_id) == list(range(1, 23))


async def test_launch_template_not_found_codes(sim: Simulator) -> None:
    missing = "lt-0123456789abcdef0"
    async with aws(sim, "ec2") as ec2:
        lt_id = await new_template(ec2, "present", 2)
        by_id = (await ec2.describe_launch_templates(LaunchTemplateIds=[lt_id]))["LaunchTemplates"]
        by_name = (await ec2.describe_launch_templates(LaunchTemplateNames=["present"]))["LaunchTemplates"]
        assert by_id == by_name and by_id[0]["LaunchTemplateId"] == lt_id
        assert by_id[0]["LatestVersionNumber"] == 2

        cases: list[tuple[str, str, dict[str, Any]]] = [
            (
                "InvalidLaunchTemplateId.NotFound",
                "describe_launch_templates",
                {"LaunchTemplateIds": [lt_id, missing]},
            ),
            (
                "InvalidLaunchTemplateName.NotFoundException",
                "describe_launch_templates",
                {"LaunchTemplateNames": ["xyz"]},
            ),
            ("InvalidLaunchTemplateId.NotFound", "delete_launch_template", {"LaunchTemplateId": missing}),
            (
                "InvalidLaunchTemplateName.NotFoundException",
                "delete_launch_template",
                {"LaunchTemplateName": "xyz"},
            ),
            (
                "InvalidLaunchTemplateId.NotFound",
                "create_launch_template_version",
                {"LaunchTemplateId": missing, "LaunchTemplateData": {}},
            ),
            (
                "InvalidLaunchTemplateId.NotFound",
                "describe_launch_template_versions",
                {"LaunchTemplateId": missing},
            ),
            (
                "InvalidLaunchTemplateId.VersionNotFound",
                "describe_launch_template_versions",
                {"LaunchTemplateId": lt_id, "Versions": ["0"]},  # moto alone: $Latest
            ),
            (
                "InvalidLaunchTemplateId.VersionNotFound",
                "describe_launch_template_versions",
                {"LaunchTemplateId": lt_id, "Versions": ["1", "3"]},
            ),
        ]
        for code, method, kwargs in cases:
            with pytest.raises(ClientError) as e:
                await getattr(ec2, method)(**kwargs)
            assert code_of(e) == code, method

        deleted = (await ec2.delete_launch_template(LaunchTemplateId=lt_id))["LaunchTemplate"]
        assert deleted["LaunchTemplateId"] == lt_id
        with pytest.raises(ClientError) as e:
            await ec2.describe_launch_templates(LaunchTemplateIds=[lt_id])
        assert code_of(e) == "InvalidLaunchTemplateId.NotFound"
        with pytest.raises(ClientError) as e:
            await ec2.delete_launch_template(LaunchTemplateId=lt_id)
        assert code_of(e) == "InvalidLaunchTemplateId.NotFound"
    assert (await sim_state(sim))["launchTemplates"] == []


async def test_stack_deletion_takes_time() -> None:
    # 30 s at time_scale 0.01: 0.3 s of DELETE_IN_PROGRESS
    settings = SimSettings(time_scale=0.01, kube_endpoints=False, stack_delete_seconds=30)
    async with Simulator(settings) as sim, aws(sim, "cloudformation") as cfn, aws(sim, "iam") as iam:
        stack_id = (await cfn.create_stack(StackName="eks-vpc", TemplateBody=ROLE_TEMPLATE))["StackId"]
        assert await stack_status(cfn, "eks-vpc") == "CREATE_COMPLETE"
        await iam.get_role(RoleName="stack-role")

        start = anyio.current_time()
        await cfn.delete_stack(StackName="eks-vpc")
        assert await stack_status(cfn, "eks-vpc") == "DELETE_IN_PROGRESS"
        assert [(s["name"], s["status"]) for s in (await sim_state(sim))["stacks"]] == [
            ("eks-vpc", "DELETE_IN_PROGRESS")
        ]
        await cfn.delete_stack(StackName=stack_id)  # idempotent, by ID too
        with pytest.raises(ClientError) as e:
            await cfn.create_stack(StackName="eks-vpc", TemplateBody=ROLE_TEMPLATE)
        assert code_of(e) == "AlreadyExistsException"

        async def gone() -> bool:
            try:
                await cfn.describe_stacks(StackName="eks-vpc")
            except ClientError as e:
                assert e.response["Error"]["Code"] == "ValidationError"
                assert e.response["Error"]["Message"] == "Stack with id eks-vpc does not exist"
                return True
            return False

        await wait_for(gone)
        assert anyio.current_time() - start >= 0.29  # not before the 0.3 s are over
        assert (await sim_state(sim))["stacks"] == []
        # by ID a deleted stack is still described, as on AWS
        assert await stack_status(cfn, stack_id) == "DELETE_COMPLETE"
        with pytest.raises(ClientError) as e:
            await iam.get_role(RoleName="stack-role")
        assert code_of(e) == "NoSuchEntity"
        await cfn.delete_stack(StackName="never-existed")  # succeeds doing nothing, as on AWS


@pytest.mark.parametrize("delay", [0.0, 5.0])
async def test_stack_moto_cannot_fully_delete_is_deleted_as_on_aws(delay: float) -> None:
    settings = SimSettings(time_scale=0.01, kube_endpoints=False, stack_delete_seconds=delay)
    async with Simulator(settings) as sim, aws(sim, "cloudformation") as cfn:
        stack_id = (await cfn.create_stack(StackName="vpc", TemplateBody=VPC_TEMPLATE))["StackId"]
        await cfn.delete_stack(StackName="vpc")  # moto alone: DependencyViolation, stack half-gone

        async def deleted() -> bool:
            return await stack_status(cfn, stack_id) == "DELETE_COMPLETE"

        await wait_for(deleted)
        with pytest.raises(ClientError) as e:
            await cfn.describe_stacks(StackName="vpc")
        assert code_of(e) == "ValidationError"
        assert (await sim_state(sim))["stacks"] == []


async def test_reset_cancels_stack_deletions() -> None:
    settings = SimSettings(time_scale=0.01, kube_endpoints=False, stack_delete_seconds=30)
    async with Simulator(settings) as sim, aws(sim, "cloudformation") as cfn:
        await cfn.create_stack(StackName="s", TemplateBody=ROLE_TEMPLATE)
        await cfn.delete_stack(StackName="s")
        async with aiohttp.ClientSession() as h, h.post(sim.url + "/_sim/reset") as r:
            assert r.status == 200
        assert (await sim_state(sim))["stacks"] == []
        await cfn.create_stack(StackName="s", TemplateBody=ROLE_TEMPLATE)
        await anyio.sleep(0.4)  # the cancelled deletion must not take the new stack
        assert await stack_status(cfn, "s") == "CREATE_COMPLETE"


async def test_oidc_provider_without_thumbprint(sim: Simulator) -> None:
    url = "https://oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF"
    async with aws(sim, "iam") as iam:
        arn = (await iam.create_open_id_connect_provider(Url=url, ClientIDList=["sts.amazonaws.com"]))[
            "OpenIDConnectProviderArn"
        ]
        assert arn.endswith(":oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF")
        listed = (await iam.list_open_id_connect_providers())["OpenIDConnectProviderList"]
        assert [p["Arn"] for p in listed] == [arn]
        got = await iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        assert got["ClientIDList"] == ["sts.amazonaws.com"]
        await iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        await iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)  # idempotent, as on AWS
        assert (await iam.list_open_id_connect_providers())["OpenIDConnectProviderList"] == []
        with pytest.raises(ClientError) as e:
            await iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        assert code_of(e) == "NoSuchEntity"


def test_moto_answers_one_request_at_a_time() -> None:
    # moto's backends race when two request threads mutate them (IAM create_role walked the roles
    # while another thread added one: a 500 in the soak). The server's app runs requests one by one.
    import threading  # noqa: PLC0415
    import time  # noqa: PLC0415

    from controlplane.sim._moto import _OneAtATime  # noqa: PLC0415

    inside = 0
    most = 0
    guard = threading.Lock()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        start_response("200 OK", [])
        yield b"a"
        time.sleep(0.01)  # the body is still being produced: still inside
        yield b"b"
        with guard:
            inside -= 1

    serial = _OneAtATime(app)
    bodies: list[list[bytes]] = []
    threads = [threading.Thread(target=lambda: bodies.append(serial({}, lambda *a: None))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1
    assert bodies == [[b"a", b"b"]] * 8

    closed: list[bool] = []

    class Body(list[bytes]):
        def close(self) -> None:
            closed.append(True)

    assert _OneAtATime(lambda e, s: Body([b"x"]))({}, lambda *a: None) == [b"x"]
    assert closed == [True]  # the app's iterable is closed, as a WSGI server would
