"""Node groups: names, versions, sizes, spot instances, roles, user data, and what never changes."""

from __future__ import annotations

from .._types import Cluster, EKSClusterConfigSpec, NodeGroup
from ._core import (
    EKS_NAME,
    K8S_VERSION,
    R_FORMAT,
    R_MIME,
    R_NOUPDATE,
    R_RANGE,
    R_REQUIRED,
    R_SIZE_ORDER,
    R_SPOT,
    R_UNIQUE,
    R_VERSION_MATCH,
    R_VERSION_SKEW,
    ROLE_ARN,
    SPEC,
    Errors,
    json_value,
    managed,
    semver,
    who,
)
from ._tags_labels import check_labels, check_tags

_MAX_DISK_GIB = 16384
_NG_NON_NIL = (
    "version",
    "minSize",
    "maxSize",
    "desiredSize",
    "gpu",
    "subnets",
    "tags",
    "labels",
    "requestSpotInstances",
)
_NG_NOUPDATE = ("subnets", "nodeRole", "requestSpotInstances", "spotInstanceTypes")
"""Node group fields the operator never updates after creation (section 6.2 step 11)."""


def check_names_present(spec: EKSClusterConfigSpec, e: Errors) -> None:
    # Rancher's API message; the CRD makes nodegroupName required for imported clusters too.
    for i, ng in enumerate(spec.node_groups or ()):
        if not ng.nodegroup_name:
            e.add(f"{SPEC}.nodeGroups[{i}].nodegroupName", R_REQUIRED, "nodegroupName cannot be an empty")


def check_versions_not_empty(spec: EKSClusterConfigSpec, e: Errors) -> None:
    """Rancher's validator: a node group version may be null but not ``""``."""
    for i, ng in enumerate(spec.node_groups or ()):
        p = f"{SPEC}.nodeGroups[{i}]"
        if ng.version == "":
            e.add(
                f"{p}.version",
                R_REQUIRED,
                f"nodegroup [{ng.nodegroup_name or ''}] version cannot be empty string",
            )


def check_unique_names(cluster: Cluster, e: Errors) -> None:
    seen: set[str] = set()
    for i, ng in enumerate(cluster.spec.eks_config.node_groups or ()):
        name = ng.nodegroup_name
        if not name:
            continue
        if name in seen:
            e.add(
                f"{SPEC}.nodeGroups[{i}].nodegroupName",
                R_UNIQUE,
                f"node group name [{name}] is not unique within the cluster [{who(cluster)}] "
                "to avoid duplication",
            )
        seen.add(name)


def _check_values(p: str, ng: NodeGroup, e: Errors, *, check_version: bool = True) -> None:
    """Syntax and consistency of every non-null node group value (what AWS or the operator rejects)."""
    name = ng.nodegroup_name or ""
    if name and (len(name) > 63 or not EKS_NAME.match(name)):
        e.add(
            f"{p}.nodegroupName",
            R_FORMAT,
            f"nodegroupName {name!r} must be 1-63 characters, start with a letter or digit and contain only "
            "letters, digits, '-' and '_'",
        )
    if check_version and ng.version and not K8S_VERSION.match(ng.version):
        e.add(
            f"{p}.version",
            R_FORMAT,
            f"nodegroup [{name}] version {ng.version!r} must be <major>.<minor>, e.g. 1.30",
        )
    lo, want, hi = ng.min_size, ng.desired_size, ng.max_size
    if lo is not None and lo < 0:
        e.add(f"{p}.minSize", R_RANGE, f"nodegroup [{name}] minSize must be at least 0, got {lo}")
    if want is not None and want < 0:
        e.add(f"{p}.desiredSize", R_RANGE, f"nodegroup [{name}] desiredSize must be at least 0, got {want}")
    if hi is not None and hi < 1:
        e.add(f"{p}.maxSize", R_RANGE, f"nodegroup [{name}] maxSize must be at least 1, got {hi}")
    if lo is not None and hi is not None and lo > hi:
        e.add(
            f"{p}.minSize",
            R_SIZE_ORDER,
            f"nodegroup [{name}] minSize ({lo}) must not be greater than maxSize ({hi})",
        )
    if want is not None and lo is not None and want < lo:
        e.add(
            f"{p}.desiredSize",
            R_SIZE_ORDER,
            f"nodegroup [{name}] desiredSize ({want}) must not be less than minSize ({lo})",
        )
    if want is not None and hi is not None and want > hi:
        e.add(
            f"{p}.desiredSize",
            R_SIZE_ORDER,
            f"nodegroup [{name}] desiredSize ({want}) must not be greater than maxSize ({hi})",
        )
    if ng.disk_size is not None and not 1 <= ng.disk_size <= _MAX_DISK_GIB:
        e.add(
            f"{p}.diskSize",
            R_RANGE,
            f"nodegroup [{name}] diskSize must be 1-{_MAX_DISK_GIB} GiB, got {ng.disk_size}",
        )
    if ng.spot_instance_types and not ng.request_spot_instances:
        e.add(
            f"{p}.spotInstanceTypes",
            R_SPOT,
            f"nodegroup [{name}]: spotInstanceTypes are only used when requestSpotInstances is true",
        )
    if ng.node_role and not ROLE_ARN.match(ng.node_role):
        e.add(
            f"{p}.nodeRole",
            R_FORMAT,
            f"nodegroup [{name}] nodeRole {ng.node_role!r} must be an IAM role ARN "
            "(arn:aws:iam::<account>:role/<name>)",
        )
    # The operator builds the managed launch template from userData only without a custom template.
    if ng.launch_template is None and ng.user_data and "Content-Type: multipart/mixed" not in ng.user_data:
        e.add(f"{p}.userData", R_MIME, f"userdata for nodegroup [{name}] is not of mime time multipart/mixed")
    check_labels(f"{p}.labels", ng.labels, e)
    check_tags(f"{p}.tags", ng.tags, e)
    check_tags(f"{p}.resourceTags", ng.resource_tags, e)


