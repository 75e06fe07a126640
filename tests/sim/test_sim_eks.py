"""The simulated EKS through aiobotocore: answers must parse with botocore's own model."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from botocore.exceptions import ClientError

from controlplane.sim import Simulator

from .conftest import NODE_ROLE, ROLE, SUBNETS, active_cluster, aws, make_cluster, status_of, wait_for

pytestmark = pytest.mark.anyio


def code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return e.value.response["Error"]["Code"]  # type: ignore[no-any-return]


async def test_cluster_lifecycle_and_fields(eks: Any) -> None:
    c = await make_cluster(
        eks,
        "c1",
        version="1.31",
        tags={"team": "a"},
        logging={"clusterLogging": [{"types": ["api", "audit"], "enabled": True}]},
        vpc={"endpointPrivateAccess": True, "securityGroupIds": ["sg-1"]},
    )
    assert c["status"] == "CREATING"
    assert c["arn"] == "arn:aws:eks:us-west-2:123456789012:cluster/c1"
    assert "endpoint" not in c
    c = await active_cluster(eks, "c2")
    assert c["status"] == "ACTIVE"
    c = (await eks.describe_cluster(name="c1"))["cluster"]
    await wait_for(lambda: _is(eks, "c1", "ACTIVE"))
    c = (await eks.describe_cluster(name="c1"))["cluster"]
    assert c["version"] == "1.31"
    assert c["endpoint"].startswith("https://")
    assert c["certificateAuthority"]["data"] == ""  # no KubeFleet in this fixture
    assert c["identity"]["oidc"]["issuer"].startswith("https://oidc.eks.us-west-2.amazonaws.com/id/")
    vpc = c["resourcesVpcConfig"]
    assert vpc["subnetIds"] == SUBNETS and vpc["securityGroupIds"] == ["sg-1"]
    assert vpc["endpointPublicAccess"] is True and vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == ["0.0.0.0/0"]
    assert vpc["clusterSecurityGroupId"].startswith("sg-") and vpc["vpcId"].startswith("vpc-")
    assert c["logging"]["clusterLogging"][0] == {"types": ["api", "audit"], "enabled": True}
    assert c["kubernetesNetworkConfig"]["ipFamily"] == "ipv4"
    assert c["tags"] == {"team": "a"} and c["roleArn"] == ROLE
    assert c["platformVersion"].startswith("eks.")
    assert c["createdAt"].year >= 2024

    await eks.delete_cluster(name="c2")
    assert await status_of(eks, "c2") == "DELETING"

    async def gone() -> bool:
        try:
            await eks.describe_cluster(name="c2")
        except ClientError as e:
            return bool(e.response["Error"]["Code"] == "ResourceNotFoundException")
        return False

    await wait_for(gone)
    assert (await eks.list_clusters())["clusters"] == ["c1"]


async def _is(eks: Any, name: str, status: str) -> bool:
    return await status_of(eks, name) == status


async def test_errors(eks: Any) -> None:
    with pytest.raises(ClientError) as e:
        await eks.describe_cluster(name="missing")
    assert code(e) == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == "No cluster found for name: missing."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    await make_cluster(eks, "dup")
    with pytest.raises(ClientError) as e:
        await make_cluster(eks, "dup")
    assert code(e) == "ResourceInUseException"
    with pytest.raises(ClientError) as e:
        await make_cluster(eks, "bad-version", version="1.12")
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        await eks.create_cluster(name="one-subnet", roleArn=ROLE, resourcesVpcConfig={"subnetIds": ["s-1"]})
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        await eks.describe_nodegroup(clusterName="dup", nodegroupName="x")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        await eks.describe_addon(clusterName="dup", addonName="vpc-cni")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        await eks.list_tags_for_resource(resourceArn="arn:aws:eks:us-west-2:123456789012:cluster/nope")
    assert code(e) == "NotFoundException"


async def test_idempotent_create_with_same_token(eks: Any) -> None:
    a = await make_cluster(eks, "idem", clientRequestToken="tok-1")
    b = await make_cluster(eks, "idem", clientRequestToken="tok-1")
    assert a["arn"] == b["arn"]


async def test_pagination(eks: Any) -> None:
    names = [f"p{i:02d}" for i in range(25)]
    for n in names:
        await make_cluster(eks, n)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kw = {"maxResults": 10} | ({"nextToken": token} if token else {})
        r = await eks.list_clusters(**kw)
        seen += r["clusters"]
        pages += 1
        token = r.get("nextToken")
        if not token:
            break
    assert seen == names and pages == 3
    paginator = eks.get_paginator("list_clusters")
    collected = [
        n async for page in paginator.paginate(PaginationConfig={"PageSize": 7}) for n in page["clusters"]
    ]
    assert collected == names
    with pytest.raises(ClientError) as e:
        await eks.list_clusters(nextToken="!!!not-a-token")
    assert code(e) == "InvalidParameterException"


async def test_updates_and_currently_has_update(eks: Any) -> None:
    await active_cluster(eks, "u1", version="1.30")
    r = await eks.update_cluster_version(name="u1", version="1.31")
    upd = r["update"]
    assert upd["status"] == "InProgress" and upd["type"] == "VersionUpdate"
    assert await status_of(eks, "u1") == "UPDATING"
    with pytest.raises(ClientError) as e:
        await eks.update_cluster_config(
            name="u1", logging={"clusterLogging": [{"types": ["api"], "enabled": True}]}
        )
    assert code(e) == "ResourceInUseException"
    assert "currently has update" in e.value.response["Error"]["Message"]
    assert (await eks.list_updates(name="u1"))["updateIds"] == [upd["id"]]
    await wait_for(lambda: _is(eks, "u1", "ACTIVE"))
    d = (await eks.describe_update(name="u1", updateId=upd["id"]))["update"]
    assert d["status"] == "Successful"
    assert (await eks.describe_cluster(name="u1"))["cluster"]["version"] == "1.31"

    # endpoint access: the new values appear when the update completes
    r = await eks.update_cluster_config(
        name="u1", resourcesVpcConfig={"endpointPublicAccess": False, "endpointPrivateAccess": True}
    )
    assert r["update"]["type"] == "EndpointAccessUpdate"
    params = {p["type"]: p["value"] for p in r["update"]["params"]}
    assert params == {"EndpointPublicAccess": "false", "EndpointPrivateAccess": "true"}
    vpc = (await eks.describe_cluster(name="u1"))["cluster"]["resourcesVpcConfig"]
    assert vpc["endpointPublicAccess"] is True  # not applied yet
    await wait_for(lambda: _is(eks, "u1", "ACTIVE"))
    vpc = (await eks.describe_cluster(name="u1"))["cluster"]["resourcesVpcConfig"]
    assert vpc["endpointPublicAccess"] is False and vpc["endpointPrivateAccess"] is True

    # cidrs and logging; a no-op is refused like EKS does
    await eks.update_cluster_config(name="u1", resourcesVpcConfig={"publicAccessCidrs": ["10.0.0.0/8"]})
    await wait_for(lambda: _is(eks, "u1", "ACTIVE"))
    with pytest.raises(ClientError) as e:
        await eks.update_cluster_config(name="u1", resourcesVpcConfig={"publicAccessCidrs": ["10.0.0.0/8"]})
    assert code(e) == "InvalidParameterException"
    r = await eks.update_cluster_config(
        name="u1", logging={"clusterLogging": [{"types": ["audit", "api"], "enabled": True}]}
    )
    assert r["update"]["type"] == "LoggingUpdate"
    await wait_for(lambda: _is(eks, "u1", "ACTIVE"))
    c = (await eks.describe_cluster(name="u1"))["cluster"]
    assert c["logging"]["clusterLogging"][0] == {"types": ["api", "audit"], "enabled": True}
    assert c["resourcesVpcConfig"]["publicAccessCidrs"] == ["10.0.0.0/8"]
    ids = await eks.list_updates(name="u1", maxResults=2)
    assert len(ids["updateIds"]) == 2 and "nextToken" in ids
    rest = await eks.list_updates(name="u1", nextToken=ids["nextToken"])
    assert len(rest["updateIds"]) == 2 and "nextToken" not in rest


async def test_version_rules(eks: Any) -> None:
    await active_cluster(eks, "v1", version="1.29")
    with pytest.raises(ClientError) as e:
        await eks.update_cluster_version(name="v1", version="1.31")
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        await eks.update_cluster_version(name="v1", version="1.29")
    assert code(e) == "InvalidParameterException"
    # node group: defaults to the cluster version, never newer
    r = await eks.create_nodegroup(clusterName="v1", nodegroupName="ng", subnets=SUBNETS, nodeRole=NODE_ROLE)
    assert r["nodegroup"]["version"] == "1.29"
    with pytest.raises(ClientError) as e:
        await eks.create_nodegroup(
            clusterName="v1", nodegroupName="ng2", subnets=SUBNETS, nodeRole=NODE_ROLE, version="1.30"
        )
    assert code(e) == "InvalidParameterException"
    await wait_for(lambda: _ng_is(eks, "v1", "ng", "ACTIVE"))
    await eks.update_cluster_version(name="v1", version="1.30")
    await wait_for(lambda: _is(eks, "v1", "ACTIVE"))
    with pytest.raises(ClientError) as e:  # node group is behind: EKS refuses the next upgrade
        await eks.update_cluster_version(name="v1", version="1.31")
    assert code(e) == "InvalidRequestException"
    with pytest.raises(ClientError) as e:
        await eks.update_nodegroup_version(clusterName="v1", nodegroupName="ng", version="1.31")
    assert code(e) == "InvalidParameterException"
    r = await eks.update_nodegroup_version(clusterName="v1", nodegroupName="ng")  # -> cluster version
    assert {p["type"]: p["value"] for p in r["update"]["params"]}["Version"] == "1.30"
    await wait_for(lambda: _ng_is(eks, "v1", "ng", "ACTIVE"))
    ng = (await eks.describe_nodegroup(clusterName="v1", nodegroupName="ng"))["nodegroup"]
    assert ng["version"] == "1.30" and ng["releaseVersion"].startswith("1.30")


async def _ng_is(eks: Any, cluster: str, ng: str, status: str) -> bool:
    return await status_of(eks, cluster, ng) == status


async def test_nodegroup_lifecycle(eks: Any) -> None:
    await active_cluster(eks, "n1")
    r = await eks.create_nodegroup(
        clusterName="n1",
        nodegroupName="ng1",
        subnets=SUBNETS,
        nodeRole=NODE_ROLE,
        scalingConfig={"minSize": 1, "maxSize": 4, "desiredSize": 2},
        labels={"a": "1", "b": "2"},
        tags={"t": "v"},
        taints=[{"key": "k", "value": "v", "effect": "NO_SCHEDULE"}],
    )
    ng = r["nodegroup"]
    assert ng["status"] == "CREATING"
    assert ng["nodegroupArn"].startswith("arn:aws:eks:us-west-2:123456789012:nodegroup/n1/ng1/")
    assert ng["instanceTypes"] == ["t3.medium"] and ng["diskSize"] == 20
    assert ng["amiType"] == "AL2023_x86_64_STANDARD" and ng["capacityType"] == "ON_DEMAND"
    assert ng["resources"]["autoScalingGroups"][0]["name"].startswith("eks-ng1-")
    assert ng["health"]["issues"] == []
    with pytest.raises(ClientError) as e:
        await eks.update_nodegroup_config(
            clusterName="n1", nodegroupName="ng1", scalingConfig={"desiredSize": 3}
        )
    assert code(e) == "ResourceInUseException"
    await wait_for(lambda: _ng_is(eks, "n1", "ng1", "ACTIVE"))
    assert (await eks.list_nodegroups(clusterName="n1"))["nodegroups"] == ["ng1"]

    r = await eks.update_nodegroup_config(
        clusterName="n1",
        nodegroupName="ng1",
        scalingConfig={"desiredSize": 3},
        labels={"addOrUpdateLabels": {"c": "3"}, "removeLabels": ["a"]},
    )
    assert r["update"]["type"] == "ConfigUpdate"
    assert await status_of(eks, "n1", "ng1") == "UPDATING"
    with pytest.raises(ClientError) as e:
        await eks.update_nodegroup_config(
            clusterName="n1", nodegroupName="ng1", scalingConfig={"desiredSize": 4}
        )
    assert "currently has update" in e.value.response["Error"]["Message"]
    ng_updates = await eks.list_updates(name="n1", nodegroupName="ng1")
    assert ng_updates["updateIds"] == [r["update"]["id"]]
    assert (await eks.list_updates(name="n1"))["updateIds"] == []  # cluster-level only
    await wait_for(lambda: _ng_is(eks, "n1", "ng1", "ACTIVE"))
    d = await eks.describe_update(name="n1", updateId=r["update"]["id"], nodegroupName="ng1")
    assert d["update"]["status"] == "Successful"
    ng = (await eks.describe_nodegroup(clusterName="n1", nodegroupName="ng1"))["nodegroup"]
    assert ng["scalingConfig"] == {"minSize": 1, "maxSize": 4, "desiredSize": 3}
    assert ng["labels"] == {"b": "2", "c": "3"}
    with pytest.raises(ClientError) as e:
        await eks.update_nodegroup_config(
            clusterName="n1", nodegroupName="ng1", scalingConfig={"desiredSize": 9}
        )
    assert code(e) == "InvalidParameterException"

    # tags on the node group ARN
    await eks.tag_resource(resourceArn=ng["nodegroupArn"], tags={"x": "y"})
    await eks.untag_resource(resourceArn=ng["nodegroupArn"], tagKeys=["t"])
    assert (await eks.list_tags_for_resource(resourceArn=ng["nodegroupArn"]))["tags"] == {"x": "y"}

    # a cluster with node groups cannot be deleted
    with pytest.raises(ClientError) as e:
        await eks.delete_cluster(name="n1")
    assert code(e) == "ResourceInUseException"
    r = await eks.delete_nodegroup(clusterName="n1", nodegroupName="ng1")
    assert r["nodegroup"]["status"] == "DELETING"

    async def ng_gone() -> bool:
        return not (await eks.list_nodegroups(clusterName="n1"))["nodegroups"]

    await wait_for(ng_gone)
    await eks.delete_cluster(name="n1")


async def test_nodegroup_launch_template_from_moto(sim: Any, eks: Any) -> None:
    async with aws(sim, "ec2") as ec2:
        lt = await ec2.create_launch_template(
            LaunchTemplateName="lt-a", LaunchTemplateData={"UserData": "eA=="}
        )
        lt_id = lt["LaunchTemplate"]["LaunchTemplateId"]
        await ec2.create_launch_template_version(
            LaunchTemplateId=lt_id, LaunchTemplateData={"UserData": "eQ=="}
        )
    await active_cluster(eks, "lt")
    r = await eks.create_nodegroup(
        clusterName="lt",
        nodegroupName="ng",
        subnets=SUBNETS,
        nodeRole=NODE_ROLE,
        launchTemplate={"id": lt_id, "version": "1"},
    )
    assert r["nodegroup"]["launchTemplate"] == {"id": lt_id, "name": "lt-a", "version": "1"}
    assert "instanceTypes" not in r["nodegroup"] and "diskSize" not in r["nodegroup"]
    with pytest.raises(ClientError) as e:
        await eks.create_nodegroup(
            clusterName="lt",
            nodegroupName="ng2",
            subnets=SUBNETS,
            nodeRole=NODE_ROLE,
            launchTemplate={"id": "lt-0000000000000000", "version": "1"},
        )
    assert code(e) == "InvalidParameterException"
    await wait_for(lambda: _ng_is(eks, "lt", "ng", "ACTIVE"))
    r = await eks.update_nodegroup_version(
        clusterName="lt", nodegroupName="ng", launchTemplate={"id": lt_id, "version": "2"}
    )
    await wait_for(lambda: _ng_is(eks, "lt", "ng", "ACTIVE"))
    ng = (await eks.describe_nodegroup(clusterName="lt", nodegroupName="ng"))["nodegroup"]
    assert ng["launchTemplate"]["version"] == "2"


async def test_addons(eks: Any) -> None:
    await active_cluster(eks, "a1")
    r = await eks.create_addon(clusterName="a1", addonName="aws-ebs-csi-driver", serviceAccountRoleArn=ROLE)
    assert r["addon"]["status"] == "CREATING"
    assert "aws-ebs-csi-driver" in r["addon"]["addonArn"]

    async def addon_status() -> str:
        return (await eks.describe_addon(clusterName="a1", addonName="aws-ebs-csi-driver"))["addon"]["status"]  # type: ignore[no-any-return]

    async def addon_active() -> bool:
        return await addon_status() == "ACTIVE"

    await wait_for(addon_active)
    assert (await eks.list_addons(clusterName="a1"))["addons"] == ["aws-ebs-csi-driver"]
    with pytest.raises(ClientError) as e:
        await eks.create_addon(clusterName="a1", addonName="aws-ebs-csi-driver")
    assert code(e) == "ResourceInUseException"
    with pytest.raises(ClientError) as e:
        await eks.create_addon(clusterName="a1", addonName="no-such-addon")
    assert code(e) == "InvalidParameterException"
    v = await eks.describe_addon_versions(addonName="coredns", kubernetesVersion="1.32")
    assert v["addons"][0]["addonVersions"][0]["compatibilities"][0]["clusterVersion"] == "1.32"
    await eks.delete_addon(clusterName="a1", addonName="aws-ebs-csi-driver")
    assert await addon_status() == "DELETING"

    async def none_left() -> bool:
        return not (await eks.list_addons(clusterName="a1"))["addons"]

    await wait_for(none_left)


async def test_cluster_tags_and_waiter(eks: Any) -> None:
    c = await make_cluster(eks, "t1", tags={"a": "1", "b": "2"})
    waiter = eks.get_waiter("cluster_active")
    await waiter.wait(name="t1", WaiterConfig={"Delay": 0.02, "MaxAttempts": 100})
    await eks.tag_resource(resourceArn=c["arn"], tags={"c": "3"})
    await eks.untag_resource(resourceArn=c["arn"], tagKeys=["a"])
    assert (await eks.describe_cluster(name="t1"))["cluster"]["tags"] == {"b": "2", "c": "3"}
    with pytest.raises(ClientError) as e:
        await eks.tag_resource(resourceArn=c["arn"], tags={"aws:reserved": "x"})
    assert code(e) == "BadRequestException"


async def test_regions_are_separate(sim: Any) -> None:
    async with aws(sim, "eks", "eu-west-1") as eu, aws(sim, "eks", "us-west-2") as us:
        c = await make_cluster(eu, "r1")
        assert c["arn"].startswith("arn:aws:eks:eu-west-1:")
        assert (await us.list_clusters())["clusters"] == []
        assert (await eu.list_clusters())["clusters"] == ["r1"]


async def _raw(sim: Simulator, path: str) -> bytes:
    """An EKS GET as bytes (the simulator routes by the credential scope; it checks no signature here)."""
    auth = (
        "AWS4-HMAC-SHA256 Credential=AKIDSIM/20240101/us-west-2/eks/aws4_request, "
        "SignedHeaders=host, Signature=" + "0" * 64
    )
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sim.url}{path}", headers={"Authorization": auth}) as resp,
    ):
        assert resp.status == 200, await resp.text()
        return await resp.read()


async def test_a_taint_without_a_value_has_no_value_member_on_the_wire(sim: Simulator, eks: Any) -> None:
    await active_cluster(eks, "t1")
    await eks.create_nodegroup(
        clusterName="t1",
        nodegroupName="ng1",
        subnets=SUBNETS,
        nodeRole=NODE_ROLE,
        taints=[
            {"key": "dedicated", "effect": "NO_SCHEDULE"},
            {"key": "k", "value": "v", "effect": "NO_EXECUTE"},
        ],
    )
    raw = await _raw(sim, "/clusters/t1/node-groups/ng1")
    assert b"null" not in raw
    assert json.loads(raw)["nodegroup"]["taints"] == [
        {"key": "dedicated", "effect": "NO_SCHEDULE"},
        {"key": "k", "value": "v", "effect": "NO_EXECUTE"},
    ]
    await wait_for(lambda: _ng_is(eks, "t1", "ng1", "ACTIVE"))
    r = await eks.update_nodegroup_config(
        clusterName="t1",
        nodegroupName="ng1",
        taints={"addOrUpdateTaints": [{"key": "gpu", "effect": "NO_SCHEDULE"}]},
    )
    raw = await _raw(sim, f"/clusters/t1/updates/{r['update']['id']}?nodegroupName=ng1")
    params = {p["type"]: p["value"] for p in json.loads(raw)["update"]["params"]}
    assert json.loads(params["TaintsToAdd"]) == [{"key": "gpu", "effect": "NO_SCHEDULE"}]
