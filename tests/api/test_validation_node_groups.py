"""Node group rules: names, versions, sizes, spot, roles, user data, nil checks and noupdate."""

from __future__ import annotations

import msgspec
import pytest

from controlplane.api import Cluster, FieldError, LaunchTemplate, validate_create, validate_update

from ._fixtures import cluster, lt_node_group, node_group, spec, spot_node_group
from ._validation_cases import (
    BASE,
    NG0,
    WHO,
    E,
    S,
    bare,
    changed,
    changed_ng,
    imported_ng,
    ng_noupdate,
    nil_ng,
    with_ng,
)

CREATE_CASES: list[tuple[str, Cluster, list[FieldError]]] = [
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
]


@pytest.mark.parametrize(
    ("cluster_", "expected"), [c[1:] for c in CREATE_CASES], ids=[c[0] for c in CREATE_CASES]
)
def test_validate_create_messages(cluster_: Cluster, expected: list[FieldError]) -> None:
    assert validate_create(cluster_) == expected


UPDATE_CASES: list[tuple[str, Cluster, Cluster, list[FieldError]]] = [
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
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in UPDATE_CASES], ids=[c[0] for c in UPDATE_CASES]
)
def test_validate_update_messages(old: Cluster, new: Cluster, expected: list[FieldError]) -> None:
    assert validate_update(old, new) == expected
