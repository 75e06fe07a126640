"""The cluster itself: name, sync policy, EKS name, region, version, roles, logging, encryption, noupdate."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .._types import Cluster, EKSClusterConfigSpec, SyncPolicy
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
    Errors,
    FieldError,
    json_value,
    managed,
    quote,
    semver,
    who,
)
from ._networking import check_ip_family, check_public_access_sources
from ._tags_labels import check_tags

LOGGING_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_IAM_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")

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


def check_metadata_and_policy(cluster: Cluster, e: Errors) -> None:
    name = cluster.metadata.name
    if not name:
        e.add("metadata.name", R_REQUIRED, "metadata.name is required")
    elif len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        e.add(
            "metadata.name",
            R_FORMAT,
            f"metadata.name {name!r} must be a DNS-1123 subdomain: at most 253 lowercase letters, digits, "
            "'-' and '.', starting and ending with a letter or digit",
        )
    policy = cluster.spec.sync_policy
    if policy not in SyncPolicy.__members__.values():
        valid = ", ".join(p.value for p in SyncPolicy)
        e.add("spec.syncPolicy", R_ENUM, f"syncPolicy {quote(policy)} must be one of {valid}")


def check_values(spec: EKSClusterConfigSpec, ip_family: str | None, e: Errors) -> None:
    """Syntax of every non-null cluster-level value: what AWS would reject (imported clusters too)."""
    name = spec.display_name
    if not name:
        e.add(f"{SPEC}.displayName", R_REQUIRED, "displayName (the EKS cluster name) is required")
    elif len(name) > 100 or not EKS_NAME.match(name):
        e.add(
            f"{SPEC}.displayName",
            R_FORMAT,
            f"displayName {name!r} must be 1-100 characters, start with a letter or digit and contain only "
            "letters, digits, '-' and '_'",
        )
    if spec.region and not _REGION.match(spec.region):
        e.add(
            f"{SPEC}.region", R_FORMAT, f"region {spec.region!r} is not an AWS region name (e.g. us-east-1)"
        )
    check_ip_family(spec, e)
    if spec.service_role:
        if spec.service_role.startswith("arn:"):
            e.add(
                f"{SPEC}.serviceRole",
                R_FORMAT,
                f"serviceRole {spec.service_role!r} must be an IAM role name, not an ARN",
            )
        elif not _IAM_NAME.match(spec.service_role):
            e.add(
                f"{SPEC}.serviceRole",
                R_FORMAT,
                f"serviceRole {spec.service_role!r} must be an IAM role name: "
                "1-64 letters, digits and +=,.@_-",
            )
    for i, log_type in enumerate(spec.logging_types or ()):
        if log_type not in LOGGING_TYPES:
            e.add(
                f"{SPEC}.loggingTypes[{i}]",
                R_ENUM,
                f"loggingTypes[{i}] {log_type!r} is not a control plane log type; valid types are "
                + ", ".join(LOGGING_TYPES),
            )
    check_public_access_sources(spec, ip_family, e)
    check_tags(f"{SPEC}.tags", spec.tags, e)


def check_version_not_empty(spec: EKSClusterConfigSpec, e: Errors) -> None:
    """Rancher's validator: the cluster version may be null but not ``""``."""
    if spec.kubernetes_version == "":
        e.add(f"{SPEC}.kubernetesVersion", R_REQUIRED, "cluster kubernetes version cannot be empty string")


def check_operator_create(cluster: Cluster, e: Errors) -> None:
    """eks-operator's nil checks of a non-imported cluster, in its order; then the KMS key AWS needs."""
    spec = cluster.spec.eks_config
    for field in _CLUSTER_NON_NIL:
        if json_value(spec, field) is None:
            e.add(
                f"{SPEC}.{field}",
                R_REQUIRED,
                f"field [{field}] cannot be nil for non-import cluster [{who(cluster)}]",
            )
    if spec.secrets_encryption and not spec.kms_key:
        e.add(f"{SPEC}.kmsKey", R_REQUIRED, "kmsKey is required when secretsEncryption is true")


def check_version_on_create(spec: EKSClusterConfigSpec, e: Errors) -> None:
    if spec.kubernetes_version and not K8S_VERSION.match(spec.kubernetes_version):
        e.add(
            f"{SPEC}.kubernetesVersion",
            R_FORMAT,
            f"kubernetesVersion {spec.kubernetes_version!r} must be <major>.<minor>, e.g. 1.30",
        )


def check_version_on_update(new: Cluster, e: Errors) -> int | None:
    """eks-operator's validateUpdate of the cluster version; its minor number when it is semver."""
    version = new.spec.eks_config.kubernetes_version
    if not version:
        return None
    parsed = semver(version)
    if parsed is None:
        e.add(
            f"{SPEC}.kubernetesVersion",
            R_FORMAT,
            f"invalid version format for cluster [{who(new)}]: {version}",
        )
        return None
    if not K8S_VERSION.match(version):
        e.add(
            f"{SPEC}.kubernetesVersion",
            R_FORMAT,
            f"kubernetesVersion {version!r} must be <major>.<minor>, e.g. 1.30",
        )
    return parsed[1]


def check_noupdate(old: Cluster, new: Cluster, e: Errors) -> None:
    o, n = old.spec.eks_config, new.spec.eks_config
    for field in _NOUPDATE_ALWAYS:
        if json_value(o, field) != json_value(n, field):
            e.add(f"{SPEC}.{field}", R_NOUPDATE, f"cannot modify EKS {field} after creation")
    for field in _NOUPDATE_MANAGED:
        before, after = managed(json_value(o, field)), managed(json_value(n, field))
        if field == "ipFamily" and isinstance(before, str) and isinstance(after, str):
            before, after = before.lower(), after.lower()  # the operator compares case-insensitively
        if before is not None and after is not None and before != after:
            e.add(f"{SPEC}.{field}", R_NOUPDATE, f"cannot modify EKS {field} after creation")


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
                FieldError(
                    path=f"{SPEC}.displayName",
                    rule=R_UNIQUE,
                    message=f"cluster already exists for EKS cluster [{spec.display_name}] "
                    f"in region [{spec.region}]",
                )
            ]
    return []
