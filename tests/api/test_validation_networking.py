"""Networking rules: IP family, endpoint access, public access CIDRs, subnets with security groups."""

from __future__ import annotations

import pytest

from controlplane.api import Cluster, FieldError, validate_create, validate_update

from ._fixtures import cluster, spec
from ._validation_cases import BASE, E, S, changed

CREATE_CASES: list[tuple[str, Cluster, list[FieldError]]] = [
    (
        "both endpoints disabled",
        cluster(spec(public_access=False, private_access=False)),
        [E(f"{S}.publicAccess", "endpoint-access", "public access, private access, or both must be enabled")],
    ),
    (
        "security groups without subnets",
        cluster(spec(security_groups=["sg-0123456789abcdef0"], subnets=[])),
        [
            E(
                f"{S}.subnets",
                "subnets-with-security-groups",
                "subnets must be provided if security groups are provided",
            )
        ],
    ),
    (
        "ipFamily enum",
        cluster(spec(ip_family="ipv5")),
        [E(f"{S}.ipFamily", "enum", "ipFamily 'ipv5' must be ipv4 or ipv6")],
    ),
    (
        "CIDR syntax",
        cluster(spec(public_access_sources=["10.0.0.0/33"])),
        [
            E(
                f"{S}.publicAccessSources[0]",
                "cidr",
                "publicAccessSources[0] '10.0.0.0/33' is not a valid CIDR block: "
                "'10.0.0.0/33' does not appear to be an IPv4 or IPv6 network",
            )
        ],
    ),
    (
        "CIDR host bits",
        cluster(spec(public_access_sources=["10.0.0.1/24"])),
        [
            E(
                f"{S}.publicAccessSources[0]",
                "cidr",
                "publicAccessSources[0] '10.0.0.1/24' is not a valid CIDR block: "
                "10.0.0.1/24 has host bits set",
            )
        ],
    ),
    (
        "CIDR without prefix",
        cluster(spec(public_access_sources=["0.0.0.0/0", "10.0.0.1"])),
        [
            E(
                f"{S}.publicAccessSources[1]",
                "cidr",
                "publicAccessSources[1] '10.0.0.1' is not a valid CIDR block: no prefix length",
            )
        ],
    ),
    (
        "IPv6 CIDR on an IPv4 cluster",
        cluster(spec(public_access_sources=["0.0.0.0/0", "::/0"])),
        [
            E(
                f"{S}.publicAccessSources[1]",
                "cidr",
                "publicAccessSources[1] '::/0' is an IPv6 CIDR block, allowed only when ipFamily is ipv6",
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("cluster_", "expected"), [c[1:] for c in CREATE_CASES], ids=[c[0] for c in CREATE_CASES]
)
def test_validate_create_messages(cluster_: Cluster, expected: list[FieldError]) -> None:
    assert validate_create(cluster_) == expected


UPDATE_CASES: list[tuple[str, Cluster, Cluster, list[FieldError]]] = [
    (
        "both endpoints disabled, null falls back to the old value",
        changed(public_access=False, private_access=True),
        changed(public_access=None, private_access=False),
        [E(f"{S}.publicAccess", "endpoint-access", "public access, private access, or both must be enabled")],
    ),
    (
        "IPv6 CIDR needs ipFamily ipv6 (taken from the old spec when null)",
        BASE,
        changed(ip_family=None, public_access_sources=["::/0"]),
        [
            E(
                f"{S}.publicAccessSources[0]",
                "cidr",
                "publicAccessSources[0] '::/0' is an IPv6 CIDR block, allowed only when ipFamily is ipv6",
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in UPDATE_CASES], ids=[c[0] for c in UPDATE_CASES]
)
def test_validate_update_messages(old: Cluster, new: Cluster, expected: list[FieldError]) -> None:
    assert validate_update(old, new) == expected
