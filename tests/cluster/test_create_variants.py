"""Create variants: provided networking, endpoint access, spot/GPU/ARM/custom AMI/custom launch
template, KMS, IPv6, and the tunnel verdicts of private-only endpoints."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.aws import AwsScope

from .conftest import World, converged
from .manifests import created, imported, nodegroup

pytestmark = pytest.mark.anyio


async def scope(world: World) -> AwsScope:
    return await world.svc.deps.aws.scope("default:test", "us-west-2")


def conditions(cluster: Any) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.message) for c in cluster.status.conditions}


async def test_provided_networking_and_kms(world: World) -> None:
    kms = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    await world.apply(
        created(
            "prov",
            subnets=["subnet-aaa", "subnet-bbb"],
            securityGroups=["sg-111"],
            secretsEncryption=True,
            kmsKey=kms,
        )
    )
    cluster = await world.wait_for("prov", converged, timeout=60, what="converged")
    st = cluster.status
    assert st.network_fields_source == "provided"
    assert st.eks_status.subnets == ["subnet-aaa", "subnet-bbb"]
    assert st.eks_status.security_groups == ["sg-111"]
    assert not st.eks_status.virtual_network
    described = await (await scope(world)).describe_cluster("prov")
    assert described["resourcesVpcConfig"]["subnetIds"] == ["subnet-aaa", "subnet-bbb"]
    assert described["encryptionConfig"][0]["provider"]["keyArn"] == kms
    stacks = [s["name"] for s in (await world.state())["stacks"]]
    assert "prov-eks-vpc" not in stacks


async def test_nodegroup_kinds_spot_gpu_arm(world: World) -> None:
    await world.apply(
        created(
            "kinds",
            nodeGroups=[
                nodegroup(
                    "spot",
                    instanceType="",
                    requestSpotInstances=True,
                    spotInstanceTypes=["m5.large", "m5a.large"],
                ),
                nodegroup("gpu", gpu=True, instanceType="g4dn.xlarge"),
                nodegroup("arm", arm=True, instanceType="m6g.large"),
            ],
        )
    )
    await world.wait_for("kinds", converged, timeout=60, what="converged")
    s = await scope(world)
    spot = await s.describe_nodegroup("kinds", "spot")
    assert spot["capacityType"] == "SPOT"
    assert spot["instanceTypes"] == ["m5.large", "m5a.large"]
    assert (await s.describe_nodegroup("kinds", "gpu"))["amiType"] == "AL2023_x86_64_NVIDIA"
    assert (await s.describe_nodegroup("kinds", "arm"))["amiType"] == "AL2023_ARM_64_STANDARD"
    regular = await s.describe_nodegroup("kinds", "gpu")
    assert regular["capacityType"] == "ON_DEMAND"
    # The managed launch template version of the spot group carries no instance type.
    lt = spot["launchTemplate"]
    versions = await s.describe_launch_template_versions(lt["id"], [lt["version"]])
    assert "InstanceType" not in versions[0]["LaunchTemplateData"]


async def test_custom_ami_and_custom_launch_template(world: World) -> None:
    s = await scope(world)
    custom = await s.create_launch_template("user-lt", {"InstanceType": "t3.large"})
    image_id = await _any_image(s)
    await world.apply(
        created(
            "custom",
            nodeGroups=[
                nodegroup("ami", imageId=image_id),
                nodegroup(
                    "own-lt",
                    launchTemplate={"id": custom["LaunchTemplateId"], "version": 1},
                    instanceType="",
                ),
            ],
        )
    )
    cluster = await world.wait_for("custom", converged, timeout=60, what="converged")
    ami = await s.describe_nodegroup("custom", "ami")
    lt = ami["launchTemplate"]
    data = (await s.describe_launch_template_versions(lt["id"], [lt["version"]]))[0]["LaunchTemplateData"]
    assert data["ImageId"] == image_id
    own = await s.describe_nodegroup("custom", "own-lt")
    assert own["launchTemplate"]["id"] == custom["LaunchTemplateId"]
    assert own["amiType"] == "CUSTOM"
    assert "ami" in cluster.status.eks_status.managed_launch_template_versions


async def _any_image(s: AwsScope) -> str:
    response = await s._call("ec2", "DescribeImages", {"Owners": ["amazon"], "MaxResults": 5})
    return str(response["Images"][0]["ImageId"])


async def test_ipv6_uses_ipv6_templates_and_defaults(world: World) -> None:
    # Provided subnets: moto cannot create the IPv6 VPC template (no Fn::GetAtt VPC.Ipv6CidrBlocks).
    await world.apply(
        created("six", ipFamily="ipv6", subnets=["subnet-a6", "subnet-b6"], nodeGroups=[nodegroup("a")])
    )
    await world.wait_for("six", converged, timeout=60, what="converged")
    described = await (await scope(world)).describe_cluster("six")
    assert described["kubernetesNetworkConfig"]["ipFamily"] == "ipv6"
    assert sorted(described["resourcesVpcConfig"]["publicAccessCidrs"]) == ["0.0.0.0/0", "::/0"]
    stack = await (await scope(world)).describe_stack("six-node-instance-role")
    assert stack["StackStatus"] == "CREATE_COMPLETE"


async def test_private_only_endpoint_needs_a_tunnel(world: World) -> None:
    await world.apply(created("priv", publicAccess=False, privateAccess=True))
    cluster = await world.wait_for(
        "priv",
        lambda c: c.status.eks_status.private_requires_tunnel is not None and converged(c),
        timeout=60,
        what="tunnel verdict",
    )
    assert cluster.status.eks_status.private_requires_tunnel is True
    assert conditions(cluster)["Waiting"] == ("Unknown", "waiting for cluster agent to be deployed")
    assert not cluster.status.service_account_token_secret


async def test_blackhole_endpoint_needs_a_tunnel(world: World) -> None:
    await world.sim_post(
        "/_sim/clusters",
        {
            "name": "hole",
            "version": "1.30",
            "publicAccess": False,
            "privateAccess": True,
            "endpointAccess": "blackhole",
        },
    )
    await world.apply(imported("hole"))
    cluster = await world.wait_for(
        "hole", lambda c: c.status.eks_status.private_requires_tunnel is not None, timeout=60, what="verdict"
    )
    assert cluster.status.eks_status.private_requires_tunnel is True


async def test_public_and_private_endpoint_gets_a_token_directly(world: World) -> None:
    await world.apply(created("both", publicAccess=True, privateAccess=True))
    cluster = await world.wait_for(
        "both",
        lambda c: converged(c) and bool(c.status.service_account_token_secret),
        timeout=60,
        what="token",
    )
    assert cluster.status.eks_status.private_requires_tunnel is None
    secret = await world.svc.store.get_secret(f"both/{cluster.status.service_account_token_secret}")
    assert secret is not None and secret["credential"]


async def test_private_endpoint_reachable_directly_is_not_tunnelled(world: World) -> None:
    # Imported private-only cluster whose endpoint the simulator serves publicly: verdict direct.
    await world.sim_post(
        "/_sim/clusters",
        {
            "name": "reach",
            "version": "1.30",
            "publicAccess": False,
            "privateAccess": True,
            "endpointAccess": "public",
        },
    )
    await world.apply(imported("reach"))
    cluster = await world.wait_for(
        "reach", lambda c: bool(c.status.service_account_token_secret), timeout=60, what="token"
    )
    assert cluster.status.eks_status.private_requires_tunnel is False


async def test_generated_vpc_uses_the_zones_the_region_offers(world: World) -> None:
    # us-west-1 offers two zones to this account (moto, like many real accounts): two subnets.
    await world.apply(created("west", region="us-west-1", nodeGroups=[]))
    cluster = await world.wait_for("west", converged, timeout=60, what="converged")
    assert len(cluster.status.eks_status.subnets) == 2
    calls = await world.calls()
    assert calls["ec2"]["DescribeAvailabilityZones"] == 1  # asked once, when the stack was created
    west = await world.svc.deps.aws.scope("default:test", "us-west-1")
    zones = {z["ZoneName"] for z in await west.describe_availability_zones()}
    assert len(zones) == 2
    described = await west.describe_cluster("west")
    assert sorted(described["resourcesVpcConfig"]["subnetIds"]) == sorted(cluster.status.eks_status.subnets)


async def test_ipv6_cluster_gets_an_iam_oidc_provider_without_the_ebs_addon(world: World) -> None:
    # The operator configures the provider at the top of every update pass of an IPv6 cluster.
    await world.apply(created("six-oidc", ipFamily="ipv6", subnets=["subnet-a6", "subnet-b6"], nodeGroups=[]))
    cluster = await world.wait_for("six-oidc", converged, timeout=60, what="converged")
    s = await scope(world)
    issuer = (await s.describe_cluster("six-oidc"))["identity"]["oidc"]["issuer"]
    providers = await s.list_open_id_connect_providers()
    provider_id = issuer.rsplit("/", 1)[-1]
    assert [arn for arn in providers if arn.endswith(provider_id)] == [
        cluster.status.created_oidc_provider_arn
    ]
    calls = await world.calls()
    assert calls["iam"]["CreateOpenIDConnectProvider"] == 1
    # Every later pass checks it exists (ListOpenIDConnectProviders) and creates nothing more.
    await world.edit("six-oidc", tags={"team": "v6"})
    await world.wait_for("six-oidc", lambda c: converged(c) and c.spec.eks_config.tags == {"team": "v6"})
    calls = await world.calls()
    assert calls["iam"]["CreateOpenIDConnectProvider"] == 1
    assert calls["iam"]["ListOpenIDConnectProviders"] >= 2
    # An IPv4 cluster without the addon gets none.
    await world.apply(created("four", nodeGroups=[]))
    four = await world.wait_for("four", converged, timeout=60, what="converged")
    assert not four.status.created_oidc_provider_arn


async def test_ebs_csi_role_is_named_like_the_operators(world: World) -> None:
    # eks-operator's template calls the role AWSEBSCSIDriverRoleForAmazonEKS: users and their IAM tooling
    # see <stack>-AWSEBSCSIDriverRoleForAmazonEKS-<suffix>.
    await world.apply(created("ebs", ebsCSIDriver=True, nodeGroups=[]))
    await world.wait_for("ebs", converged, timeout=60, what="converged")
    s = await scope(world)
    role_arn = (await s.describe_addon("ebs", "aws-ebs-csi-driver"))["serviceAccountRoleArn"]
    role_name = role_arn.rsplit("/", 1)[-1]
    assert role_name.startswith("ebs-ebs-csi-driver-role-AWSEBSCSIDriverRoleForAmazonEKS-"), role_name
    assert (await s.get_role(role_name))["Arn"] == role_arn
