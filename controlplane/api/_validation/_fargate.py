"""Fargate profiles: names, the pod execution role, subnets and selectors (EKS's limits)."""

from __future__ import annotations

from .._types import EKSClusterConfigSpec, FargateProfile, FargateSelector
from ._core import EKS_NAME, R_FORMAT, R_RANGE, R_REQUIRED, R_UNIQUE, ROLE_ARN, SPEC
from ._rules import Errors, Length, MaxCount, Pattern, rule
from ._tags_labels import check_labels, check_tags

MAX_PROFILES = 10
"""EKS's default quota of Fargate profiles per cluster."""
MAX_SELECTORS = 5

_NAME = (FargateProfile, "name")

NAME_REQUIRED = rule(R_REQUIRED, "fargateProfiles[{index}].name is required", _NAME)
NAME_FORMAT = rule(
    R_FORMAT,
    "fargateProfiles[{index}].name {value!r} must be {min_length}-{max_length} letters, digits, '-' and '_', "
    "starting with a letter or digit",
    _NAME,
    constraints=(Length(1, 100), Pattern(EKS_NAME)),
    empty_ok=True,
)
NAME_UNIQUE = rule(R_UNIQUE, "fargateProfiles[{index}]: profile {value!r} is listed twice", _NAME)
COUNT = rule(
    R_RANGE,
    "{count} Fargate profiles given; EKS allows at most {limit} per cluster",
    (EKSClusterConfigSpec, "fargateProfiles"),
)
ROLE_REQUIRED = rule(
    R_REQUIRED,
    "fargateProfiles[{index}].podExecutionRoleArn is required",
    (FargateProfile, "podExecutionRoleArn"),
)
ROLE_FORMAT = rule(
    R_FORMAT,
    "fargateProfiles[{index}].podExecutionRoleArn {value!r} must be an IAM role ARN "
    "(arn:aws:iam::<account>:role/<name>)",
    (FargateProfile, "podExecutionRoleArn"),
    constraints=(Pattern(ROLE_ARN),),
    empty_ok=True,
)
SUBNET_FORMAT = rule(
    R_FORMAT,
    "fargateProfiles[{index}].subnets: {value!r} is not a subnet ID (subnet-...)",
    (FargateProfile, "subnets"),
    constraints=(Pattern(r"^subnet-[0-9a-z]+$"),),
    part="items",
)
SELECTORS = rule(
    R_RANGE,
    "fargateProfiles[{index}].selectors must hold 1-{limit} selectors, got {count}",
    (FargateProfile, "selectors"),
)
SELECTOR_NAMESPACE = rule(
    R_REQUIRED,
    "fargateProfiles[{index}].selectors[{selector}].namespace is required",
    (FargateSelector, "namespace"),
)
SELECTOR_NAMESPACE_FORMAT = rule(
    R_FORMAT,
    "fargateProfiles[{index}].selectors[{selector}].namespace {value!r} must be a Kubernetes namespace "
    "name (a '*' or '?' wildcard is allowed)",
    (FargateSelector, "namespace"),
    constraints=(Length(1, 63), Pattern(r"^[a-z0-9*?]([-a-z0-9*?]*[a-z0-9*?])?$")),
    empty_ok=True,
)
SELECTOR_LABELS = rule(
    R_RANGE,
    "{count} labels given; a Fargate selector takes at most {max_count}",
    (FargateSelector, "labels"),
    constraints=(MaxCount(5),),
)


def check(spec: EKSClusterConfigSpec, e: Errors) -> None:
    profiles = spec.fargate_profiles
    if profiles is None:
        return
    if len(profiles) > MAX_PROFILES:
        e.add(COUNT, f"{SPEC}.fargateProfiles", count=len(profiles), limit=MAX_PROFILES)
    seen: set[str] = set()
    for i, profile in enumerate(profiles):
        p = f"{SPEC}.fargateProfiles[{i}]"
        name = profile.name
        if not name:
            e.add(NAME_REQUIRED, f"{p}.name", index=i)
        elif not NAME_FORMAT.allows(name):
            e.add(NAME_FORMAT, f"{p}.name", index=i, value=name)
        elif name in seen:
            e.add(NAME_UNIQUE, f"{p}.name", index=i, value=name)
        if name:
            seen.add(name)
        role = profile.pod_execution_role_arn
        if not role:
            e.add(ROLE_REQUIRED, f"{p}.podExecutionRoleArn", index=i)
        elif not ROLE_FORMAT.allows(role):
            e.add(ROLE_FORMAT, f"{p}.podExecutionRoleArn", index=i, value=role)
        for subnet in profile.subnets or ():
            if not SUBNET_FORMAT.allows(subnet):
                e.add(SUBNET_FORMAT, f"{p}.subnets", index=i, value=subnet)
        selectors = profile.selectors or []
        if not 1 <= len(selectors) <= MAX_SELECTORS:
            e.add(SELECTORS, f"{p}.selectors", index=i, limit=MAX_SELECTORS, count=len(selectors))
        for j, selector in enumerate(selectors):
            q = f"{p}.selectors[{j}]"
            if not selector.namespace:
                e.add(SELECTOR_NAMESPACE, f"{q}.namespace", index=i, selector=j)
            elif not SELECTOR_NAMESPACE_FORMAT.allows(selector.namespace):
                e.add(
                    SELECTOR_NAMESPACE_FORMAT, f"{q}.namespace", index=i, selector=j, value=selector.namespace
                )
            if selector.labels is not None and not SELECTOR_LABELS.allows(selector.labels):
                e.add(SELECTOR_LABELS, f"{q}.labels", count=len(selector.labels))
            check_labels(f"{q}.labels", selector.labels, e)
        check_tags(f"{p}.tags", profile.tags, e)
