"""Static validation of clusters, credentials and settings. Pure functions; nothing here does I/O.

Three sources of rules, each error tagged with the JSON path of the field and a short stable ``rule``:

* Rancher's API validator (``pkg/api/norman/customization/cluster/validator.go``) and eks-operator's
  ``validateCreate``/``validateUpdate``: their messages are reproduced verbatim (``[%s (id: %s)]`` is
  ``displayName`` and ``metadata.name``). Where Go returns the first failure we report every failure,
  but never two errors for one cause (e.g. an empty node group version gets Rancher's message only).
* Checks both skip although AWS rejects the request later anyway (sizes, log types, CIDRs, labels, tags,
  names, ...): reported up front with our own messages, for imported clusters too whenever the value is
  non-null, since a managed value of an imported cluster is pushed to AWS like any other.
* ``noupdate``: fields Rancher's API never lets change (``norman:"noupdate"``) and that the operator never
  pushes after create; we refuse a change of a managed value instead of silently ignoring it.

The checks that need I/O (an EKS cluster of the same name, an AWS account ID) are not here; the display-name
uniqueness among stored clusters is ``validate_unique_display_name``, given the other clusters.
"""

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
from ._credentials import validate_credential
from ._networking import (
    check_endpoint_access,
    check_ip_family,
    check_public_access_sources,
    check_subnets_with_security_groups,
)
from ._node_groups import (
    check_names_present,
    check_on_create,
    check_on_update,
    check_unique_names,
    check_versions_not_empty,
)
from ._node_groups import check_noupdate as check_noupdate_node_groups
from ._settings import SettingValidator, known_settings, register_setting, validate_setting
from ._tags_labels import check_tags

__all__ = [
    "LOGGING_TYPES",
    "FieldError",
    "SettingValidator",
    "known_settings",
    "register_setting",
    "validate_create",
    "validate_credential",
    "validate_setting",
    "validate_unique_display_name",
    "validate_update",
]

LOGGING_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

# --- syntax ---------------------------------------------------------------------------------------------

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_IAM_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")


# --- shared pieces --------------------------------------------------------------------------------------


def _check_metadata_and_policy(cluster: Cluster, e: Errors) -> None:
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


def _check_cluster_values(spec: EKSClusterConfigSpec, ip_family: str | None, e: Errors) -> None:
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


def _rancher_api_checks(spec: EKSClusterConfigSpec, old: EKSClusterConfigSpec | None, e: Errors) -> None:
    """Rancher's validator: run on non-import creates and on every update."""
    if spec.kubernetes_version == "":
        e.add(f"{SPEC}.kubernetesVersion", R_REQUIRED, "cluster kubernetes version cannot be empty string")
    check_versions_not_empty(spec, e)
    check_endpoint_access(spec, old, e)


# --- create ---------------------------------------------------------------------------------------------

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


def validate_create(cluster: Cluster) -> list[FieldError]:
    """Every reason ``cluster`` cannot be created (empty when it can). Never raises for invalid input."""
    e = Errors()
    spec = cluster.spec.eks_config
    imported = spec.imported
    _check_metadata_and_policy(cluster, e)
    check_names_present(spec, e)
    if not imported:  # Rancher skips its checks for imports ("createFromImport")
        _rancher_api_checks(spec, None, e)
        check_subnets_with_security_groups(spec, e)
        for field in _CLUSTER_NON_NIL:
            if json_value(spec, field) is None:
                e.add(
                    f"{SPEC}.{field}",
                    R_REQUIRED,
                    f"field [{field}] cannot be nil for non-import cluster [{who(cluster)}]",
                )
        if spec.secrets_encryption and not spec.kms_key:
            e.add(f"{SPEC}.kmsKey", R_REQUIRED, "kmsKey is required when secretsEncryption is true")
    if spec.kubernetes_version and not K8S_VERSION.match(spec.kubernetes_version):
        e.add(
            f"{SPEC}.kubernetesVersion",
            R_FORMAT,
            f"kubernetesVersion {spec.kubernetes_version!r} must be <major>.<minor>, e.g. 1.30",
        )
    _check_cluster_values(spec, spec.ip_family, e)
    check_unique_names(cluster, e)
    check_on_create(cluster, e)
    return e.items


# --- update ---------------------------------------------------------------------------------------------

_NOUPDATE_ALWAYS = ("displayName", "region", "imported")
"""Plain (never null) noupdate fields: any change is refused."""
_NOUPDATE_MANAGED = ("ipFamily", "secretsEncryption", "kmsKey", "subnets", "securityGroups", "serviceRole")
"""Nullable noupdate fields: a change between two managed (non-null, non-empty) values is refused; null or
empty means "unmanaged"/"generated", so adopting or releasing a value is allowed."""


def _check_noupdate(old: Cluster, new: Cluster, e: Errors) -> None:
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


def validate_update(old: Cluster, new: Cluster) -> list[FieldError]:
    """Every reason the spec change ``old`` -> ``new`` cannot be accepted (empty when it can)."""
    e = Errors()
    spec = new.spec.eks_config
    _check_metadata_and_policy(new, e)
    check_names_present(spec, e)
    _rancher_api_checks(spec, old.spec.eks_config, e)
    # eks-operator validateUpdate.
    cluster_minor: int | None = None
    version = spec.kubernetes_version
    if version:
        parsed = semver(version)
        if parsed is None:
            e.add(
                f"{SPEC}.kubernetesVersion",
                R_FORMAT,
                f"invalid version format for cluster [{who(new)}]: {version}",
            )
        else:
            cluster_minor = parsed[1]
            if not K8S_VERSION.match(version):
                e.add(
                    f"{SPEC}.kubernetesVersion",
                    R_FORMAT,
                    f"kubernetesVersion {version!r} must be <major>.<minor>, e.g. 1.30",
                )
    check_unique_names(new, e)
    check_on_update(new, cluster_minor, e)
    _check_noupdate(old, new, e)
    check_noupdate_node_groups(old, new, e)
    ip_family = spec.ip_family if spec.ip_family is not None else old.spec.eks_config.ip_family
    _check_cluster_values(spec, ip_family, e)
    return e.items


# --- uniqueness among stored clusters -------------------------------------------------------------------


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
