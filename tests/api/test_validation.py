"""One row per validation message: path, rule and exact text (Rancher's and the operator's verbatim)."""

from __future__ import annotations

import msgspec
import pytest

from controlplane.api import (
    LOGGING_TYPES,
    Cluster,
    ClusterSpec,
    Credential,
    FieldError,
    LaunchTemplate,
    NodeGroup,
    known_settings,
    register_setting,
    validate_create,
    validate_credential,
    validate_setting,
    validate_unique_display_name,
    validate_update,
)
from controlplane.api._validation import _settings

from ._fixtures import cluster, imported_spec, lt_node_group, node_group, spec, spot_node_group

WHO = "prod-use1 (id: c-abc12)"  # "[%s (id: %s)]": displayName and metadata.name
S = "spec.eksConfig"
NG0 = f"{S}.nodeGroups[0]"


def E(path: str, rule: str, message: str) -> FieldError:
    return FieldError(path=path, rule=rule, message=message)


def nil_cluster(field: str) -> FieldError:
    return E(f"{S}.{field}", "required", f"field [{field}] cannot be nil for non-import cluster [{WHO}]")


def nil_ng(field: str, path: str | None = None, name: str = "ng1") -> FieldError:
    return E(
        path or f"{NG0}.{field}",
        "required",
        f"field [{field}] cannot be nil for nodegroup [{name}] in non-nil cluster [{WHO}]",
    )


def with_ng(ng: NodeGroup, **changes: object) -> Cluster:
    return cluster(spec(node_groups=[ng], **changes))


def imported_ng(ng: NodeGroup, **changes: object) -> Cluster:
    return cluster(imported_spec(node_groups=[ng], **changes))


def bare(**fields: object) -> NodeGroup:
    return NodeGroup(nodegroup_name="ng1", **fields)  # type: ignore[arg-type]


