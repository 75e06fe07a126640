"""``validate_create`` and ``validate_update``: every area's checks of a cluster, in one fixed order.

The order is part of the contract (clients see the errors in it): Rancher's API checks first, then
eks-operator's, then the values AWS would refuse. A new area's checks go after the existing ones.
"""

from __future__ import annotations

from .._types import Cluster, EKSClusterConfigSpec
from . import _access, _addons, _cluster, _fargate, _lifecycle, _networking, _node_groups, _pod_identity
from ._core import FieldError
from ._rules import Errors


def _rancher_api_checks(spec: EKSClusterConfigSpec, old: EKSClusterConfigSpec | None, e: Errors) -> None:
    """Rancher's validator: run on non-import creates and on every update."""
    _cluster.check_version_not_empty(spec, e)
    _node_groups.check_versions_not_empty(spec, e)
    _networking.check_endpoint_access(spec, old, e)


def validate_create(cluster: Cluster) -> list[FieldError]:
    """Every reason ``cluster`` cannot be created (empty when it can). Never raises for invalid input."""
    e = Errors()
    spec = cluster.spec.eks_config
    _cluster.check_metadata_and_policy(cluster, e)
    _node_groups.check_names_present(spec, e)
    if not spec.imported:  # Rancher skips its checks for imports ("createFromImport")
        _rancher_api_checks(spec, None, e)
        _networking.check_subnets_with_security_groups(spec, e)
        _cluster.check_operator_create(cluster, e)
    _cluster.check_version_on_create(spec, e)
    _cluster.check_values(spec, spec.ip_family, e)
    _node_groups.check_unique_names(cluster, e)
    _node_groups.check_on_create(cluster, e)
    _new_areas(spec, None, e)
    return e.items


def validate_update(old: Cluster, new: Cluster) -> list[FieldError]:
    """Every reason the spec change ``old`` -> ``new`` cannot be accepted (empty when it can)."""
    e = Errors()
    spec = new.spec.eks_config
    _cluster.check_metadata_and_policy(new, e)
    _node_groups.check_names_present(spec, e)
    _rancher_api_checks(spec, old.spec.eks_config, e)
    cluster_minor = _cluster.check_version_on_update(new, e)
    _node_groups.check_unique_names(new, e)
    _node_groups.check_on_update(new, cluster_minor, e)
    _cluster.check_noupdate(old, new, e)
    _node_groups.check_noupdate(old, new, e)
    ip_family = spec.ip_family if spec.ip_family is not None else old.spec.eks_config.ip_family
    _cluster.check_values(spec, ip_family, e)
    _new_areas(spec, old, e)
    return e.items


def _new_areas(spec: EKSClusterConfigSpec, old: Cluster | None, e: Errors) -> None:
    """Access, Pod Identity, add-ons, Fargate and the upgrade policy: after the Rancher-era checks."""
    _access.check(spec, old, e)
    _pod_identity.check(spec, e)
    _addons.check(spec, e)
    _fargate.check(spec, e)
    _lifecycle.check(spec, e)
