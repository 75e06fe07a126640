"""CloudFormation templates: rendering per partition, and creation through moto with outputs."""

from __future__ import annotations

import json
import warnings
from typing import Any

import botocore.session
import pytest

from controlplane.aws import (
    EBS_CSI_ROLE_OUTPUT,
    NODE_ROLE_OUTPUT,
    SERVICE_ROLE_OUTPUT,
    VPC_OUTPUT_SUBNET_IDS,
    VPC_OUTPUT_VPC_ID,
    AwsAdapter,
    AwsSettings,
    Template,
    choose_zones,
    oidc_provider_path,
    partition,
    partition_of,
    render,
    render_document,
    stack_outputs,
)
from controlplane.aws._partitions import known_regions

from .conftest import CREDS

ISSUER = "https://oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
PARTITION_REGIONS = {"aws": "us-west-2", "aws-cn": "cn-northwest-1", "aws-us-gov": "us-gov-west-1"}


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


VPC_TEMPLATES = (Template.VPC, Template.VPC_IPV6)


def _render(template: Template, region: str, zones: list[str] | None = None) -> dict[str, Any]:
    issuer = ISSUER if template is Template.EBS_CSI_DRIVER_ROLE else None
    if template in VPC_TEMPLATES and zones is None:
        zones = [f"{region}a", f"{region}b", f"{region}c"]
    return render_document(template, region, oidc_issuer=issuer, zones=zones)


EVERY_REGION = [(p, r) for p, regions in known_regions().items() for r in regions]
"""Every region of every partition botocore knows (aws, aws-cn, aws-us-gov, the ISO ones, aws-eusc...)."""
ONE_PER_PARTITION = [(p, regions[0]) for p, regions in known_regions().items()]


