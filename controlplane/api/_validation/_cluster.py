"""The cluster itself: name, sync policy, EKS name, region, version, roles, logging, encryption, noupdate."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .._types import Cluster, ClusterSpec, EKSClusterConfigSpec, Metadata, SyncPolicy
from ._core import (
    DNS1123_SUBDOMAIN,
    EKS_NAME,
    K8S_VERSION,
    R_ENUM,
    R_FORMAT,
    R_NOUPDATE,
    R_REQUIRED,
    R_UNIQUE,
    SPEC,
    FieldError,
    json_value,
    managed,
    quote,
    semver,
    who,
)
from ._networking import check_ip_family, check_public_access_sources
from ._rules import Errors, Length, OneOf, Pattern, rule
from ._tags_labels import check_tags

LOGGING_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

_CLUSTER_NON_NIL = (
    "kubernetesVersion",
    "privateAccess",
    "publicAccess",
    "secretsEncryption",
    "tags",
    "subnets",
    "securityGroups",
    "loggingTypes",
    "publicAccessSources",
)
_NOUPDATE_ALWAYS = ("displayName", "region", "imported")
"""Plain (never null) noupdate fields: any change is refused."""
_NOUPDATE_MANAGED = ("ipFamily", "secretsEncryption", "kmsKey", "subnets", "securityGroups", "serviceRole")
"""Nullable noupdate fields: a change between two managed (non-null, non-empty) values is refused; null or
empty means "unmanaged"/"generated", so adopting or releasing a value is allowed."""

_NAME = (Metadata, "name")
_DISPLAY_NAME = (EKSClusterConfigSpec, "displayName")
_VERSION = (EKSClusterConfigSpec, "kubernetesVersion")
_SERVICE_ROLE = (EKSClusterConfigSpec, "serviceRole")

NAME_REQUIRED = rule(R_REQUIRED, "metadata.name is required", _NAME)
NAME_FORMAT = rule(
    R_FORMAT,
    "metadata.name {value!r} must be a DNS-1123 subdomain: at most {max_length} lowercase letters, digits, "
    "'-' and '.', starting and ending with a letter or digit",
    _NAME,
    constraints=(Length(max_length=253), Pattern(DNS1123_SUBDOMAIN)),
    empty_ok=True,
)
# No constraint: the SyncPolicy type publishes the enum, and decoding refuses other values first.
SYNC_POLICY = rule(R_ENUM, "syncPolicy {value} must be one of {values}", (ClusterSpec, "syncPolicy"))
DISPLAY_NAME_REQUIRED = rule(
    R_REQUIRED, "displayName (the EKS cluster name) is required", _DISPLAY_NAME, constraints=(Length(1),)
)
DISPLAY_NAME_FORMAT = rule(
    R_FORMAT,
    "displayName {value!r} must be {min_length}-{max_length} characters, start with a letter or digit and "
    "contain only letters, digits, '-' and '_'",
    _DISPLAY_NAME,
    constraints=(Length(1, 100), Pattern(EKS_NAME)),
    empty_ok=True,
)
DISPLAY_NAME_UNIQUE = rule(
    R_UNIQUE,
    "cluster already exists for EKS cluster [{name}] in region [{region}]",
    _DISPLAY_NAME,
    origin="rancher",
)
REGION_REQUIRED = rule(
    R_REQUIRED,
    "region is required: set it in the manifest (the service has no default AWS region to fill in, from "
    "AWS_DEFAULT_REGION or the AWS config file)",
    (EKSClusterConfigSpec, "region"),
)
REGION = rule(
    R_FORMAT,
    "region {value!r} is not an AWS region name (e.g. us-east-1)",
    (EKSClusterConfigSpec, "region"),
    # Every partition's regions: us-east-1, us-isob-east-1, eusc-de-east-1 (a 4-letter area).
    constraints=(Pattern(r"^[a-z]{2,4}(-[a-z]+)+-\d+$"),),
    empty_ok=True,
)
SERVICE_ROLE_NOT_ARN = rule(
    R_FORMAT, "serviceRole {value!r} must be an IAM role name, not an ARN", _SERVICE_ROLE
)
SERVICE_ROLE_FORMAT = rule(
    R_FORMAT,
    "serviceRole {value!r} must be an IAM role name: 1-64 letters, digits and +=,.@_-",
    _SERVICE_ROLE,
    constraints=(Pattern(r"^[\w+=,.@-]{1,64}$"),),
    empty_ok=True,
)
LOGGING_TYPE = rule(
    R_ENUM,
    "loggingTypes[{index}] {value!r} is not a control plane log type; valid types are {values}",
    (EKSClusterConfigSpec, "loggingTypes"),
    constraints=(OneOf(LOGGING_TYPES),),
    part="items",
)
VERSION_NOT_EMPTY = rule(
    R_REQUIRED, "cluster kubernetes version cannot be empty string", _VERSION, origin="rancher"
)
VERSION_FORMAT = rule(
    R_FORMAT,
    "kubernetesVersion {value!r} must be <major>.<minor>, e.g. 1.30",
    _VERSION,
    constraints=(Pattern(K8S_VERSION),),
    empty_ok=True,
)
VERSION_SEMVER = rule(
    R_FORMAT, "invalid version format for cluster [{who}]: {value}", _VERSION, origin="eks-operator"
)
NOT_NIL = rule(
    R_REQUIRED,
    "field [{field}] cannot be nil for non-import cluster [{who}]",
    *((EKSClusterConfigSpec, field) for field in _CLUSTER_NON_NIL),
    origin="eks-operator",
)
KMS_KEY = rule(
    R_REQUIRED, "kmsKey is required when secretsEncryption is true", (EKSClusterConfigSpec, "kmsKey")
)
NOUPDATE = rule(
    R_NOUPDATE,
    "cannot modify EKS {field} after creation",
    *((EKSClusterConfigSpec, field) for field in _NOUPDATE_ALWAYS + _NOUPDATE_MANAGED),
)


def check_metadata_and_policy(cluster: Cluster, e: Errors) -> None:
    name = cluster.metadata.name
    if not name:
        e.add(NAME_REQUIRED, "metadata.name")
    elif not NAME_FORMAT.allows(name):
        e.add(NAME_FORMAT, "metadata.name", value=name)
    policy = cluster.spec.sync_policy
    if policy not in SyncPolicy.__members__.values():
        valid = ", ".join(p.value for p in SyncPolicy)
        e.add(SYNC_POLICY, "spec.syncPolicy", value=quote(policy), values=valid)


def check_values(spec: EKSClusterConfigSpec, ip_family: str | None, e: Errors) -> None:
    """Syntax of every non-null cluster-level value: what AWS would reject (imported clusters too)."""
    name = spec.display_name
    if not DISPLAY_NAME_REQUIRED.allows(name):
        e.add(DISPLAY_NAME_REQUIRED, f"{SPEC}.displayName")
    elif not DISPLAY_NAME_FORMAT.allows(name):
        e.add(DISPLAY_NAME_FORMAT, f"{SPEC}.displayName", value=name)
    if not spec.region:
        e.add(REGION_REQUIRED, f"{SPEC}.region")
    elif not REGION.allows(spec.region):
        e.add(REGION, f"{SPEC}.region", value=spec.region)
    check_ip_family(spec, e)
    if spec.service_role:
        if spec.service_role.startswith("arn:"):
            e.add(SERVICE_ROLE_NOT_ARN, f"{SPEC}.serviceRole", value=spec.service_role)
        elif not SERVICE_ROLE_FORMAT.allows(spec.service_role):
            e.add(SERVICE_ROLE_FORMAT, f"{SPEC}.serviceRole", value=spec.service_role)
    for i, log_type in enumerate(spec.logging_types or ()):
        if not LOGGING_TYPE.allows(log_type):
            e.add(LOGGING_TYPE, f"{SPEC}.loggingTypes[{i}]", index=i, value=log_type)
    check_public_access_sources(spec, ip_family, e)
    check_tags(f"{SPEC}.tags", spec.tags, e)


def check_version_not_empty(spec: EKSClusterConfigSpec, e: Errors) -> None:
    """Rancher's validator: the cluster version may be null but not ``""``."""
    if spec.kubernetes_version == "":
        e.add(VERSION_NOT_EMPTY, f"{SPEC}.kubernetesVersion")


