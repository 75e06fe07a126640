"""Networking: the IP family, endpoint access and its CIDR allow-list, subnets and security groups."""

from __future__ import annotations

import ipaddress

from .._types import EKSClusterConfigSpec
from ._core import R_ACCESS, R_CIDR, R_ENUM, R_SUBNETS, SPEC, Errors


def _is_ipv6(ip_family: str | None) -> bool:
    return (ip_family or "").lower() == "ipv6"


def check_ip_family(spec: EKSClusterConfigSpec, e: Errors) -> None:
    if spec.ip_family is not None and spec.ip_family.lower() not in ("ipv4", "ipv6"):
        e.add(f"{SPEC}.ipFamily", R_ENUM, f"ipFamily {spec.ip_family!r} must be ipv4 or ipv6")


def check_public_access_sources(spec: EKSClusterConfigSpec, ip_family: str | None, e: Errors) -> None:
    """Each source is a CIDR block with a prefix length; IPv6 ones only on an IPv6 cluster."""
    for i, cidr in enumerate(spec.public_access_sources or ()):
        path = f"{SPEC}.publicAccessSources[{i}]"
        try:
            net = ipaddress.ip_network(cidr, strict=True)
        except ValueError as exc:
            e.add(path, R_CIDR, f"publicAccessSources[{i}] {cidr!r} is not a valid CIDR block: {exc}")
            continue
        if "/" not in cidr:
            e.add(
                path, R_CIDR, f"publicAccessSources[{i}] {cidr!r} is not a valid CIDR block: no prefix length"
            )
        elif net.version == 6 and not _is_ipv6(ip_family):
            e.add(
                path,
                R_CIDR,
                f"publicAccessSources[{i}] {cidr!r} is an IPv6 CIDR block, "
                "allowed only when ipFamily is ipv6",
            )


def check_endpoint_access(spec: EKSClusterConfigSpec, old: EKSClusterConfigSpec | None, e: Errors) -> None:
    """Rancher's validator: the public endpoint, the private one or both."""
    public, private = spec.public_access, spec.private_access
    if old is not None:  # on update a null means "as before"
        public = old.public_access if public is None else public
        private = old.private_access if private is None else private
    if public is False and private is False:
        e.add(f"{SPEC}.publicAccess", R_ACCESS, "public access, private access, or both must be enabled")


def check_subnets_with_security_groups(spec: EKSClusterConfigSpec, e: Errors) -> None:
    """Rancher's validator (non-import creates)."""
    if spec.security_groups and not spec.subnets:
        e.add(f"{SPEC}.subnets", R_SUBNETS, "subnets must be provided if security groups are provided")
