"""CloudFormation templates (data files in ``templates/``) rendered per AWS partition.

Templates are JSON with ``{{Name}}`` placeholders. Rendering walks the parsed document and
substitutes inside keys and string values (never into raw JSON text), so a value cannot break
the document's structure. The placeholders are:

- ``{{ArnPrefix}}``: ``arn:<partition>``;
- ``{{DnsSuffix}}``: the partition's DNS suffix (``ec2.<suffix>`` trusts EC2; ``sts.<suffix>`` is the
  IRSA audience); both from botocore's endpoint data (``_partitions``), for every partition;
- ``{{EksServicePrincipal}}``: ``eks.amazonaws.com`` (the same in every partition);
- ``{{OidcProvider}}``: ``<issuer host>/id/<provider id>`` (EBS CSI role only).
"""

from __future__ import annotations

import re
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

TWO_AZ_REGIONS = frozenset({"ap-south-1", "ap-northeast-2", "ca-central-1", "cn-north-1"})
"""Regions where the operator's VPC template creates only two subnets (its list, kept for parity)."""

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


def _drop_third_subnet(doc: dict[str, Any]) -> None:
    resources_ = doc["Resources"]
    del resources_["Subnet03"], resources_["Subnet03RouteTableAssociation"]
    refs = doc["Outputs"][VPC_OUTPUT_SUBNET_IDS]["Value"]["Fn::Join"][1]
    refs[:] = [ref for ref in refs if ref != {"Ref": "Subnet03"}]


def render_document(template: Template, region: str, *, oidc_issuer: str | None = None) -> dict[str, Any]:
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
    try:
        doc: dict[str, Any] = _substitute(_load(template), values)
    except KeyError as exc:  # a placeholder with no value: a bug in a template file
        raise ValueError(f"template {template.value} uses unknown placeholder {exc}") from None
    if template in (Template.VPC, Template.VPC_IPV6) and region in TWO_AZ_REGIONS:
        _drop_third_subnet(doc)
    return doc


def render(template: Template, region: str, *, oidc_issuer: str | None = None) -> str:
    """The CloudFormation template body (JSON) for ``region``'s partition.

    ``oidc_issuer`` (the cluster's ``identity.oidc.issuer``) is required by, and only by,
    ``Template.EBS_CSI_DRIVER_ROLE``.
    """
    return msgspec.json.encode(render_document(template, region, oidc_issuer=oidc_issuer)).decode()