def check_operator_create(cluster: Cluster, e: Errors) -> None:
    """eks-operator's nil checks of a non-imported cluster, in its order; then the KMS key AWS needs."""
    spec = cluster.spec.eks_config
    for field in _CLUSTER_NON_NIL:
        if json_value(spec, field) is None:
            e.add(NOT_NIL, f"{SPEC}.{field}", field=field, who=who(cluster))
    if spec.secrets_encryption and not spec.kms_key:
        e.add(KMS_KEY, f"{SPEC}.kmsKey")


def check_version_on_create(spec: EKSClusterConfigSpec, e: Errors) -> None:
    if not VERSION_FORMAT.allows(spec.kubernetes_version):
        e.add(VERSION_FORMAT, f"{SPEC}.kubernetesVersion", value=spec.kubernetes_version)


def check_version_on_update(new: Cluster, e: Errors) -> int | None:
    """eks-operator's validateUpdate of the cluster version; its minor number when it is semver."""
    version = new.spec.eks_config.kubernetes_version
    if not version:
        return None
    parsed = semver(version)
    if parsed is None:
        e.add(VERSION_SEMVER, f"{SPEC}.kubernetesVersion", who=who(new), value=version)
        return None
    if not VERSION_FORMAT.allows(version):
        e.add(VERSION_FORMAT, f"{SPEC}.kubernetesVersion", value=version)
    return parsed[1]