def _check_operator_create(cluster: Cluster, i: int, ng: NodeGroup, e: Errors) -> None:
    """eks-operator's per-node-group nil checks and spot rules (non-imported creates)."""
    p = f"{SPEC}.nodeGroups[{i}]"
    name = ng.nodegroup_name or ""

    def nil(field: str, path: str) -> None:
        e.add(
            path,
            R_REQUIRED,
            f"field [{field}] cannot be nil for nodegroup [{name}] in non-nil cluster [{who(cluster)}]",
        )

    if ng.launch_template is not None:
        if ng.launch_template.id is None:
            nil("launchTemplate.ID", f"{p}.launchTemplate.id")
        if ng.launch_template.version is None:
            nil("launchTemplate.Version", f"{p}.launchTemplate.version")
    else:
        for field in ("ec2SshKey", "resourceTags", "diskSize"):
            if json_value(ng, field) is None:
                nil(field, f"{p}.{field}")
        spot = bool(ng.request_spot_instances)
        if not ng.instance_type and (not spot or ng.arm):
            nil("instanceType", f"{p}.instanceType")
    for field in _NG_NON_NIL:
        if json_value(ng, field) is None:
            nil(field, f"{p}.{field}")
    if ng.request_spot_instances:
        if not ng.spot_instance_types:
            e.add(
                f"{p}.spotInstanceTypes",
                R_SPOT,
                f"nodegroup [{name}] in cluster [{who(cluster)}]: spotInstanceTypes must be specified when "
                "requesting spot instances",
            )
        if ng.instance_type:
            e.add(
                f"{p}.instanceType",
                R_SPOT,
                f"nodegroup [{name}] in cluster [{who(cluster)}]: instance type should not be specified "
                "when requestSpotInstances is specified, use spotInstanceTypes instead",
            )


def check_on_create(cluster: Cluster, e: Errors) -> None:
    """Each node group of a new cluster: the operator's checks, then the values."""
    spec = cluster.spec.eks_config
    imported = spec.imported
    for i, ng in enumerate(spec.node_groups or ()):
        p = f"{SPEC}.nodeGroups[{i}]"
        if not imported:
            _check_operator_create(cluster, i, ng, e)
        # Version equality (operator, imported too). Skipped where another message already covers the
        # cause (a nil or "" version on a non-import create) and, for a nil cluster version, where Go panics.
        cluster_version = spec.kubernetes_version
        covered = not imported and not (ng.version and cluster_version)
        if cluster_version is not None and not covered and (ng.version or "") != cluster_version:
            e.add(
                f"{p}.version",
                R_VERSION_MATCH,
                f"nodegroup [{ng.nodegroup_name or ''}] version must match cluster [{who(cluster)}] "
                "version on create",
            )
        _check_values(p, ng, e)


def check_on_update(new: Cluster, cluster_minor: int | None, e: Errors) -> None:
    """Each node group of an updated cluster: the operator's version checks, then the values.

    ``cluster_minor`` is the cluster version's minor number, None when it is unset or not semver.
    """
    version = new.spec.eks_config.kubernetes_version
    for i, ng in enumerate(new.spec.eks_config.node_groups or ()):
        p = f"{SPEC}.nodeGroups[{i}]"
        name = ng.nodegroup_name or ""
        semver_ok = True
        if ng.version:
            parsed_ng = semver(ng.version)
            if parsed_ng is None:
                e.add(
                    f"{p}.version", R_FORMAT, f"invalid version format for node group [{name}]: {ng.version}"
                )
                semver_ok = False  # our own <major>.<minor> message would repeat this one
            elif (
                cluster_minor is not None
                and version is not None
                and ng.version != version
                and cluster_minor - parsed_ng[1] > 3
            ):
                e.add(
                    f"{p}.version",
                    R_VERSION_SKEW,
                    f"versions for cluster [{version}] and node group [{ng.version}] are not compatible: "
                    "the node group version may only be up to three minor versions older than the "
                    "cluster version",
                )
        _check_values(p, ng, e, check_version=semver_ok)


def check_noupdate(old: Cluster, new: Cluster, e: Errors) -> None:
    """Node groups kept across the update (same name) keep their create-only fields."""
    old_groups = {ng.nodegroup_name: ng for ng in old.spec.eks_config.node_groups or () if ng.nodegroup_name}
    for i, ng in enumerate(new.spec.eks_config.node_groups or ()):
        prev = old_groups.get(ng.nodegroup_name or "")
        if prev is None:
            continue
        p = f"{SPEC}.nodeGroups[{i}]"
        for field in _NG_NOUPDATE:
            before, after = managed(json_value(prev, field)), managed(json_value(ng, field))
            if before is not None and after is not None and before != after:
                e.add(
                    f"{p}.{field}",
                    R_NOUPDATE,
                    f"cannot modify EKS nodegroup [{ng.nodegroup_name}] {field} after creation",
                )
        if prev.launch_template is not None and ng.launch_template is not None:
            before_id, after_id = prev.launch_template.id, ng.launch_template.id
            if before_id and after_id and before_id != after_id:
                e.add(
                    f"{p}.launchTemplate.id",
                    R_NOUPDATE,
                    f"cannot modify EKS nodegroup [{ng.nodegroup_name}] launchTemplate.id after creation",
                )
