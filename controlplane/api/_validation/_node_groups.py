"""Node groups: names, versions, sizes, spot instances, roles, user data, and what never changes."""

from __future__ import annotations

from .._types import Cluster, EKSClusterConfigSpec, LaunchTemplate, NodeGroup
from . import _taints
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
    json_value,
    managed,
    semver,
    who,
)
from ._rules import Errors, Length, Pattern, Range, rule
from ._tags_labels import check_labels, check_tags

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
_NG_NON_NIL_WITHOUT_TEMPLATE = ("ec2SshKey", "resourceTags", "diskSize")
_NG_NOUPDATE = ("subnets", "nodeRole", "requestSpotInstances", "spotInstanceTypes")
"""Node group fields the operator never updates after creation (section 6.2 step 11)."""

_NAME = (NodeGroup, "nodegroupName")
_VERSION = (NodeGroup, "version")
_SPOT_TYPES = (NodeGroup, "spotInstanceTypes")

NAME_REQUIRED = rule(
    R_REQUIRED, "nodegroupName cannot be an empty", _NAME, origin="rancher", constraints=(Length(1),)
)
NAME_UNIQUE = rule(
    R_UNIQUE,
    "node group name [{name}] is not unique within the cluster [{who}] to avoid duplication",
    _NAME,
    origin="eks-operator",
)
NAME_FORMAT = rule(
    R_FORMAT,
    "nodegroupName {value!r} must be {min_length}-{max_length} characters, start with a letter or digit and "
    "contain only letters, digits, '-' and '_'",
    _NAME,
    constraints=(Length(1, 63), Pattern(EKS_NAME)),
    empty_ok=True,
)
VERSION_NOT_EMPTY = rule(
    R_REQUIRED, "nodegroup [{name}] version cannot be empty string", _VERSION, origin="rancher"
)
VERSION_FORMAT = rule(
    R_FORMAT,
    "nodegroup [{name}] version {value!r} must be <major>.<minor>, e.g. 1.30",
    _VERSION,
    constraints=(Pattern(K8S_VERSION),),
    empty_ok=True,
)
VERSION_SEMVER = rule(
    R_FORMAT, "invalid version format for node group [{name}]: {value}", _VERSION, origin="eks-operator"
)
VERSION_MATCH = rule(
    R_VERSION_MATCH,
    "nodegroup [{name}] version must match cluster [{who}] version on create",
    _VERSION,
    origin="eks-operator",
)
VERSION_SKEW = rule(
    R_VERSION_SKEW,
    "versions for cluster [{cluster_version}] and node group [{value}] are not compatible: the node group "
    "version may only be up to three minor versions older than the cluster version",
    _VERSION,
    origin="eks-operator",
)
MIN_SIZE = rule(
    R_RANGE,
    "nodegroup [{name}] minSize must be at least {minimum}, got {value}",
    (NodeGroup, "minSize"),
    constraints=(Range(0),),
)
DESIRED_SIZE = rule(
    R_RANGE,
    "nodegroup [{name}] desiredSize must be at least {minimum}, got {value}",
    (NodeGroup, "desiredSize"),
    constraints=(Range(0),),
)
MAX_SIZE = rule(
    R_RANGE,
    "nodegroup [{name}] maxSize must be at least {minimum}, got {value}",
    (NodeGroup, "maxSize"),
    constraints=(Range(1),),
)
MIN_ABOVE_MAX = rule(
    R_SIZE_ORDER,
    "nodegroup [{name}] minSize ({low}) must not be greater than maxSize ({high})",
    (NodeGroup, "minSize"),
)
DESIRED_BELOW_MIN = rule(
    R_SIZE_ORDER,
    "nodegroup [{name}] desiredSize ({value}) must not be less than minSize ({low})",
    (NodeGroup, "desiredSize"),
)
DESIRED_ABOVE_MAX = rule(
    R_SIZE_ORDER,
    "nodegroup [{name}] desiredSize ({value}) must not be greater than maxSize ({high})",
    (NodeGroup, "desiredSize"),
)
DISK_SIZE = rule(
    R_RANGE,
    "nodegroup [{name}] diskSize must be {minimum}-{maximum} GiB, got {value}",
    (NodeGroup, "diskSize"),
    constraints=(Range(1, 16384),),
)
SPOT_TYPES_WITHOUT_SPOT = rule(
    R_SPOT,
    "nodegroup [{name}]: spotInstanceTypes are only used when requestSpotInstances is true",
    _SPOT_TYPES,
)
NODE_ROLE = rule(
    R_FORMAT,
    "nodegroup [{name}] nodeRole {value!r} must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
    (NodeGroup, "nodeRole"),
    constraints=(Pattern(ROLE_ARN),),
    empty_ok=True,
)
USER_DATA_MIME = rule(
    R_MIME,
    "userdata for nodegroup [{name}] is not of mime time multipart/mixed",
    (NodeGroup, "userData"),
    origin="eks-operator",
)
NOT_NIL = rule(
    R_REQUIRED,
    "field [{field}] cannot be nil for nodegroup [{name}] in non-nil cluster [{who}]",
    (LaunchTemplate, "id"),
    (LaunchTemplate, "version"),
    *((NodeGroup, field) for field in (*_NG_NON_NIL_WITHOUT_TEMPLATE, "instanceType", *_NG_NON_NIL)),
    origin="eks-operator",
)
SPOT_TYPES_REQUIRED = rule(
    R_SPOT,
    "nodegroup [{name}] in cluster [{who}]: spotInstanceTypes must be specified when requesting spot "
    "instances",
    _SPOT_TYPES,
    origin="eks-operator",
)
SPOT_INSTANCE_TYPE = rule(
    R_SPOT,
    "nodegroup [{name}] in cluster [{who}]: instance type should not be specified when "
    "requestSpotInstances is specified, use spotInstanceTypes instead",
    (NodeGroup, "instanceType"),
    origin="eks-operator",
)
NOUPDATE = rule(
    R_NOUPDATE,
    "cannot modify EKS nodegroup [{name}] {field} after creation",
    *((NodeGroup, field) for field in _NG_NOUPDATE),
    (LaunchTemplate, "id"),
)


