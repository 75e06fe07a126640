"""eks-operator's own test cases, ported as black-box checks (issue 15, "From eks-operator's own tests").

What the operator's Go unit tests assert, as its reference describes them (create parameters from
``newClusterInput``, node-group parameters from ``CreateNodeGroup``, the managed launch template), checked
on what the simulator holds after our calls: it records call counts, not parameters, so each parameter is
read back from the resource it created. Launch-template data, update ordering, upstream building and the
validation messages have their own tables (``test_plan``, ``tests/sync/test_upstream``, ``tests/api``).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from controlplane.api import EKSClusterConfigSpec
from controlplane.cluster import _plan

from .conftest import World, converged
from .manifests import created, nodegroup

pytestmark = pytest.mark.anyio

ROLE = "arn:aws:iam::123456789012:role/svc"


def spec(**fields: Any) -> EKSClusterConfigSpec:
    base: dict[str, Any] = {
        "display_name": "c1",
        "region": "us-west-2",
        "kubernetes_version": "1.30",
        "public_access": True,
        "private_access": False,
        "public_access_sources": [],
        "logging_types": [],
        "tags": {},
        "secrets_encryption": False,
    }
    base.update(fields)
    return EKSClusterConfigSpec(**base)


def request(s: EKSClusterConfigSpec) -> dict[str, Any]:
    return _plan.create_cluster_request(
        s, role_arn=ROLE, subnets=["subnet-1", "subnet-2"], security_groups=["sg-1"]
    )


def test_create_cluster_input_like_new_cluster_input() -> None:
    r = request(spec())
    assert r == {
        "name": "c1",
        "roleArn": ROLE,
        "version": "1.30",
        # status subnets and security groups, the spec's access flags, the default CIDR when empty
        "resourcesVpcConfig": {
            "subnetIds": ["subnet-1", "subnet-2"],
            "securityGroupIds": ["sg-1"],
            "endpointPublicAccess": True,
            "endpointPrivateAccess": False,
            "publicAccessCidrs": ["0.0.0.0/0"],
        },
        # empty logging: one disabled setup with no types; empty tags: no tags at all
        "logging": {"clusterLogging": [{"types": [], "enabled": False}]},
        "kubernetesNetworkConfig": {"ipFamily": "ipv4"},
    }


@pytest.mark.parametrize(
    ("fields", "key", "expected"),
    [
        ({"tags": {"env": "prod"}}, "tags", {"env": "prod"}),
        (
            {"logging_types": ["api", "audit"]},
            "logging",
            {"clusterLogging": [{"types": ["api", "audit"], "enabled": True}]},
        ),
        (
            {"ip_family": "IPv6"},
            "kubernetesNetworkConfig",
            {"ipFamily": "ipv6"},
        ),  # compared case-insensitively
        ({"ip_family": "dual"}, "kubernetesNetworkConfig", {"ipFamily": "ipv4"}),  # anything else is IPv4
        (
            {"secrets_encryption": True, "kms_key": "arn:aws:kms:us-west-2:1:key/k"},
            "encryptionConfig",
            [{"provider": {"keyArn": "arn:aws:kms:us-west-2:1:key/k"}, "resources": ["secrets"]}],
        ),
    ],
)
def test_create_cluster_input_cases(fields: dict[str, Any], key: str, expected: Any) -> None:
    assert request(spec(**fields))[key] == expected


def test_create_cluster_input_ipv6_default_cidrs_and_explicit_ones() -> None:
    v6 = request(spec(ip_family="ipv6"))["resourcesVpcConfig"]["publicAccessCidrs"]
    assert v6 == ["0.0.0.0/0", "::/0"]
    given = request(spec(public_access_sources=["10.0.0.0/8"]))["resourcesVpcConfig"]["publicAccessCidrs"]
    assert given == ["10.0.0.0/8"]
    no_encryption = request(spec(secrets_encryption=False, kms_key="arn:aws:kms:us-west-2:1:key/k"))
    assert "encryptionConfig" not in no_encryption
    assert "version" not in request(spec(kubernetes_version=None))


async def test_create_nodegroup_parameters_like_create_node_group(world: World) -> None:
    ng = nodegroup(
        "params",
        labels={"role": "web"},  # (the operator sends a null value as ""; EKS refuses it, so do we)
        resourceTags={"cost-center": "42"},
        tags={"team": "a"},
        subnets=[],  # empty: the cluster's subnets
        desiredSize=2,
        minSize=1,
        maxSize=3,
        diskSize=30,
        ec2SshKey="my-key",
        userData='MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n--b--\n',
    )
    await world.apply(created("ngp", nodeGroups=[ng]))
    cluster = await world.wait_for("ngp", converged, timeout=60, what="converged")
    s = await world.svc.deps.aws.scope("default:test", "us-west-2")
    got = await s.describe_nodegroup("ngp", "params")
    assert got["capacityType"] == "ON_DEMAND"
    assert got["amiType"] == "AL2023_x86_64_STANDARD"
    assert got["labels"] == {"role": "web"}
    assert got["scalingConfig"] == {"minSize": 1, "maxSize": 3, "desiredSize": 2}
    assert sorted(got["subnets"]) == sorted(cluster.status.eks_status.subnets)
    assert got["nodeRole"] == cluster.status.eks_status.generated_node_role
    # The node group's own tags end as ng.tags (created with resourceTags, then synced, as the operator).
    assert got["tags"] == {"team": "a"}
    # The managed launch template: its own version per node group, carrying the LT-side fields.
    lt = got["launchTemplate"]
    assert lt["id"] == cluster.status.eks_status.managed_launch_template_id
    assert cluster.status.eks_status.managed_launch_template_versions["params"] == str(lt["version"])
    assert str(lt["version"]) != "1"  # version 1 is the placeholder no node group uses
    template = (await s.describe_launch_templates(ids=[lt["id"]]))[0]
    assert template["LaunchTemplateName"] == "rancher-managed-lt-ngp"
    assert {"Key": "rancher-managed-template", "Value": "do-not-modify-or-delete"} in template["Tags"]
    data = (await s.describe_launch_template_versions(lt["id"], [lt["version"]]))[0]["LaunchTemplateData"]
    assert data["KeyName"] == "my-key"
    assert data["InstanceType"] == "m5.large"
    assert data["BlockDeviceMappings"] == [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 30}}]
    assert base64.b64decode(data["UserData"]).decode().startswith("MIME-Version: 1.0")
    specs = {t["ResourceType"]: t["Tags"] for t in data["TagSpecifications"]}
    assert set(specs) == {"instance", "volume", "spot-instances-request"}
    assert all(tags == [{"Key": "cost-center", "Value": "42"}] for tags in specs.values())
    placeholder = (await s.describe_launch_template_versions(lt["id"], [1]))[0]["LaunchTemplateData"]
    assert placeholder["UserData"] == "cGxhY2Vob2xkZXIK"  # base64 of "placeholder\n"
    assert set(placeholder) <= {"UserData", "TagSpecifications"}  # (moto echoes the template's tags here)
