"""The cluster's lifecycle settings: the upgrade (support) policy. ``deletionProtection`` is a plain bool
that the admin API enforces on delete."""

from __future__ import annotations

from .._types import EKSClusterConfigSpec, UpgradePolicy
from ._core import R_ENUM, R_REQUIRED, SPEC
from ._rules import Errors, OneOf, rule

SUPPORT_TYPES = ("STANDARD", "EXTENDED")

SUPPORT_TYPE_REQUIRED = rule(
    R_REQUIRED,
    "upgradePolicy.supportType is required (STANDARD or EXTENDED)",
    (EKSClusterConfigSpec, "upgradePolicy"),
)
SUPPORT_TYPE = rule(
    R_ENUM,
    "upgradePolicy.supportType {value!r} must be one of {values}",
    (UpgradePolicy, "supportType"),
    constraints=(OneOf(SUPPORT_TYPES),),
)


def check(spec: EKSClusterConfigSpec, e: Errors) -> None:
    policy = spec.upgrade_policy
    if policy is None:
        return
    if policy.support_type is None:
        e.add(SUPPORT_TYPE_REQUIRED, f"{SPEC}.upgradePolicy.supportType")
    elif not SUPPORT_TYPE.allows(policy.support_type):
        e.add(SUPPORT_TYPE, f"{SPEC}.upgradePolicy.supportType", value=policy.support_type)
