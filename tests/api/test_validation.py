"""Validation across areas: valid clusters pass, imports skip the non-import checks, every error is reported,
allowed updates. One row per message, by area, in test_validation_<area>.py (Rancher's and the operator's
verbatim)."""

from __future__ import annotations

import pytest

from controlplane.api import LOGGING_TYPES, Cluster, validate_create, validate_update

from ._fixtures import cluster, imported_spec, lt_node_group, node_group, spec, spot_node_group
from ._validation_cases import BASE, NG0, S, bare, changed, changed_ng, imported_ng


def test_valid_clusters_pass() -> None:
    full = cluster(
        spec(
            node_groups=[node_group(), spot_node_group(), lt_node_group()],
            ip_family="IPv6",
            public_access_sources=["0.0.0.0/0", "::/0", "2001:db8::/32"],
            logging_types=list(LOGGING_TYPES),
            secrets_encryption=True,
            kms_key="arn:aws:kms:us-east-1:123456789012:key/abc",
            subnets=["subnet-1", "subnet-2"],
            security_groups=["sg-1"],
            service_role="eks-service",
        )
    )
    assert validate_create(full) == []
    assert validate_update(full, full) == []
    assert validate_create(cluster(imported_spec())) == []


def test_imported_create_skips_the_non_import_checks() -> None:
    # Everything null and a bare node group: the operator checks only the version equality for imports.
    c = imported_ng(
        bare(version="1.30"), kubernetes_version="1.30", public_access=False, private_access=False
    )
    assert validate_create(c) == []
    # ...but values given are still checked, since they are pushed to AWS on update passes.
    bad = imported_ng(bare(min_size=-1))
    assert [e.rule for e in validate_create(bad)] == ["range"]


def test_all_errors_are_reported_not_just_the_first() -> None:
    c = cluster(spec(kubernetes_version=None, tags=None, node_groups=[node_group(disk_size=None, gpu=None)]))
    assert [e.path for e in validate_create(c)] == [
        f"{S}.kubernetesVersion",
        f"{S}.tags",
        f"{NG0}.diskSize",
        f"{NG0}.gpu",
    ]


@pytest.mark.parametrize(
    "new",
    [
        changed(subnets=["subnet-2", "subnet-1"]),  # order is irrelevant
        changed(subnets=None, security_groups=None, service_role=None, kms_key=None),  # released
        changed(ip_family="IPv4"),  # the operator compares case-insensitively
        changed(kubernetes_version="1.31"),  # node groups one minor behind
        changed_ng(0, desired_size=3, labels={"team": "infra"}, tags={"a": "b"}),
        changed(node_groups=[node_group("new-one")]),  # new node group, old ones dropped
        changed(public_access=None, private_access=None, tags={}, node_groups=[]),
    ],
)
def test_allowed_updates(new: Cluster) -> None:
    assert validate_update(BASE, new) == []


def test_update_adopting_unmanaged_values_is_allowed() -> None:
    old = cluster(imported_spec())
    new = cluster(
        imported_spec(subnets=["subnet-9"], service_role="r", ip_family="ipv4", secrets_encryption=True)
    )
    assert validate_update(old, new) == []
