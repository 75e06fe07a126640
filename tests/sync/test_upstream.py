"""Table tests for the upstream spec builder over botocore-shaped DescribeCluster/DescribeNodegroup dicts."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from controlplane.api import EKSClusterConfigSpec, LaunchTemplate, NodeGroup, NodeGroupUpdateConfig
from controlplane.sync import (
    UpstreamBuildError,
    build_upstream_cluster_state,
    build_upstream_spec,
    ebs_csi_driver_installed,
    managed_launch_template_versions_needed,
    syncing_error_message,
    syncing_failed_message,
)

ACCOUNT = "123456789012"
MANAGED_LT = "lt-0123456789abcdef0"
USER_DATA = 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="//"\n\n--//--\n'


def cluster(**overrides: Any) -> dict[str, Any]:
    """A DescribeCluster ``response["cluster"]`` as botocore returns it."""
    c: dict[str, Any] = {
        "name": "prod-use1",
        "arn": f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/prod-use1",
        "createdAt": datetime(2024, 6, 1, tzinfo=UTC),
        "version": "1.30",
        "endpoint": "https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/prod-use1-eks-service-role",
        "resourcesVpcConfig": {
            "subnetIds": ["subnet-aaa", "subnet-bbb"],
            "securityGroupIds": ["sg-111"],
            "clusterSecurityGroupId": "sg-cluster",
            "vpcId": "vpc-123",
            "endpointPublicAccess": True,
            "endpointPrivateAccess": False,
            "publicAccessCidrs": ["0.0.0.0/0"],
        },
        "kubernetesNetworkConfig": {"serviceIpv4Cidr": "10.100.0.0/16", "ipFamily": "ipv4"},
        "logging": {
            "clusterLogging": [
                {"types": ["api", "audit"], "enabled": True},
                {"types": ["authenticator", "controllerManager", "scheduler"], "enabled": False},
            ]
        },
        "identity": {"oidc": {"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/0123"}},
        "status": "ACTIVE",
        "certificateAuthority": {"data": "LS0tLS1CRUdJTi=="},
        "platformVersion": "eks.8",
        "tags": {"team": "platform", "env": "prod"},
        "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
    }
    c.update(overrides)
    return c


def nodegroup(name: str = "ng-1", **overrides: Any) -> dict[str, Any]:
    """A DescribeNodegroup ``response["nodegroup"]`` for a plain (no launch template) node group."""
    ng: dict[str, Any] = {
        "nodegroupName": name,
        "nodegroupArn": f"arn:aws:eks:us-east-1:{ACCOUNT}:nodegroup/prod-use1/{name}/abcd",
        "clusterName": "prod-use1",
        "version": "1.30",
        "releaseVersion": "1.30.0-20240615",
        "createdAt": datetime(2024, 6, 1, tzinfo=UTC),
        "modifiedAt": datetime(2024, 6, 2, tzinfo=UTC),
        "status": "ACTIVE",
        "capacityType": "ON_DEMAND",
        "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 2},
        "instanceTypes": ["t3.large"],
        "subnets": ["subnet-aaa", "subnet-bbb"],
        "remoteAccess": {"ec2SshKey": "ops-key"},
        "amiType": "AL2023_x86_64_STANDARD",
        "nodeRole": f"arn:aws:iam::{ACCOUNT}:role/node-instance-role",
        "labels": {"tier": "web"},
        "resources": {"autoScalingGroups": [{"name": f"eks-{name}-abcd"}]},
        "diskSize": 20,
        "health": {"issues": []},
        "updateConfig": {"maxUnavailable": 1},
        "tags": {"cost-center": "42"},
    }
    ng.update(overrides)
    return ng


def managed_lt_nodegroup(name: str = "ng-lt", version: str = "3", **overrides: Any) -> dict[str, Any]:
    ng = nodegroup(name, **overrides)
    for key in ("diskSize", "instanceTypes", "remoteAccess"):
        ng.pop(key)
    ng["launchTemplate"] = {"name": "rancher-managed-lt-prod-use1", "version": version, "id": MANAGED_LT}
    ng["amiType"] = "CUSTOM"
    return ng


def lt_version(version: int = 3, **data: Any) -> dict[str, Any]:
    """One element of DescribeLaunchTemplateVersions ``["LaunchTemplateVersions"]``."""
    d: dict[str, Any] = {
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 40, "VolumeType": "gp3"}}],
        "ImageId": "ami-0abcdef",
        "InstanceType": "m5.xlarge",
        "KeyName": "lt-key",
        "UserData": base64.b64encode(USER_DATA.encode()).decode(),
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": "owner", "Value": "team-a"}]},
            {"ResourceType": "volume", "Tags": [{"Key": "backup", "Value": "daily"}]},
        ],
    }
    d.update(data)
    return {
        "LaunchTemplateId": MANAGED_LT,
        "LaunchTemplateName": "rancher-managed-lt-prod-use1",
        "VersionNumber": version,
        "CreateTime": datetime(2024, 6, 1, tzinfo=UTC),
        "DefaultVersion": False,
        "LaunchTemplateData": d,
    }


SPEC = EKSClusterConfigSpec(
    display_name="prod-use1",
    region="us-east-1",
    amazon_credential_secret="cattle-global-data:cc-abc",
    imported=False,
    subnets=["subnet-mine"],
    security_groups=None,
    service_role="my-service-role",
)


def test_cluster_fields_come_from_describe_cluster() -> None:
    result = build_upstream_spec(SPEC, cluster(), [nodegroup()], cluster_name="c-r64vb")
    up = result.spec
    assert up.kubernetes_version == "1.30"
    assert up.tags == {"team": "platform", "env": "prod"}
    assert up.public_access is True and up.private_access is False
    assert up.public_access_sources == ["0.0.0.0/0"]
    assert up.logging_types == ["api", "audit"]
    assert up.ip_family == "ipv4"
    assert up.ebs_csi_driver is False
    assert up.secrets_encryption is False and up.kms_key == ""
    assert result.cluster_arn == f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/prod-use1"
    assert result.health_issues == [] and result.health_error is None
    assert syncing_error_message(result) is None


def test_seven_forced_fields_are_taken_from_the_spec() -> None:
    up = build_upstream_spec(SPEC, cluster(), [], cluster_name="c").spec
    assert up.display_name == SPEC.display_name
    assert up.region == "us-east-1"
    assert up.amazon_credential_secret == "cattle-global-data:cc-abc"
    assert up.imported is False  # the operator says true; Rancher forces the spec's value
    assert up.subnets == ["subnet-mine"]  # not AWS's subnet-aaa/bbb
    assert up.security_groups is None  # null stays null even though AWS has sg-111
    assert up.service_role == "my-service-role"  # not the role ARN
    raw = build_upstream_cluster_state(cluster(), [], display_name="prod-use1")
    assert raw.imported is True
    assert raw.subnets == ["subnet-aaa", "subnet-bbb"] and raw.security_groups == ["sg-111"]
    assert raw.service_role == f"arn:aws:iam::{ACCOUNT}:role/prod-use1-eks-service-role"
    assert raw.region == "" and raw.amazon_credential_secret == ""


def test_plain_nodegroup_fields() -> None:
    (ng,) = build_upstream_spec(SPEC, cluster(), [nodegroup()], cluster_name="c").spec.node_groups or []
    assert ng == NodeGroup(
        nodegroup_name="ng-1",
        gpu=False,
        disk_size=20,
        instance_type="t3.large",
        labels={"tier": "web"},
        ec2_ssh_key="ops-key",
        desired_size=2,
        max_size=3,
        min_size=1,
        subnets=["subnet-aaa", "subnet-bbb"],
        tags={"cost-center": "42"},
        version="1.30",
        request_spot_instances=False,
        node_role=f"arn:aws:iam::{ACCOUNT}:role/node-instance-role",
        taints=[],  # always a list, like labels
        update_config=NodeGroupUpdateConfig(max_unavailable=1),
    )


def test_managed_launch_template_fields_are_lifted() -> None:
    ngs = [managed_lt_nodegroup()]
    needed = managed_launch_template_versions_needed(ngs, MANAGED_LT)
    assert needed == [(MANAGED_LT, "3")]
    result = build_upstream_spec(
        SPEC,
        cluster(),
        ngs,
        {needed[0]: lt_version()},
        cluster_name="c",
        managed_launch_template_id=MANAGED_LT,
    )
    (ng,) = result.spec.node_groups or []
    assert ng.launch_template is None  # Rancher's view: the managed template disappears
    assert ng.disk_size == 40
    assert ng.image_id == "ami-0abcdef"
    assert ng.instance_type == "m5.xlarge"
    assert ng.ec2_ssh_key == "lt-key"
    assert ng.resource_tags == {"owner": "team-a"}  # instance tag specs only
    assert ng.user_data == USER_DATA
    assert ng.gpu is None and ng.arm is None  # CUSTOM AMI type


def test_managed_launch_template_kept_for_the_operator() -> None:
    ngs = [managed_lt_nodegroup()]
    up = build_upstream_cluster_state(
        cluster(),
        ngs,
        {(MANAGED_LT, "3"): lt_version()},
        display_name="prod-use1",
        managed_launch_template_id=MANAGED_LT,
        include_managed_launch_template=True,
    )
    (ng,) = up.node_groups or []
    assert ng.launch_template == LaunchTemplate(id=MANAGED_LT, name="rancher-managed-lt-prod-use1", version=3)
    assert ng.instance_type == "m5.xlarge"


def test_managed_launch_template_without_instance_tags_or_bad_user_data() -> None:
    version = lt_version(TagSpecifications=[], UserData="not base64!")
    up = build_upstream_spec(
        SPEC,
        cluster(),
        [managed_lt_nodegroup()],
        {(MANAGED_LT, "3"): version},
        cluster_name="c",
        managed_launch_template_id=MANAGED_LT,
    ).spec
    (ng,) = up.node_groups or []
    assert ng.resource_tags == {}
    assert ng.user_data is None  # decode failure: only a warning in the operator


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        (
            {(MANAGED_LT, "3"): None},
            "rancher-managed launch template for node group [ng-lt] in cluster [prod-use1] not found, "
            "must create new node group and destroy existing",
        ),
        ({}, "error getting launch template info for node group [ng-lt] in cluster [prod-use1]"),
        (
            {(MANAGED_LT, "3"): lt_version(BlockDeviceMappings=[])},
            "launch template for node group [ng-lt] in cluster [prod-use1] is malformed",
        ),
    ],
)
def test_managed_launch_template_errors(versions: dict[Any, Any], message: str) -> None:
    with pytest.raises(UpstreamBuildError) as info:
        build_upstream_spec(
            SPEC,
            cluster(),
            [managed_lt_nodegroup()],
            versions,
            cluster_name="c",
            managed_launch_template_id=MANAGED_LT,
        )
    assert str(info.value) == message
    assert syncing_failed_message(info.value) == f"[Syncing error: syncing failed] {message}"


def test_missing_managed_template_tolerated_by_the_operator() -> None:
    up = build_upstream_cluster_state(
        cluster(),
        [managed_lt_nodegroup()],
        {(MANAGED_LT, "3"): None},
        display_name="prod-use1",
        managed_launch_template_id=MANAGED_LT,
        include_managed_launch_template=True,
    )
    (ng,) = up.node_groups or []
    assert ng.launch_template == LaunchTemplate(id=None, name="rancher-managed-lt-prod-use1", version=3)
    assert ng.image_id is None


@pytest.mark.parametrize(("version", "parsed"), [("7", 7), ("$Latest", None), ("$Default", None)])
def test_custom_launch_template_is_reported_not_lifted(version: str, parsed: int | None) -> None:
    ng_raw = nodegroup("ng-custom", amiType="CUSTOM")
    for key in ("diskSize", "instanceTypes", "remoteAccess"):
        ng_raw.pop(key)
    ng_raw["launchTemplate"] = {"name": "my-template", "version": version, "id": "lt-user"}
    (ng,) = (
        build_upstream_spec(
            SPEC, cluster(), [ng_raw], cluster_name="c", managed_launch_template_id=MANAGED_LT
        ).spec.node_groups
        or []
    )
    assert ng.launch_template == LaunchTemplate(id="lt-user", name="my-template", version=parsed)
    assert ng.instance_type == "" and ng.ec2_ssh_key is None and ng.image_id is None
    assert ng.user_data is None and ng.resource_tags is None and ng.disk_size is None
    assert managed_launch_template_versions_needed([ng_raw], MANAGED_LT) == []


def test_spot_nodegroup() -> None:
    raw = nodegroup("ng-spot", capacityType="SPOT", instanceTypes=["m5.large", "m5a.large"])
    (ng,) = build_upstream_spec(SPEC, cluster(), [raw], cluster_name="c").spec.node_groups or []
    assert ng.request_spot_instances is True
    assert ng.spot_instance_types == ["m5.large", "m5a.large"]
    assert ng.instance_type == ""  # not taken from instanceTypes for spot


@pytest.mark.parametrize(
    ("ami_type", "gpu", "arm"),
    [
        ("AL2023_x86_64_NVIDIA", True, None),
        ("AL2023_x86_64_STANDARD", False, None),
        ("AL2023_ARM_64_STANDARD", None, True),
        ("AL2_x86_64", None, None),
        ("AL2_x86_64_GPU", None, None),
        ("BOTTLEROCKET_x86_64", None, None),
        ("CUSTOM", None, None),
    ],
)
def test_gpu_and_arm_from_ami_type(ami_type: str, gpu: bool | None, arm: bool | None) -> None:
    (ng,) = (
        build_upstream_spec(SPEC, cluster(), [nodegroup(amiType=ami_type)], cluster_name="c").spec.node_groups
        or []
    )
    assert (ng.gpu, ng.arm) == (gpu, arm)


def test_health_issues_are_formatted_like_rancher() -> None:
    fixable = nodegroup(
        "ng-a",
        health={
            "issues": [
                {
                    "code": "AsgInstanceLaunchFailures",
                    "message": "Instance failed to launch",
                    "resourceIds": ["i-0abc"],
                },
                {"code": "InsufficientFreeAddresses", "message": "Subnet full"},
            ]
        },
    )
    fatal = nodegroup(
        "ng-b",
        status="DEGRADED",
        health={"issues": [{"code": "Ec2LaunchTemplateNotFound", "message": "Launch template gone"}]},
    )
    result = build_upstream_spec(SPEC, cluster(), [fixable, nodegroup("ng-c"), fatal], cluster_name="c-r64vb")
    assert result.health_issues == [
        "health error for node group [ng-a] in cluster [c-r64vb]: Instance failed to launch; Subnet full",
        "health error for node group [ng-b] in cluster [c-r64vb]: Launch template gone"
        ": node group cannot be updated, must be deleted and recreated",
    ]
    assert result.health_error == "error for cluster [c-r64vb]: " + "\n".join(result.health_issues)
    assert syncing_error_message(result) == "[Syncing error] " + (result.health_error or "")
    assert len(result.spec.node_groups or []) == 3  # a partial failure still yields the spec


def test_deleting_nodegroups_skipped_updating_lose_version() -> None:
    ngs = [
        nodegroup("ng-del", status="DELETING", health={"issues": [{"code": "X", "message": "m"}]}),
        nodegroup("ng-upd", status="UPDATING", version="1.29"),
    ]
    result = build_upstream_spec(SPEC, cluster(), ngs, cluster_name="c")
    names = [ng.nodegroup_name for ng in result.spec.node_groups or []]
    assert names == ["ng-upd"]
    assert (result.spec.node_groups or [])[0].version is None
    assert len(result.health_issues) == 1  # DELETING groups still count for health


def test_ipv6_cluster() -> None:
    c = cluster(kubernetesNetworkConfig={"serviceIpv6Cidr": "fd00:1234::/108", "ipFamily": "ipv6"})
    assert build_upstream_spec(SPEC, c, [], cluster_name="c").spec.ip_family == "ipv6"
    no_net = cluster()
    del no_net["kubernetesNetworkConfig"]
    assert build_upstream_spec(SPEC, no_net, [], cluster_name="c").spec.ip_family is None


def test_private_only_cluster_without_cidrs_or_logging() -> None:
    vpc = dict(cluster()["resourcesVpcConfig"], endpointPublicAccess=False, endpointPrivateAccess=True)
    del vpc["publicAccessCidrs"]
    c = cluster(
        resourcesVpcConfig=vpc,
        logging={
            "clusterLogging": [{"types": ["api"], "enabled": False}, {"types": ["audit"], "enabled": True}]
        },
    )
    del c["tags"]
    up = build_upstream_spec(SPEC, c, [], cluster_name="c").spec
    assert up.public_access is False and up.private_access is True
    assert up.public_access_sources == []
    assert up.logging_types == []  # only the first setup is read (operator quirk)
    assert up.tags == {}
    assert up.node_groups == []  # always a list


def test_encryption_and_ebs_addon() -> None:
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234"
    c = cluster(encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key}}])
    addon = {
        "addonName": "aws-ebs-csi-driver",
        "clusterName": "prod-use1",
        "status": "ACTIVE",
        "addonArn": f"arn:aws:eks:us-east-1:{ACCOUNT}:addon/prod-use1/aws-ebs-csi-driver/abcd",
    }
    up = build_upstream_spec(SPEC, c, [], cluster_name="c", ebs_addon=addon).spec
    assert up.secrets_encryption is True and up.kms_key == key
    assert up.ebs_csi_driver is True
    assert ebs_csi_driver_installed(dict(addon, status="DEGRADED")) is False
    assert ebs_csi_driver_installed(dict(addon, status="CREATE_FAILED")) is False
    assert ebs_csi_driver_installed(None) is False


def test_missing_kubernetes_version_is_a_total_failure() -> None:
    with pytest.raises(UpstreamBuildError, match=r"^cannot detect cluster \[prod-use1\] upstream kubernetes"):
        build_upstream_spec(SPEC, cluster(version=""), [], cluster_name="c")


def test_inputs_are_not_mutated_and_result_round_trips() -> None:
    c, ngs = cluster(), [nodegroup(labels={}), managed_lt_nodegroup()]
    versions = {(MANAGED_LT, "3"): lt_version()}
    before = copy.deepcopy((c, ngs, versions))
    result = build_upstream_spec(
        SPEC, c, ngs, versions, cluster_name="c", managed_launch_template_id=MANAGED_LT
    )
    assert (c, ngs, versions) == before
    encoded = msgspec.json.encode(result.spec)
    assert msgspec.json.decode(encoded, type=EKSClusterConfigSpec) == result.spec
    assert b'"labels":{}' in encoded  # managed-empty survives encoding
