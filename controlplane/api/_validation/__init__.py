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

from .._types import Cluster, EKSClusterConfigSpec
from ._cluster import (
    LOGGING_TYPES,
    check_metadata_and_policy,
    check_operator_create,
    check_version_not_empty,
    check_version_on_create,
    check_version_on_update,
    validate_unique_display_name,
)
from ._cluster import check_noupdate as check_noupdate_cluster
from ._cluster import check_values as check_cluster_values
from ._core import (
    Errors,
    FieldError,
)
from ._credentials import validate_credential
from ._networking import (
    check_endpoint_access,
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


def _rancher_api_checks(spec: EKSClusterConfigSpec, old: EKSClusterConfigSpec | None, e: Errors) -> None:
    """Rancher's validator: run on non-import creates and on every update."""
    check_version_not_empty(spec, e)
    check_versions_not_empty(spec, e)
    check_endpoint_access(spec, old, e)


# --- create ---------------------------------------------------------------------------------------------


def validate_create(cluster: Cluster) -> list[FieldError]:
    """Every reason ``cluster`` cannot be created (empty when it can). Never raises for invalid input."""
    e = Errors()
    spec = cluster.spec.eks_config
    imported = spec.imported
    check_metadata_and_policy(cluster, e)
    check_names_present(spec, e)
    if not imported:  # Rancher skips its checks for imports ("createFromImport")
        _rancher_api_checks(spec, None, e)
        check_subnets_with_security_groups(spec, e)
        check_operator_create(cluster, e)
    check_version_on_create(spec, e)
    check_cluster_values(spec, spec.ip_family, e)
    check_unique_names(cluster, e)
    check_on_create(cluster, e)
    return e.items


# --- update ---------------------------------------------------------------------------------------------


def validate_update(old: Cluster, new: Cluster) -> list[FieldError]:
    """Every reason the spec change ``old`` -> ``new`` cannot be accepted (empty when it can)."""
    e = Errors()
    spec = new.spec.eks_config
    check_metadata_and_policy(new, e)
    check_names_present(spec, e)
    _rancher_api_checks(spec, old.spec.eks_config, e)
    cluster_minor = check_version_on_update(new, e)
    check_unique_names(new, e)
    check_on_update(new, cluster_minor, e)
    check_noupdate_cluster(old, new, e)
    check_noupdate_node_groups(old, new, e)
    ip_family = spec.ip_family if spec.ip_family is not None else old.spec.eks_config.ip_family
    check_cluster_values(spec, ip_family, e)
    return e.items