def check_noupdate(old: Cluster, new: Cluster, e: Errors) -> None:
    o, n = old.spec.eks_config, new.spec.eks_config
    for field in _NOUPDATE_ALWAYS:
        if json_value(o, field) != json_value(n, field):
            e.add(NOUPDATE, f"{SPEC}.{field}", field=field)
    for field in _NOUPDATE_MANAGED:
        before, after = managed(json_value(o, field)), managed(json_value(n, field))
        if field == "ipFamily" and isinstance(before, str) and isinstance(after, str):
            before, after = before.lower(), after.lower()  # the operator compares case-insensitively
        if before is not None and after is not None and before != after:
            e.add(NOUPDATE, f"{SPEC}.{field}", field=field)


def validate_unique_display_name(
    cluster: Cluster, others: Iterable[Cluster], accounts: Mapping[str, str] | None = None
) -> list[FieldError]:
    """Rancher's create-time duplicate check: another cluster with the same ``displayName`` and ``region``
    on the same credential, or on a credential of the same AWS account.

    ``accounts`` maps ``amazonCredentialSecret`` references to AWS account IDs the caller resolved (STS
    ``GetCallerIdentity``); a missing or empty ID counts as a different account, as in Rancher.
    """
    spec = cluster.spec.eks_config
    accounts = accounts or {}
    mine = accounts.get(spec.amazon_credential_secret, "")
    for other in others:
        o = other.spec.eks_config
        if other.metadata.name == cluster.metadata.name:
            continue
        if o.display_name != spec.display_name or o.region != spec.region:
            continue
        theirs = accounts.get(o.amazon_credential_secret, "")
        if o.amazon_credential_secret == spec.amazon_credential_secret or (mine and mine == theirs):
            return [
                DISPLAY_NAME_UNIQUE.error(f"{SPEC}.displayName", name=spec.display_name, region=spec.region)
            ]
    return []