def test_partitions_cover_every_partition_botocore_knows() -> None:
    assert {p for p, _ in EVERY_REGION} >= {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-eusc"}
    assert [partition_of(r) for r in PARTITION_REGIONS.values()] == list(PARTITION_REGIONS)


@pytest.mark.parametrize(("name", "region"), EVERY_REGION)
def test_partition_and_domain_match_botocores_own_resolution(name: str, region: str) -> None:
    session = botocore.session.get_session()
    # botocore's ARN partition (its endpoints.json) and the domain its EC2 client would call.
    assert partition_of(region) == session.get_partition_for_region(region) == name
    ec2 = session.create_client("ec2", region_name=region, aws_access_key_id="a", aws_secret_access_key="b")
    assert ec2.meta.endpoint_url == f"https://ec2.{region}.{partition(region).dns_suffix}"


@pytest.mark.parametrize(("name", "region"), ONE_PER_PARTITION)
@pytest.mark.parametrize("template", list(Template))
def test_render_is_complete_and_partition_specific(template: Template, name: str, region: str) -> None:
    doc = _render(template, region)
    text = json.dumps(doc)
    assert "{{" not in text
    arns = [s for s in _strings(doc) if s.startswith("arn:") or s.startswith("Fn::Sub")]
    assert all(a.startswith(f"arn:{name}:") for a in arns if a.startswith("arn:")), arns
    suffix = partition(region).dns_suffix
    principals = [s for s in _strings(doc) if s.startswith("ec2.") or s.startswith("sts.")]
    assert all(p.endswith(f".{suffix}") for p in principals), principals
    issuer = ISSUER if "EBS" in template.name else None
    zones = [f"{region}a", f"{region}b", f"{region}c"] if template in VPC_TEMPLATES else None
    assert json.loads(render(template, region, oidc_issuer=issuer, zones=zones)) == doc
    if template is Template.NODE_INSTANCE_ROLE:
        assert principals == [f"ec2.{suffix}"]


def test_role_templates_content() -> None:
    cn = _render(Template.NODE_INSTANCE_ROLE, "cn-north-1")
    role = cn["Resources"]["NodeInstanceRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == [
        "ec2.amazonaws.com.cn"
    ]
    assert sorted(role["ManagedPolicyArns"]) == [
        "arn:aws-cn:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "arn:aws-cn:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws-cn:iam::aws:policy/AmazonEKS_CNI_Policy",
    ]
    assert "Policies" not in role
    v6 = _render(Template.NODE_INSTANCE_ROLE_IPV6, "us-east-1")["Resources"]["NodeInstanceRole"]["Properties"]
    (policy,) = v6["Policies"]
    assert policy["PolicyName"] == "RancherManaged_AllowIPv6ForCNI"
    assert policy["PolicyDocument"]["Statement"][0]["Action"] == [
        "ec2:AssignIpv6Addresses",
        "ec2:UnassignIpv6Addresses",
    ]
    gov = _render(Template.SERVICE_ROLE, "us-gov-east-1")
    svc = gov["Resources"]["AWSServiceRoleForAmazonEKS"]["Properties"]
    assert svc["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == ["eks.amazonaws.com"]
    assert "arn:aws-us-gov:iam::aws:policy/AmazonEKSClusterPolicy" in svc["ManagedPolicyArns"]
    assert set(gov["Outputs"]) == {SERVICE_ROLE_OUTPUT}


def test_ebs_csi_role_is_bound_to_the_oidc_provider() -> None:
    doc = _render(Template.EBS_CSI_DRIVER_ROLE, "cn-north-1")
    statement = doc["Resources"]["AWSEBSCSIDriverRoleForAmazonEKS"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ][0]
    provider = "oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
    assert statement["Principal"]["Federated"] == {
        "Fn::Sub": f"arn:aws-cn:iam::${{AWS::AccountId}}:oidc-provider/{provider}"
    }
    assert statement["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["Condition"]["StringEquals"] == {
        f"{provider}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
        f"{provider}:aud": "sts.amazonaws.com.cn",
    }
    assert doc["Parameters"]["AmazonEBSCSIDriverPolicyArn"]["Default"] == (
        "arn:aws-cn:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    )
    assert oidc_provider_path(provider) == provider
    for bad in ('oidc.example.com/id/x"}', "https://", "no-path.example.com"):
        with pytest.raises(ValueError):
            oidc_provider_path(bad)
    with pytest.raises(ValueError, match="needs the cluster's OIDC issuer"):
        render(Template.EBS_CSI_DRIVER_ROLE, "us-east-1")
    with pytest.raises(ValueError, match="takes no OIDC issuer"):
        render(Template.VPC, "us-east-1", oidc_issuer=ISSUER)


@pytest.mark.parametrize("template", [Template.VPC, Template.VPC_IPV6])
def test_vpc_topology(template: Template) -> None:
    three = _render(template, "us-east-1")
    subnets = {k: v["Properties"] for k, v in three["Resources"].items() if v["Type"] == "AWS::EC2::Subnet"}
    assert sorted(subnets) == ["Subnet01", "Subnet02", "Subnet03"]
    assert three["Resources"]["VPC"]["Properties"]["CidrBlock"] == "192.168.0.0/16"
    expected = (
        ["192.168.64.0/18", "192.168.128.0/18", "192.168.192.0/18"]
        if template is Template.VPC
        else ["192.168.0.0/18", "192.168.64.0/18", "192.168.128.0/18"]
    )
    assert [subnets[k]["CidrBlock"] for k in sorted(subnets)] == expected
    assert all(p["MapPublicIpOnLaunch"] is True for p in subnets.values())
    assert all({"Key": "kubernetes.io/role/elb", "Value": "1"} in p["Tags"] for p in subnets.values())
    assert set(three["Outputs"]) == {VPC_OUTPUT_VPC_ID, VPC_OUTPUT_SUBNET_IDS}
    if template is Template.VPC_IPV6:
        assert three["Resources"]["VPCIPv6CidrBlock"]["Properties"]["AmazonProvidedIpv6CidrBlock"] is True
        assert all(p["AssignIpv6AddressOnCreation"] is True for p in subnets.values())
        assert three["Resources"]["IPv6Route"]["Properties"]["DestinationIpv6CidrBlock"] == "::/0"
    assert [subnets[k]["AvailabilityZone"] for k in sorted(subnets)] == [
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
    ]
    # Two zones: two subnets, and the output lists exactly those.
    two = _render(template, "us-west-1", ["us-west-1a", "us-west-1c"])
    assert "Subnet03" not in two["Resources"] and "Subnet03RouteTableAssociation" not in two["Resources"]
    assert two["Outputs"][VPC_OUTPUT_SUBNET_IDS]["Value"]["Fn::Join"][1] == [
        {"Ref": "Subnet01"},
        {"Ref": "Subnet02"},
    ]
    assert two["Resources"]["Subnet02"]["Properties"]["AvailabilityZone"] == "us-west-1c"
    for zones in (None, ["us-west-1a"], ["a", "b", "c", "d"]):
        with pytest.raises(ValueError, match="two or three availability zones"):
            render(template, "us-west-1", zones=zones)


def test_zones_are_the_accounts_own() -> None:
    def zone(name: str, zone_id: str, **extra: str) -> dict[str, str]:
        return {
            "ZoneName": name,
            "ZoneId": zone_id,
            "State": "available",
            "ZoneType": "availability-zone",
            **extra,
        }

    assert choose_zones([zone("us-west-1c", "usw1-az3"), zone("us-west-1a", "usw1-az1")]) == [
        "us-west-1a",
        "us-west-1c",
    ]
    six = [zone(f"us-east-1{c}", f"use1-az{i}") for i, c in enumerate("fedcba", 1)]
    assert choose_zones(six) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    # use1-az3 hosts no EKS control plane: never chosen, even when this account calls it us-east-1a.
    six[2]["ZoneName"], six[5]["ZoneName"] = "us-east-1a", "us-east-1d"
    assert choose_zones(six) == ["us-east-1b", "us-east-1c", "us-east-1d"]
    with pytest.raises(ValueError, match=r"offers 1 availability zone\(s\)"):
        choose_zones([zone("us-west-1a", "usw1-az1"), zone("us-west-1b", "usw1-az2")])
    local = zone("us-west-2-lax-1a", "usw2-lax1-az1", ZoneType="local-zone")
    with pytest.raises(ValueError, match="needs two"):
        choose_zones(
            [zone("us-west-2a", "usw2-az1"), local, zone("us-west-2b", "usw2-az2", State="impaired")]
        )
    with pytest.raises(ValueError, match="takes no availability zones"):
        render(Template.SERVICE_ROLE, "us-east-1", zones=["a", "b"])


@pytest.mark.anyio
@pytest.mark.parametrize(("region", "count"), [("us-west-1", 2), ("us-east-1", 3), ("ap-south-1", 3)])
async def test_vpc_subnets_follow_the_zones_the_account_has(moto_url: str, region: str, count: int) -> None:
    # moto offers each region its own zone set (us-west-1: two), like AWS does per account.
    async with AwsAdapter(AwsSettings(endpoint_url=moto_url)) as aws:
        scope = aws.scope_for(CREDS, region)
        zones = choose_zones(await scope.describe_availability_zones())
        assert len(zones) == count
        await scope.create_stack("vpc", render(Template.VPC, region, zones=zones))
        subnet_ids = stack_outputs(await scope.describe_stack("vpc"))[VPC_OUTPUT_SUBNET_IDS].split(",")
        assert len(subnet_ids) == count


def _strip_ipv6_for_moto(doc: dict[str, Any]) -> dict[str, Any]:
    """moto implements neither AWS::EC2::VPCCidrBlock, Fn::Cidr nor VPC.Ipv6CidrBlocks: drop those
    parts so the rest of the IPv6 variant (refs, routes, outputs) is still exercised."""
    resources = doc["Resources"]
    del resources["VPCIPv6CidrBlock"]
    for resource in resources.values():
        resource.get("Properties", {}).pop("Ipv6CidrBlock", None)
        if resource.get("DependsOn") == "VPCIPv6CidrBlock":
            del resource["DependsOn"]
    return doc


@pytest.mark.anyio
@pytest.mark.parametrize("partition", list(PARTITION_REGIONS))
async def test_templates_create_in_moto(moto_url: str, partition: str) -> None:
    region = PARTITION_REGIONS[partition]
    async with AwsAdapter(AwsSettings(endpoint_url=moto_url)) as aws:
        scope = aws.scope_for(CREDS, region)
        for template, outputs in [
            (Template.VPC, {VPC_OUTPUT_VPC_ID, VPC_OUTPUT_SUBNET_IDS}),
            (Template.VPC_IPV6, {VPC_OUTPUT_VPC_ID, VPC_OUTPUT_SUBNET_IDS}),
            (Template.SERVICE_ROLE, {SERVICE_ROLE_OUTPUT}),
            (Template.NODE_INSTANCE_ROLE, {NODE_ROLE_OUTPUT}),
            (Template.NODE_INSTANCE_ROLE_IPV6, {NODE_ROLE_OUTPUT}),
            (Template.EBS_CSI_DRIVER_ROLE, {EBS_CSI_ROLE_OUTPUT}),
        ]:
            zones = (
                choose_zones(await scope.describe_availability_zones()) if template in VPC_TEMPLATES else None
            )
            doc = _render(template, region, zones)
            if template is Template.VPC_IPV6:
                doc = _strip_ipv6_for_moto(doc)
            name = f"t-{template.name.lower().replace('_', '-')}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                await scope.create_stack(name, json.dumps(doc), capabilities=["CAPABILITY_IAM"])
            stack = await scope.describe_stack(name)
            assert stack["StackStatus"] == "CREATE_COMPLETE", (template, stack.get("StackStatusReason"))
            values = stack_outputs(stack)
            assert set(values) == outputs
            if VPC_OUTPUT_SUBNET_IDS in values:
                subnet_ids = values[VPC_OUTPUT_SUBNET_IDS].split(",")
                assert len(subnet_ids) == 3 and all(s.startswith("subnet-") for s in subnet_ids)
                assert values[VPC_OUTPUT_VPC_ID].startswith("vpc-")
            else:
                (arn,) = values.values()
                assert arn.startswith(f"arn:{partition}:iam::123456789012:role/"), arn