def check_names_present(spec: EKSClusterConfigSpec, e: Errors) -> None:
    # Rancher's API message; the CRD makes nodegroupName required for imported clusters too.
    for i, ng in enumerate(spec.node_groups or ()):
        if ng.nodegroup_name is None or not NAME_REQUIRED.allows(ng.nodegroup_name):
            e.add(NAME_REQUIRED, f"{SPEC}.nodeGroups[{i}].nodegroupName")


def check_versions_not_empty(spec: EKSClusterConfigSpec, e: Errors) -> None:
    """Rancher's validator: a node group version may be null but not ``""``."""
    for i, ng in enumerate(spec.node_groups or ()):
        if ng.version == "":
            e.add(VERSION_NOT_EMPTY, f"{SPEC}.nodeGroups[{i}].version", name=ng.nodegroup_name or "")


def check_unique_names(cluster: Cluster, e: Errors) -> None:
    seen: set[str] = set()
    for i, ng in enumerate(cluster.spec.eks_config.node_groups or ()):
        name = ng.nodegroup_name
        if not name:
            continue
        if name in seen:
            e.add(NAME_UNIQUE, f"{SPEC}.nodeGroups[{i}].nodegroupName", name=name, who=who(cluster))
        seen.add(name)


def _check_values(p: str, ng: NodeGroup, e: Errors, *, check_version: bool = True) -> None:
    """Syntax and consistency of every non-null node group value (what AWS or the operator rejects)."""
    name = ng.nodegroup_name or ""
    if not NAME_FORMAT.allows(name):
        e.add(NAME_FORMAT, f"{p}.nodegroupName", value=name)
    if check_version and not VERSION_FORMAT.allows(ng.version):
        e.add(VERSION_FORMAT, f"{p}.version", name=name, value=ng.version)
    lo, want, hi = ng.min_size, ng.desired_size, ng.max_size
    sizes = ((MIN_SIZE, "minSize", lo), (DESIRED_SIZE, "desiredSize", want), (MAX_SIZE, "maxSize", hi))
    for size_rule, field, size in sizes:
        if not size_rule.allows(size):
            e.add(size_rule, f"{p}.{field}", name=name, value=size)
    if lo is not None and hi is not None and lo > hi:
        e.add(MIN_ABOVE_MAX, f"{p}.minSize", name=name, low=lo, high=hi)
    if want is not None and lo is not None and want < lo:
        e.add(DESIRED_BELOW_MIN, f"{p}.desiredSize", name=name, value=want, low=lo)
    if want is not None and hi is not None and want > hi:
        e.add(DESIRED_ABOVE_MAX, f"{p}.desiredSize", name=name, value=want, high=hi)
    if not DISK_SIZE.allows(ng.disk_size):
        e.add(DISK_SIZE, f"{p}.diskSize", name=name, value=ng.disk_size)
    if ng.spot_instance_types and not ng.request_spot_instances:
        e.add(SPOT_TYPES_WITHOUT_SPOT, f"{p}.spotInstanceTypes", name=name)
    if not NODE_ROLE.allows(ng.node_role):
        e.add(NODE_ROLE, f"{p}.nodeRole", name=name, value=ng.node_role)
    # The operator builds the managed launch template from userData only without a custom template.
    if ng.launch_template is None and ng.user_data and "Content-Type: multipart/mixed" not in ng.user_data:
        e.add(USER_DATA_MIME, f"{p}.userData", name=name)
    check_labels(f"{p}.labels", ng.labels, e)
    check_tags(f"{p}.tags", ng.tags, e)
    check_tags(f"{p}.resourceTags", ng.resource_tags, e)
    _taints.check(p, ng, e)


