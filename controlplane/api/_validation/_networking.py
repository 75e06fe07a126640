"""Networking: the IP family, endpoint access and its CIDR allow-list, subnets and security groups."""

from __future__ import annotations

import ipaddress

from .._types import EKSClusterConfigSpec
from ._core import R_ACCESS, R_CIDR, R_ENUM, R_SUBNETS, SPEC
from ._rules import Errors, OneOf, rule

_SOURCES = (EKSClusterConfigSpec, "publicAccessSources")

IP_FAMILY = rule(
    R_ENUM,
    "ipFamily {value!r} must be {alternatives}",
    (EKSClusterConfigSpec, "ipFamily"),
    constraints=(OneOf(("ipv4", "ipv6"), ignore_case=True),),
)
CIDR_INVALID = rule(
    R_CIDR, "publicAccessSources[{index}] {value!r} is not a valid CIDR block: {reason}", _SOURCES
)
CIDR_NO_PREFIX = rule(
    R_CIDR, "publicAccessSources[{index}] {value!r} is not a valid CIDR block: no prefix length", _SOURCES
)
CIDR_IPV6 = rule(
    R_CIDR,
    "publicAccessSources[{index}] {value!r} is an IPv6 CIDR block, allowed only when ipFamily is ipv6",
    _SOURCES,
)
ENDPOINT_ACCESS = rule(
    R_ACCESS,
    "public access, private access, or both must be enabled",
    (EKSClusterConfigSpec, "publicAccess"),
    (EKSClusterConfigSpec, "privateAccess"),
    origin="rancher",
)
SUBNETS_WITH_SECURITY_GROUPS = rule(
    R_SUBNETS,
    "subnets must be provided if security groups are provided",
    (EKSClusterConfigSpec, "subnets"),
    origin="rancher",
)


def _is_ipv6(ip_family: str | None) -> bool:
    return (ip_family or "").lower() == "ipv6"


def check_ip_family(spec: EKSClusterConfigSpec, e: Errors) -> None:
    if spec.ip_family is not None and not IP_FAMILY.allows(spec.ip_family):
        e.add(IP_FAMILY, f"{SPEC}.ipFamily", value=spec.ip_family)


def check_public_access_sources(spec: EKSClusterConfigSpec, ip_family: str | None, e: Errors) -> None:
    """Each source is a CIDR block with a prefix length; IPv6 ones only on an IPv6 cluster."""
    for i, cidr in enumerate(spec.public_access_sources or ()):
        path = f"{SPEC}.publicAccessSources[{i}]"
        try:
            net = ipaddress.ip_network(cidr, strict=True)
        except ValueError as exc:
            e.add(CIDR_INVALID, path, index=i, value=cidr, reason=exc)
            continue
        if "/" not in cidr:
            e.add(CIDR_NO_PREFIX, path, index=i, value=cidr)
        elif net.version == 6 and not _is_ipv6(ip_family):
            e.add(CIDR_IPV6, path, index=i, value=cidr)


def check_endpoint_access(spec: EKSClusterConfigSpec, old: EKSClusterConfigSpec | None, e: Errors) -> None:
    """Rancher's validator: the public endpoint, the private one or both."""
    public, private = spec.public_access, spec.private_access
    if old is not None:  # on update a null means "as before"
        public = old.public_access if public is None else public
        private = old.private_access if private is None else private
    if public is False and private is False:
        e.add(ENDPOINT_ACCESS, f"{SPEC}.publicAccess")


def check_subnets_with_security_groups(spec: EKSClusterConfigSpec, e: Errors) -> None:
    """Rancher's validator (non-import creates)."""
    if spec.security_groups and not spec.subnets:
        e.add(SUBNETS_WITH_SECURITY_GROUPS, f"{SPEC}.subnets")