CREATE_CASES: list[tuple[str, Cluster, list[FieldError]]] = [
    # --- metadata and policy
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
    # --- Rancher's API validator (non-import create)
    (
        "cluster version empty string",
        cluster(spec(kubernetes_version="")),
        [E(f"{S}.kubernetesVersion", "required", "cluster kubernetes version cannot be empty string")],
    ),
    (
        "nodegroupName empty",
        with_ng(node_group(name="")),
        [E(f"{NG0}.nodegroupName", "required", "nodegroupName cannot be an empty")],
    ),
    (
        "nodegroupName null",
        with_ng(node_group(nodegroup_name=None)),
        [E(f"{NG0}.nodegroupName", "required", "nodegroupName cannot be an empty")],
    ),
    (
        "nodegroup version empty string",
        with_ng(node_group(version="")),
        [E(f"{NG0}.version", "required", "nodegroup [ng1] version cannot be empty string")],
    ),
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
    # --- eks-operator validateCreate: cluster nil checks, in the operator's order
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
    # --- node group nil checks
    (
        "launchTemplate.ID nil",
        with_ng(lt_node_group("ng1", launch_template=LaunchTemplate(version=1))),
        [nil_ng("launchTemplate.ID", f"{NG0}.launchTemplate.id")],
    ),
    (
        "launchTemplate.Version nil",
        with_ng(lt_node_group("ng1", launch_template=LaunchTemplate(id="lt-1"))),
        [nil_ng("launchTemplate.Version", f"{NG0}.launchTemplate.version")],
    ),
    ("ec2SshKey nil", with_ng(node_group(ec2_ssh_key=None)), [nil_ng("ec2SshKey")]),
    ("resourceTags nil", with_ng(node_group(resource_tags=None)), [nil_ng("resourceTags")]),
    ("diskSize nil", with_ng(node_group(disk_size=None)), [nil_ng("diskSize")]),
    ("instanceType empty (on demand)", with_ng(node_group(instance_type="")), [nil_ng("instanceType")]),
    (
        "instanceType empty (arm spot)",
        with_ng(spot_node_group("ng1", arm=True)),
        [nil_ng("instanceType")],
    ),
    *[
        (
            f"nil node group {field}",
            with_ng(msgspec.structs.replace(node_group(), **{attr: None})),
            [nil_ng(field)],
        )
        for field, attr in [
            ("version", "version"),
            ("minSize", "min_size"),
            ("maxSize", "max_size"),
            ("desiredSize", "desired_size"),
            ("gpu", "gpu"),
            ("subnets", "subnets"),
            ("tags", "tags"),
            ("labels", "labels"),
            ("requestSpotInstances", "request_spot_instances"),
        ]
    ],
    (
        "duplicate node group name",
        cluster(spec(node_groups=[node_group("a"), node_group("b"), node_group("a")])),
        [
            E(
                f"{S}.nodeGroups[2].nodegroupName",
                "unique",
                f"node group name [a] is not unique within the cluster [{WHO}] to avoid duplication",
            )
        ],
    ),
    (
        "spot without spotInstanceTypes",
        with_ng(spot_node_group("ng1", spot_instance_types=[])),
        [
            E(
                f"{NG0}.spotInstanceTypes",
                "spot",
                f"nodegroup [ng1] in cluster [{WHO}]: spotInstanceTypes must be specified when requesting "
                "spot instances",
            )
        ],
    ),
    (
        "spot with instanceType",
        with_ng(spot_node_group("ng1", instance_type="t3.large")),
        [
            E(
                f"{NG0}.instanceType",
                "spot",
                f"nodegroup [ng1] in cluster [{WHO}]: instance type should not be specified when "
                "requestSpotInstances is specified, use spotInstanceTypes instead",
            )
        ],
    ),
    (
        "node group version differs from cluster",
        with_ng(node_group(version="1.29")),
        [
            E(
                f"{NG0}.version",
                "version-match",
                f"nodegroup [ng1] version must match cluster [{WHO}] version on create",
            )
        ],
    ),
    (
        "imported: null node group version differs from cluster",
        imported_ng(bare(), kubernetes_version="1.30"),
        [
            E(
                f"{NG0}.version",
                "version-match",
                "nodegroup [ng1] version must match cluster [legacy (id: c-abc12)] version on create",
            )
        ],
    ),
    # --- checks the references skip but AWS enforces
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
        "ipFamily enum",
        cluster(spec(ip_family="ipv5")),
        [E(f"{S}.ipFamily", "enum", "ipFamily 'ipv5' must be ipv4 or ipv6")],
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
    (
        "too many tags",
        cluster(spec(tags={f"k{i}": "v" for i in range(51)})),
        [E(f"{S}.tags", "tag", "51 tags given; AWS allows at most 50 per resource")],
    ),
    (
        "tag key too long",
        cluster(spec(tags={"k" * 129: "v"})),
        [E(f"{S}.tags[{'k' * 129!r}]", "tag", f"tag key {'k' * 129!r} must be 1-128 characters")],
    ),
    (
        "tag key aws: prefix",
        cluster(spec(tags={"AWS:owner": "me"})),
        [E(f"{S}.tags['AWS:owner']", "tag", "tag key 'AWS:owner' uses the reserved prefix 'aws:'")],
    ),
    (
        "tag key characters",
        cluster(spec(tags={"a*b": "v"})),
        [
            E(
                f"{S}.tags['a*b']",
                "tag",
                "tag key 'a*b' may only contain letters, digits, spaces and + - = . _ : / @",
            )
        ],
    ),
    (
        "tag value too long",
        with_ng(node_group(resource_tags={"k": "v" * 257})),
        [E(f"{NG0}.resourceTags['k']", "tag", "the value of tag 'k' is longer than 256 characters")],
    ),
    (
        "tag value characters",
        with_ng(node_group(tags={"k": "a;b"})),
        [
            E(
                f"{NG0}.tags['k']",
                "tag",
                "the value of tag 'k' may only contain letters, digits, spaces and + - = . _ : / @",
            )
        ],
    ),
    (
        "node group name format",
        with_ng(node_group("ng 1")),
        [
            E(
                f"{NG0}.nodegroupName",
                "format",
                "nodegroupName 'ng 1' must be 1-63 characters, start with a letter or digit and contain only "
                "letters, digits, '-' and '_'",
            )
        ],
    ),
    (
        "node group version format",
        imported_ng(bare(version="1.30.1")),
        [
            E(
                f"{NG0}.version",
                "format",
                "nodegroup [ng1] version '1.30.1' must be <major>.<minor>, e.g. 1.30",
            )
        ],
    ),
    (
        "minSize negative",
        with_ng(node_group(min_size=-1)),
        [E(f"{NG0}.minSize", "range", "nodegroup [ng1] minSize must be at least 0, got -1")],
    ),
    (
        "desiredSize negative",
        imported_ng(bare(desired_size=-1)),
        [E(f"{NG0}.desiredSize", "range", "nodegroup [ng1] desiredSize must be at least 0, got -1")],
    ),
    (
        "maxSize below one",
        with_ng(node_group(min_size=0, desired_size=0, max_size=0)),
        [E(f"{NG0}.maxSize", "range", "nodegroup [ng1] maxSize must be at least 1, got 0")],
    ),
    (
        "minSize above maxSize",
        imported_ng(bare(min_size=3, max_size=2)),
        [
            E(
                f"{NG0}.minSize",
                "min<=desired<=max",
                "nodegroup [ng1] minSize (3) must not be greater than maxSize (2)",
            )
        ],
    ),
    (
        "desiredSize below minSize",
        with_ng(node_group(min_size=2, desired_size=1, max_size=3)),
        [
            E(
                f"{NG0}.desiredSize",
                "min<=desired<=max",
                "nodegroup [ng1] desiredSize (1) must not be less than minSize (2)",
            )
        ],
    ),
    (
        "desiredSize above maxSize",
        with_ng(node_group(min_size=1, desired_size=4, max_size=3)),
        [
            E(
                f"{NG0}.desiredSize",
                "min<=desired<=max",
                "nodegroup [ng1] desiredSize (4) must not be greater than maxSize (3)",
            )
        ],
    ),
    (
        "diskSize range",
        with_ng(node_group(disk_size=0)),
        [E(f"{NG0}.diskSize", "range", "nodegroup [ng1] diskSize must be 1-16384 GiB, got 0")],
    ),
    (
        "spotInstanceTypes without spot",
        with_ng(node_group(spot_instance_types=["t3.large"])),
        [
            E(
                f"{NG0}.spotInstanceTypes",
                "spot",
                "nodegroup [ng1]: spotInstanceTypes are only used when requestSpotInstances is true",
            )
        ],
    ),
    (
        "nodeRole ARN",
        with_ng(node_group(node_role="my-node-role")),
        [
            E(
                f"{NG0}.nodeRole",
                "format",
                "nodegroup [ng1] nodeRole 'my-node-role' must be an IAM role ARN "
                "(arn:aws:iam::<account>:role/<name>)",
            )
        ],
    ),
    (
        "userData not MIME multipart",
        with_ng(node_group(user_data="#!/bin/sh\necho hi\n")),
        [
            E(
                f"{NG0}.userData",
                "mime-multipart",
                "userdata for nodegroup [ng1] is not of mime time multipart/mixed",
            )
        ],
    ),
    (
        "label key",
        with_ng(node_group(labels={"-bad": "x"})),
        [
            E(
                f"{NG0}.labels['-bad']",
                "label",
                "label key '-bad' must be letters, digits, '-', '_' and '.', starting and ending with a "
                "letter or digit",
            )
        ],
    ),
    (
        "label key prefix",
        with_ng(node_group(labels={"Example.COM/x": "y"})),
        [
            E(
                f"{NG0}.labels['Example.COM/x']",
                "label",
                "label key 'Example.COM/x' has a prefix that is not a DNS-1123 subdomain",
            )
        ],
    ),
    (
        "label key length",
        with_ng(node_group(labels={"a" * 64: "y"})),
        [
            E(
                f"{NG0}.labels[{'a' * 64!r}]",
                "label",
                f"label key {'a' * 64!r} must be 1-63 characters (EKS limit)",
            )
        ],
    ),
    (
        "label value",
        with_ng(node_group(labels={"team": None})),
        [
            E(
                f"{NG0}.labels['team']",
                "label",
                "the value of label 'team' must be 1-63 letters, digits, '-', '_' and '.', "
                "starting and ending "
                "with a letter or digit (EKS does not accept empty label values)",
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("cluster_", "expected"), [c[1:] for c in CREATE_CASES], ids=[c[0] for c in CREATE_CASES]
)
def test_validate_create_messages(cluster_: Cluster, expected: list[FieldError]) -> None:
    assert validate_create(cluster_) == expected


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


# --- update ---------------------------------------------------------------------------------------------

BASE = cluster(
    spec(
        ip_family="ipv4",
        secrets_encryption=True,
        kms_key="arn:aws:kms:us-east-1:123456789012:key/abc",
        subnets=["subnet-1", "subnet-2"],
        security_groups=["sg-1"],
        service_role="eks-service",
        node_groups=[
            node_group(
                subnets=["subnet-1"],
                node_role="arn:aws:iam::123456789012:role/nodes",
                spot_instance_types=None,
            ),
            lt_node_group("lt"),
            spot_node_group("spot"),
        ],
    )
)


def changed(**changes: object) -> Cluster:
    return msgspec.structs.replace(
        BASE,
        spec=ClusterSpec(eks_config=msgspec.structs.replace(BASE.spec.eks_config, **changes)),
    )


def changed_ng(index: int, **changes: object) -> Cluster:
    groups = list(BASE.spec.eks_config.node_groups or [])
    groups[index] = msgspec.structs.replace(groups[index], **changes)
    return changed(node_groups=groups)


def noupdate(field: str) -> list[FieldError]:
    return [E(f"{S}.{field}", "noupdate", f"cannot modify EKS {field} after creation")]


def ng_noupdate(index: int, name: str, field: str) -> list[FieldError]:
    path = f"{S}.nodeGroups[{index}].{field}"
    return [E(path, "noupdate", f"cannot modify EKS nodegroup [{name}] {field} after creation")]


UPDATE_CASES: list[tuple[str, Cluster, Cluster, list[FieldError]]] = [
    (
        "cluster version empty string",
        BASE,
        changed(kubernetes_version=""),
        [E(f"{S}.kubernetesVersion", "required", "cluster kubernetes version cannot be empty string")],
    ),
    (
        "nodegroupName empty",
        BASE,
        changed_ng(0, nodegroup_name=""),
        [E(f"{NG0}.nodegroupName", "required", "nodegroupName cannot be an empty")],
    ),
    (
        "nodegroup version empty string",
        BASE,
        changed_ng(0, version=""),
        [E(f"{NG0}.version", "required", "nodegroup [ng1] version cannot be empty string")],
    ),
    (
        "both endpoints disabled, null falls back to the old value",
        changed(public_access=False, private_access=True),
        changed(public_access=None, private_access=False),
        [E(f"{S}.publicAccess", "endpoint-access", "public access, private access, or both must be enabled")],
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
    (
        "node group version not semver",
        BASE,
        changed_ng(0, version="1.30.1"),
        [E(f"{NG0}.version", "format", "invalid version format for node group [ng1]: 1.30.1")],
    ),
    (
        "node group more than three minors behind",
        BASE,
        changed(kubernetes_version="1.31", node_groups=[node_group(version="1.27")]),
        [
            E(
                f"{NG0}.version",
                "version-skew",
                "versions for cluster [1.31] and node group [1.27] are not compatible: "
                "the node group version "
                "may only be up to three minor versions older than the cluster version",
            )
        ],
    ),
    (
        "duplicate node group name",
        BASE,
        changed(node_groups=[node_group("a"), node_group("a")]),
        [
            E(
                f"{S}.nodeGroups[1].nodegroupName",
                "unique",
                f"node group name [a] is not unique within the cluster [{WHO}] to avoid duplication",
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
    (
        "noupdate node group subnets",
        BASE,
        changed_ng(0, subnets=["subnet-2"]),
        ng_noupdate(0, "ng1", "subnets"),
    ),
    (
        "noupdate node group nodeRole",
        BASE,
        changed_ng(0, node_role="arn:aws:iam::123456789012:role/other"),
        ng_noupdate(0, "ng1", "nodeRole"),
    ),
    (
        "noupdate node group requestSpotInstances",
        BASE,
        changed_ng(2, request_spot_instances=False, instance_type="t3.large", spot_instance_types=None),
        ng_noupdate(2, "spot", "requestSpotInstances"),
    ),
    (
        "noupdate node group spotInstanceTypes",
        BASE,
        changed_ng(2, spot_instance_types=["m5.large"]),
        ng_noupdate(2, "spot", "spotInstanceTypes"),
    ),
    (
        "noupdate node group launchTemplate.id",
        BASE,
        changed_ng(1, launch_template=LaunchTemplate(id="lt-other", version=3)),
        ng_noupdate(1, "lt", "launchTemplate.id"),
    ),
    (
        "value checks run on update too",
        BASE,
        changed_ng(0, max_size=0, min_size=0, desired_size=0),
        [E(f"{NG0}.maxSize", "range", "nodegroup [ng1] maxSize must be at least 1, got 0")],
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


# --- display-name uniqueness ----------------------------------------------------------------------------

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


# --- credentials ----------------------------------------------------------------------------------------

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def cred(**changes: object) -> Credential:
    base = Credential(namespace="ns", name="aws", access_key="AKIAIOSFODNN7EXAMPLE", secret_key=SECRET)
    return msgspec.structs.replace(base, **changes)


ROLE = "arn:aws:iam::123456789012:role/ops/eks-admin"

CREDENTIAL_CASES: list[tuple[str, Credential, list[FieldError]]] = [
    ("name", cred(name=""), [E("name", "required", "credential name is required")]),
    (
        "namespace",
        cred(namespace="a:b"),
        [E("namespace", "format", "credential namespace 'a:b' cannot contain ':'")],
    ),
    ("access key", cred(access_key=""), [E("accessKey", "required", "invalid aws cloud credential")]),
    ("secret key", cred(secret_key=""), [E("secretKey", "required", "invalid aws cloud credential")]),
    (
        "session token",
        cred(session_token=""),
        [E("sessionToken", "required", "sessionToken, when given, cannot be empty")],
    ),
    (
        "role ARN",
        cred(role_arn="arn:aws:iam::123:user/x"),
        [
            E(
                "roleArn",
                "format",
                "roleArn 'arn:aws:iam::123:user/x' is not an IAM role ARN "
                "(arn:aws:iam::<account>:role/<name>)",
            )
        ],
    ),
    (
        "external ID without role",
        cred(external_id="abc-123"),
        [E("externalId", "required", "externalId is only used when assuming a role; set roleArn too")],
    ),
    (
        "external ID format",
        cred(role_arn=ROLE, external_id="x"),
        [E("externalId", "format", "externalId must be 2-1224 letters, digits and +=,.@:/-")],
    ),
]


@pytest.mark.parametrize(
    ("credential", "expected"), [c[1:] for c in CREDENTIAL_CASES], ids=[c[0] for c in CREDENTIAL_CASES]
)
def test_validate_credential_messages(credential: Credential, expected: list[FieldError]) -> None:
    errors = validate_credential(credential)
    assert errors == expected
    assert all(SECRET not in e.message and "wJalr" not in e.message for e in errors)


def test_valid_credentials() -> None:
    assert validate_credential(cred()) == []
    assert validate_credential(cred(role_arn=ROLE, external_id="ext-id:1", session_token="tok")) == []
    assert validate_credential(cred(namespace="", role_arn="arn:aws-us-gov:iam::123456789012:role/x")) == []


# --- settings -------------------------------------------------------------------------------------------


def test_settings_registry() -> None:
    assert "eks-refresh-cron" in known_settings()
    assert validate_setting("eks-refresh-cron", "*/5 * * * *") == []
    assert validate_setting("eks-refresh-cron", "  ") == [
        E("eks-refresh-cron", "eks-refresh-cron", "value cannot be empty")
    ]
    assert validate_setting("nope", "x") == [
        E("nope", "unknown", "unknown setting 'nope'; known settings: eks-refresh-cron")
    ]


def test_register_setting_replaces_the_validator() -> None:
    name = "test-only-setting"
    register_setting(name, lambda v: None if v.isdigit() else f"{v!r} is not a number")
    try:
        assert validate_setting(name, "12") == []
        assert validate_setting(name, "x") == [E(name, name, "'x' is not a number")]
        assert name in known_settings()
    finally:
        _settings._SETTINGS.pop(name)
