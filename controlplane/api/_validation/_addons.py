"""EKS add-ons: names, versions (explicit, ``default`` or ``latest``), configuration values, IAM, conflicts.

Whether a version exists and whether the configuration values match the add-on's schema depend on AWS
(DescribeAddonVersions, DescribeAddonConfiguration): the actor checks those before it sends anything.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from .._types import Addon, EKSClusterConfigSpec
from ._core import EKS_NAME, R_ENUM, R_FORMAT, R_REQUIRED, R_UNIQUE, ROLE_ARN, SPEC
from ._pod_identity import UNIQUE as ASSOCIATION_UNIQUE
from ._pod_identity import check_pair
from ._rules import Errors, Length, OneOf, Pattern, rule

R_CONFIGURATION = "configuration-values"
SYMBOLIC_VERSIONS = ("default", "latest")
"""Versions resolved with DescribeAddonVersions for the cluster's Kubernetes version."""
RESOLVE_CONFLICTS = ("NONE", "OVERWRITE", "PRESERVE")
ADDON_VERSION = r"^(default|latest|v?\d+(\.\d+){1,3}([-+][0-9A-Za-z.-]+)?)$"

_NAME = (Addon, "name")
_VERSION = (Addon, "version")

NAME_REQUIRED = rule(R_REQUIRED, "addons[{index}].name is required", _NAME)
NAME_FORMAT = rule(
    R_FORMAT,
    "addons[{index}].name {value!r} must be {min_length}-{max_length} letters, digits, '-' and '_', starting "
    "with a letter or digit",
    _NAME,
    constraints=(Length(1, 100), Pattern(EKS_NAME)),
    empty_ok=True,
)
NAME_UNIQUE = rule(R_UNIQUE, "addons[{index}]: add-on {value!r} is listed twice", _NAME)
VERSION_FORMAT = rule(
    R_FORMAT,
    "addons[{index}].version {value!r} must be an add-on version (e.g. v1.19.2-eksbuild.1), default or "
    "latest",
    _VERSION,
    constraints=(Pattern(ADDON_VERSION),),
)
ROLE_FORMAT = rule(
    R_FORMAT,
    "addons[{index}].serviceAccountRoleArn {value!r} must be an IAM role ARN "
    "(arn:aws:iam::<account>:role/<name>)",
    (Addon, "serviceAccountRoleArn"),
    constraints=(Pattern(ROLE_ARN),),
)
RESOLVE = rule(
    R_ENUM,
    "addons[{index}].resolveConflicts {value!r} must be one of {values}",
    (Addon, "resolveConflicts"),
    constraints=(OneOf(RESOLVE_CONFLICTS),),
)
CONFIGURATION = rule(
    R_CONFIGURATION,
    "addons[{index}].configurationValues must be a JSON or YAML object: {problem}",
    (Addon, "configurationValues"),
)


def parse_configuration_values(text: str) -> dict[str, Any]:
    """An add-on's ``configurationValues`` (JSON or YAML) as an object; ValueError says what is wrong."""
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"neither JSON nor YAML ({exc})") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"got {type(value).__name__}, not an object")  # noqa: TRY004 - a bad value
    return value


def check(spec: EKSClusterConfigSpec, e: Errors) -> None:
    seen: set[str] = set()
    for i, addon in enumerate(spec.addons or ()):
        p = f"{SPEC}.addons[{i}]"
        name = addon.name
        if not name:
            e.add(NAME_REQUIRED, f"{p}.name", index=i)
        elif not NAME_FORMAT.allows(name):
            e.add(NAME_FORMAT, f"{p}.name", index=i, value=name)
        elif name in seen:
            e.add(NAME_UNIQUE, f"{p}.name", index=i, value=name)
        if name:
            seen.add(name)
        if addon.version is not None and not VERSION_FORMAT.allows(addon.version):
            e.add(VERSION_FORMAT, f"{p}.version", index=i, value=addon.version)
        if addon.service_account_role_arn is not None and not ROLE_FORMAT.allows(
            addon.service_account_role_arn
        ):
            e.add(ROLE_FORMAT, f"{p}.serviceAccountRoleArn", index=i, value=addon.service_account_role_arn)
        if addon.resolve_conflicts is not None and not RESOLVE.allows(addon.resolve_conflicts):
            e.add(RESOLVE, f"{p}.resolveConflicts", index=i, value=addon.resolve_conflicts)
        if addon.configuration_values:
            try:
                parse_configuration_values(addon.configuration_values)
            except ValueError as exc:
                e.add(CONFIGURATION, f"{p}.configurationValues", index=i, problem=exc)
        accounts: set[str] = set()
        for j, pia in enumerate(addon.pod_identity_associations or ()):
            q = f"{p}.podIdentityAssociations[{j}]"
            check_pair(q, pia.service_account, pia.role_arn, e)
            if pia.service_account and pia.service_account in accounts:
                e.add(
                    ASSOCIATION_UNIQUE,
                    f"{q}.serviceAccount",
                    where=q.removeprefix(f"{SPEC}."),
                    value=pia.service_account,
                )
            if pia.service_account:
                accounts.add(pia.service_account)
