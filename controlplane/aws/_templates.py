"""CloudFormation templates (data files in ``templates/``) rendered per AWS partition.

Templates are JSON with ``{{Name}}`` placeholders. Rendering walks the parsed document and
substitutes inside keys and string values (never into raw JSON text), so a value cannot break
the document's structure. The placeholders are:

- ``{{ArnPrefix}}``: ``arn:<partition>``;
- ``{{DnsSuffix}}``: the partition's DNS suffix (``ec2.<suffix>`` trusts EC2; ``sts.<suffix>`` is the
  IRSA audience); both from botocore's endpoint data (``_partitions``), for every partition;
- ``{{EksServicePrincipal}}``: ``eks.amazonaws.com`` (the same in every partition);
- ``{{OidcProvider}}``: ``<issuer host>/id/<provider id>`` (EBS CSI role only);
- ``{{Zone1}}`` .. ``{{Zone3}}``: the availability zones of the subnets (VPC templates only; with two
  zones the third subnet is dropped).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import msgspec

from ._partitions import partition

VPC_OUTPUT_VPC_ID = "VpcId"
VPC_OUTPUT_SUBNET_IDS = "SubnetIds"
SERVICE_ROLE_OUTPUT = "RoleArn"
NODE_ROLE_OUTPUT = "NodeInstanceRole"
EBS_CSI_ROLE_OUTPUT = "EBSCSIDriverRole"
EBS_CSI_POLICY_PARAMETER = "AmazonEBSCSIDriverPolicyArn"

EKS_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "cac1-az3"})
"""Zones (by ID: names differ per account) where EKS does not place a control plane: a generated VPC
never puts a subnet there (CreateCluster would fail with UnsupportedAvailabilityZoneException)."""

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_OIDC_PROVIDER = re.compile(r"^[A-Za-z0-9.-]+(/[A-Za-z0-9._-]+)+$")


class Template(Enum):
    """The templates shipped with the adapter (value: file name under ``templates/``)."""

    VPC = "vpc.json"
    VPC_IPV6 = "vpc-ipv6.json"
    SERVICE_ROLE = "service-role.json"
    NODE_INSTANCE_ROLE = "node-instance-role.json"
    NODE_INSTANCE_ROLE_IPV6 = "node-instance-role-ipv6.json"
    EBS_CSI_DRIVER_ROLE = "ebs-csi-driver-role.json"


def partition_of(region: str) -> str:
    """The ARN partition of a region (``aws``, ``aws-cn``, ``aws-us-gov``, ``aws-iso``...), from
    botocore's endpoint data."""
    return partition(region).name


def oidc_provider_path(issuer: str) -> str:
    """``oidc.eks.<region>.amazonaws.com/id/<ID>`` from an issuer URL (``https://`` optional)."""
    split = urlsplit(issuer if "://" in issuer else f"https://{issuer}")
    path = f"{split.netloc}{split.path}".rstrip("/")
    if not _OIDC_PROVIDER.match(path):
        raise ValueError(f"not an OIDC issuer: {issuer!r}")
    return path


@cache
def _load(template: Template) -> Any:
    text = resources.files("controlplane.aws").joinpath("templates", template.value).read_bytes()
    return msgspec.json.decode(text)


def _substitute(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], node) if "{{" in node else node
    if isinstance(node, dict):
        return {_substitute(k, values): _substitute(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(item, values) for item in node]
    return node


def choose_zones(zones: Sequence[Mapping[str, Any]]) -> list[str]:
    """The two or three zones a generated VPC's subnets go to, from DescribeAvailabilityZones: the
    available ones EKS supports, by name. The operator hard-coded which regions have only two zones
    (stale: ``us-west-1`` offers two to many accounts); the account's own answer is the truth."""
    names = sorted(
        str(z["ZoneName"])
        for z in zones
        if z.get("ZoneName")
        and z.get("State", "available") == "available"
        and z.get("ZoneType", "availability-zone") == "availability-zone"
        and z.get("ZoneId") not in EKS_UNSUPPORTED_ZONE_IDS
    )
    if len(names) < 2:
        raise ValueError(
            f"the region offers {len(names)} availability zone(s) to this account where EKS runs "
            f"({', '.join(names) or 'none'}); a generated VPC needs two: provide subnets instead"
        )
    return names[:3]


def _drop_third_subnet(doc: dict[str, Any]) -> None:
    resources_ = doc["Resources"]
    del resources_["Subnet03"], resources_["Subnet03RouteTableAssociation"]
    refs = doc["Outputs"][VPC_OUTPUT_SUBNET_IDS]["Value"]["Fn::Join"][1]
    refs[:] = [ref for ref in refs if ref != {"Ref": "Subnet03"}]


def render_document(
    template: Template, region: str, *, oidc_issuer: str | None = None, zones: Sequence[str] | None = None
) -> dict[str, Any]:
    """The template for ``region`` as a dict (see ``render``)."""
    part = partition(region)
    values = {
        "ArnPrefix": f"arn:{part.name}",
        "DnsSuffix": part.dns_suffix,
        "EksServicePrincipal": "eks.amazonaws.com",
    }
    if template is Template.EBS_CSI_DRIVER_ROLE:
        if not oidc_issuer:
            raise ValueError("the EBS CSI driver role template needs the cluster's OIDC issuer")
        values["OidcProvider"] = oidc_provider_path(oidc_issuer)
    elif oidc_issuer is not None:
        raise ValueError(f"{template.name} takes no OIDC issuer")
    vpc = template in (Template.VPC, Template.VPC_IPV6)
    if vpc:
        if zones is None or len(zones) not in (2, 3):
            raise ValueError(f"{template.name} needs two or three availability zones (see choose_zones)")
        values.update({f"Zone{i + 1}": zone for i, zone in enumerate(zones)})
        values.setdefault("Zone3", "")  # its subnet is dropped below
    elif zones is not None:
        raise ValueError(f"{template.name} takes no availability zones")
    try:
        doc: dict[str, Any] = _substitute(_load(template), values)
    except KeyError as exc:  # a placeholder with no value: a bug in a template file
        raise ValueError(f"template {template.value} uses unknown placeholder {exc}") from None
    if vpc and zones is not None and len(zones) == 2:
        _drop_third_subnet(doc)
    return doc


def render(
    template: Template, region: str, *, oidc_issuer: str | None = None, zones: Sequence[str] | None = None
) -> str:
    """The CloudFormation template body (JSON) for ``region``'s partition.

    ``oidc_issuer`` (the cluster's ``identity.oidc.issuer``) is required by, and only by,
    ``Template.EBS_CSI_DRIVER_ROLE``; ``zones`` (two or three, from ``choose_zones``) by, and only by,
    the VPC templates: one public subnet per zone.
    """
    doc = render_document(template, region, oidc_issuer=oidc_issuer, zones=zones)
    return msgspec.json.encode(doc).decode()
