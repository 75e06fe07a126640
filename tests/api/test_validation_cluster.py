"""The cluster's own rules: metadata, sync policy, EKS name, region, version, roles, logging, nil
checks, KMS key, noupdate and display-name uniqueness."""

from __future__ import annotations

import msgspec
import pytest

from controlplane.api import (
    Cluster,
    ClusterSpec,
    FieldError,
    validate_create,
    validate_unique_display_name,
    validate_update,
)

from ._fixtures import cluster, spec
from ._validation_cases import BASE, WHO, E, S, changed, nil_cluster, noupdate

CREATE_CASES: list[tuple[str, Cluster, list[FieldError]]] = [
    (
        "metadata.name required",
        cluster(name=""),
        [E("metadata.name", "required", "metadata.name is required")],
    ),
    (
        "metadata.name format",
        cluster(name="Bad_Name"),
        [
            E(
                "metadata.name",
                "format",
                "metadata.name 'Bad_Name' must be a DNS-1123 subdomain: at most 253 lowercase letters, "
                "digits, '-' and '.', starting and ending with a letter or digit",
            )
        ],
    ),
    (
        "syncPolicy enum",
        msgspec.structs.replace(
            cluster(), spec=msgspec.structs.replace(ClusterSpec(eks_config=spec()), sync_policy="bogus")
        ),
        [
            E(
                "spec.syncPolicy",
                "enum",
                "syncPolicy 'bogus' must be one of three-way, rancher, desired-wins, observe",
            )
        ],
    ),
    (
        "cluster version empty string",
        cluster(spec(kubernetes_version="")),
        [E(f"{S}.kubernetesVersion", "required", "cluster kubernetes version cannot be empty string")],
    ),
    *[
        (f"nil {field}", cluster(spec(**{attr: None})), [nil_cluster(field)])
        for field, attr in [
            ("kubernetesVersion", "kubernetes_version"),
            ("privateAccess", "private_access"),
            ("publicAccess", "public_access"),
            ("secretsEncryption", "secrets_encryption"),
            ("tags", "tags"),
            ("subnets", "subnets"),
            ("securityGroups", "security_groups"),
            ("loggingTypes", "logging_types"),
            ("publicAccessSources", "public_access_sources"),
        ]
    ],
    (
        "kmsKey with secretsEncryption",
        cluster(spec(secrets_encryption=True)),
        [E(f"{S}.kmsKey", "required", "kmsKey is required when secretsEncryption is true")],
    ),
    (
        "kubernetesVersion format",
        cluster(spec(kubernetes_version="v1.30", node_groups=[])),
        [
            E(
                f"{S}.kubernetesVersion",
                "format",
                "kubernetesVersion 'v1.30' must be <major>.<minor>, e.g. 1.30",
            )
        ],
    ),
    (
        "displayName required",
        cluster(spec(display_name="")),
        [E(f"{S}.displayName", "required", "displayName (the EKS cluster name) is required")],
    ),
    (
        "displayName format",
        cluster(spec(display_name="-bad name")),
        [
            E(
                f"{S}.displayName",
                "format",
                "displayName '-bad name' must be 1-100 characters, start with a letter or digit and contain "
                "only letters, digits, '-' and '_'",
            )
        ],
    ),
    (
        "region format",
        cluster(spec(region="US-EAST")),
        [E(f"{S}.region", "format", "region 'US-EAST' is not an AWS region name (e.g. us-east-1)")],
    ),
    (
        "serviceRole is an ARN",
        cluster(spec(service_role="arn:aws:iam::123456789012:role/eks")),
        [
            E(
                f"{S}.serviceRole",
                "format",
                "serviceRole 'arn:aws:iam::123456789012:role/eks' must be an IAM role name, not an ARN",
            )
        ],
    ),
    (
        "serviceRole characters",
        cluster(spec(service_role="my role")),
        [
            E(
                f"{S}.serviceRole",
                "format",
                "serviceRole 'my role' must be an IAM role name: 1-64 letters, digits and +=,.@_-",
            )
        ],
    ),
    (
        "logging type",
        cluster(spec(logging_types=["api", "kubelet"])),
        [
            E(
                f"{S}.loggingTypes[1]",
                "enum",
                "loggingTypes[1] 'kubelet' is not a control plane log type; valid types are api, audit, "
                "authenticator, controllerManager, scheduler",
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
        "cluster version empty string",
        BASE,
        changed(kubernetes_version=""),
        [E(f"{S}.kubernetesVersion", "required", "cluster kubernetes version cannot be empty string")],
    ),
    (
        "cluster version not semver",
        BASE,
        changed(kubernetes_version="v1.31", node_groups=[]),
        [
            E(
                f"{S}.kubernetesVersion",
                "format",
                f"invalid version format for cluster [{WHO}]: v1.31",
            )
        ],
    ),
    (
        "cluster version semver but not <major>.<minor>",
        BASE,
        changed(kubernetes_version="1.31.0-rc", node_groups=[]),
        [
            E(
                f"{S}.kubernetesVersion",
                "format",
                "kubernetesVersion '1.31.0-rc' must be <major>.<minor>, e.g. 1.30",
            )
        ],
    ),
    ("noupdate displayName", BASE, changed(display_name="other"), noupdate("displayName")),
    ("noupdate region", BASE, changed(region="us-west-2"), noupdate("region")),
    ("noupdate imported", BASE, changed(imported=True), noupdate("imported")),
    ("noupdate ipFamily", BASE, changed(ip_family="ipv6"), noupdate("ipFamily")),
    ("noupdate secretsEncryption", BASE, changed(secrets_encryption=False), noupdate("secretsEncryption")),
    (
        "noupdate kmsKey",
        BASE,
        changed(kms_key="arn:aws:kms:us-east-1:123456789012:key/x"),
        noupdate("kmsKey"),
    ),
    ("noupdate subnets", BASE, changed(subnets=["subnet-1", "subnet-3"]), noupdate("subnets")),
    ("noupdate securityGroups", BASE, changed(security_groups=["sg-2"]), noupdate("securityGroups")),
    ("noupdate serviceRole", BASE, changed(service_role="other-role"), noupdate("serviceRole")),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in UPDATE_CASES], ids=[c[0] for c in UPDATE_CASES]
)
def test_validate_update_messages(old: Cluster, new: Cluster, expected: list[FieldError]) -> None:
    assert validate_update(old, new) == expected


DUP = [
    E(
        f"{S}.displayName",
        "unique",
        "cluster already exists for EKS cluster [prod-use1] in region [us-east-1]",
    )
]


def test_unique_display_name() -> None:
    mine = cluster()
    same_cred = cluster(name="c-other")
    other_cred = cluster(spec(amazon_credential_secret="ns:other"), name="c-other")
    other_region = cluster(spec(region="us-west-2"), name="c-other")
    assert validate_unique_display_name(mine, [mine]) == []  # itself
    assert validate_unique_display_name(mine, [same_cred]) == DUP
    assert validate_unique_display_name(mine, [other_region]) == []
    assert validate_unique_display_name(mine, [other_cred]) == []  # unknown accounts differ
    accounts = {"cattle-global-data:cc-abc": "111111111111", "ns:other": "111111111111"}
    assert validate_unique_display_name(mine, [other_cred], accounts) == DUP
    assert validate_unique_display_name(mine, [other_cred], {**accounts, "ns:other": "2"}) == []
    assert validate_unique_display_name(mine, [other_cred], {"ns:other": ""}) == []


def test_every_region_botocore_knows_is_a_valid_region() -> None:
    from controlplane.aws._partitions import known_regions  # noqa: PLC0415 - api tests stay light otherwise

    for regions in known_regions().values():
        for region in regions:
            assert validate_create(cluster(spec(region=region))) == [], region