def _check_operator_create(cluster: Cluster, i: int, ng: NodeGroup, e: Errors) -> None:
    """eks-operator's per-node-group nil checks and spot rules (non-imported creates)."""
    p = f"{SPEC}.nodeGroups[{i}]"
    name = ng.nodegroup_name or ""
    owner = who(cluster)

    def nil(field: str, path: str) -> None:
        e.add(NOT_NIL, path, field=field, name=name, who=owner)

    if ng.launch_template is not None:
        if ng.launch_template.id is None:
            nil("launchTemplate.ID", f"{p}.launchTemplate.id")
        if ng.launch_template.version is None:
            nil("launchTemplate.Version", f"{p}.launchTemplate.version")
    else:
        for field in _NG_NON_NIL_WITHOUT_TEMPLATE:
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
            e.add(SPOT_TYPES_REQUIRED, f"{p}.spotInstanceTypes", name=name, who=owner)
        if ng.instance_type:
            e.add(SPOT_INSTANCE_TYPE, f"{p}.instanceType", name=name, who=owner)


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
            e.add(VERSION_MATCH, f"{p}.version", name=ng.nodegroup_name or "", who=who(cluster))
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
                e.add(VERSION_SEMVER, f"{p}.version", name=name, value=ng.version)
                semver_ok = False  # our own <major>.<minor> message would repeat this one
            elif (
                cluster_minor is not None
                and version is not None
                and ng.version != version
                and cluster_minor - parsed_ng[1] > 3
            ):
                e.add(VERSION_SKEW, f"{p}.version", cluster_version=version, value=ng.version)
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
                e.add(NOUPDATE, f"{p}.{field}", name=ng.nodegroup_name, field=field)
        if prev.launch_template is not None and ng.launch_template is not None:
            before_id, after_id = prev.launch_template.id, ng.launch_template.id
            if before_id and after_id and before_id != after_id:
                e.add(NOUPDATE, f"{p}.launchTemplate.id", name=ng.nodegroup_name, field="launchTemplate.id")
