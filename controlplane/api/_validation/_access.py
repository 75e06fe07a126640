"""Cluster access: the authentication mode, the creator's bootstrap admin permissions, access entries and
their access policies."""

from __future__ import annotations

from .._types import AccessEntry, AccessPolicy, AccessScope, Cluster, EKSClusterConfigSpec
from ._core import R_ENUM, R_FORMAT, R_NOUPDATE, R_REQUIRED, R_UNIQUE, SPEC
from ._rules import Errors, NoPrefix, OneOf, Pattern, rule
from ._tags_labels import check_tags

R_MODE = "authentication-mode"
R_ACCESS_TYPE = "access-entry-type"
R_SCOPE = "access-scope"

AUTHENTICATION_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
"""In the only order EKS lets a cluster move: CONFIG_MAP -> API_AND_CONFIG_MAP -> API."""
ENTRY_TYPES = ("STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX")
PRINCIPAL_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$"
POLICY_ARN = r"^arn:aws[a-z-]*:eks::aws:cluster-access-policy/[A-Za-z0-9]{1,128}$"
DEFAULT_MODE = "CONFIG_MAP"
"""What EKS gives a cluster created through its API without an ``accessConfig``."""

_MODE = (EKSClusterConfigSpec, "authenticationMode")
_BOOTSTRAP = (EKSClusterConfigSpec, "bootstrapClusterCreatorAdminPermissions")
_ENTRIES = (EKSClusterConfigSpec, "accessEntries")
_PRINCIPAL = (AccessEntry, "principalArn")

MODE = rule(
    R_ENUM,
    "authenticationMode {value!r} must be one of {values}",
    _MODE,
    constraints=(OneOf(AUTHENTICATION_MODES),),
)
MODE_DOWNGRADE = rule(
    R_MODE,
    "authenticationMode cannot change from {old} to {new}: EKS only moves CONFIG_MAP -> "
    "API_AND_CONFIG_MAP -> API, never back",
    _MODE,
)
BOOTSTRAP_NOUPDATE = rule(
    R_NOUPDATE,
    "bootstrapClusterCreatorAdminPermissions is set at creation only: it cannot change from {old} to {new}",
    _BOOTSTRAP,
)
BOOTSTRAP_CONFIG_MAP = rule(
    R_MODE,
    "bootstrapClusterCreatorAdminPermissions false needs authenticationMode API or API_AND_CONFIG_MAP: under "
    "CONFIG_MAP the creator keeps its admin access",
    _BOOTSTRAP,
)
ENTRIES_NEED_API = rule(
    R_MODE,
    "accessEntries need authenticationMode API or API_AND_CONFIG_MAP, and the cluster's is CONFIG_MAP: set "
    "authenticationMode: API_AND_CONFIG_MAP (keeps the aws-auth ConfigMap working) or API",
    _ENTRIES,
)
PRINCIPAL_REQUIRED = rule(R_REQUIRED, "accessEntries[{index}].principalArn is required", _PRINCIPAL)
PRINCIPAL_FORMAT = rule(
    R_FORMAT,
    "accessEntries[{index}].principalArn {value!r} must be an IAM role or user ARN "
    "(arn:aws:iam::<account>:role/<name> or :user/<name>)",
    _PRINCIPAL,
    constraints=(Pattern(PRINCIPAL_ARN),),
    empty_ok=True,
)
PRINCIPAL_UNIQUE = rule(
    R_UNIQUE, "accessEntries[{index}]: principalArn {value!r} is listed twice", _PRINCIPAL
)
ENTRY_TYPE = rule(
    R_ENUM,
    "accessEntries[{index}].type {value!r} must be one of {values}",
    (AccessEntry, "type"),
    constraints=(OneOf(ENTRY_TYPES),),
)
STANDARD_ONLY = rule(
    R_ACCESS_TYPE,
    "accessEntries[{index}].{field} is only for type STANDARD entries (EKS sets them for type {value})",
    (AccessEntry, "kubernetesGroups"),
    (AccessEntry, "username"),
    (AccessEntry, "accessPolicies"),
)
GROUP_PREFIX = rule(
    R_FORMAT,
    "accessEntries[{index}].kubernetesGroups: {value!r} starts with '{prefix}', which EKS reserves",
    (AccessEntry, "kubernetesGroups"),
    constraints=(NoPrefix("system:"),),
    part="items",
)
TYPE_NOUPDATE = rule(
    R_NOUPDATE,
    "accessEntries[{index}].type cannot change after the entry is created ({old} -> {new})",
    (AccessEntry, "type"),
)
POLICY_REQUIRED = rule(R_REQUIRED, "{where}.policyArn is required", (AccessPolicy, "policyArn"))
POLICY_FORMAT = rule(
    R_FORMAT,
    "{where}.policyArn {value!r} must be an EKS access policy ARN "
    "(arn:aws:eks::aws:cluster-access-policy/<name>)",
    (AccessPolicy, "policyArn"),
    constraints=(Pattern(POLICY_ARN),),
    empty_ok=True,
)
POLICY_UNIQUE = rule(R_UNIQUE, "{where}: policyArn {value!r} is listed twice", (AccessPolicy, "policyArn"))
SCOPE_REQUIRED = rule(
    R_REQUIRED, "{where}.accessScope.type is required (cluster or namespace)", (AccessPolicy, "accessScope")
)
SCOPE_TYPE = rule(
    R_ENUM,
    "{where}.accessScope.type {value!r} must be one of {values}",
    (AccessScope, "type"),
    constraints=(OneOf(("cluster", "namespace")),),
)
SCOPE_NAMESPACES = rule(
    R_SCOPE,
    "{where}.accessScope: {problem}",
    (AccessScope, "namespaces"),
)


def effective_mode(spec: EKSClusterConfigSpec, old: Cluster | None) -> str:
    """The authentication mode the cluster will have: the spec's, else what AWS has (updates), else the
    default EKS gives a new cluster ("" when not known yet: an import)."""
    if spec.authentication_mode:
        return spec.authentication_mode
    if old is not None:
        upstream = old.status.eks_status.upstream_spec
        if upstream is not None and upstream.authentication_mode:
            return upstream.authentication_mode
        if old.spec.eks_config.authentication_mode:
            return old.spec.eks_config.authentication_mode
        if old.spec.eks_config.imported:
            return ""  # not known yet: the first refresh tells
    elif spec.imported:
        return ""  # an existing cluster's mode is AWS's to tell; the push checks it
    return DEFAULT_MODE


def mode_rank(mode: str | None) -> int:
    """The mode's place in EKS's one-way order (-1 when unknown)."""
    return AUTHENTICATION_MODES.index(mode) if mode in AUTHENTICATION_MODES else -1


def check(spec: EKSClusterConfigSpec, old: Cluster | None, e: Errors) -> None:
    """The mode, the bootstrap flag and every access entry (``old`` is the stored cluster on updates)."""
    mode = spec.authentication_mode
    if mode is not None and not MODE.allows(mode):
        e.add(MODE, f"{SPEC}.authenticationMode", value=mode)
    effective = effective_mode(spec, old)
    if (
        old is None
        and spec.bootstrap_cluster_creator_admin_permissions is False
        and effective == "CONFIG_MAP"
    ):
        e.add(BOOTSTRAP_CONFIG_MAP, f"{SPEC}.bootstrapClusterCreatorAdminPermissions")
    if old is not None:
        _check_update(spec, old, e)
    entries = spec.access_entries
    if entries is None:
        return
    if entries and effective == "CONFIG_MAP":
        e.add(ENTRIES_NEED_API, f"{SPEC}.accessEntries")
    previous = (
        {x.principal_arn: x for x in (old.spec.eks_config.access_entries or ()) if x.principal_arn}
        if old is not None
        else {}
    )
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        _check_entry(i, entry, seen, e)
        before = previous.get(entry.principal_arn or "")
        if before is not None and before.type and entry.type and before.type != entry.type:
            e.add(TYPE_NOUPDATE, f"{SPEC}.accessEntries[{i}].type", index=i, old=before.type, new=entry.type)


def _check_update(spec: EKSClusterConfigSpec, old: Cluster, e: Errors) -> None:
    before = old.spec.eks_config
    new_mode = spec.authentication_mode
    if new_mode in AUTHENTICATION_MODES:
        upstream = old.status.eks_status.upstream_spec
        olds = [before.authentication_mode, upstream.authentication_mode if upstream else None]
        highest = max(olds, key=mode_rank)
        if highest is not None and mode_rank(new_mode) < mode_rank(highest):
            e.add(MODE_DOWNGRADE, f"{SPEC}.authenticationMode", old=highest, new=new_mode)
    was, now = (
        before.bootstrap_cluster_creator_admin_permissions,
        spec.bootstrap_cluster_creator_admin_permissions,
    )
    if was is not None and now is not None and was != now:
        e.add(BOOTSTRAP_NOUPDATE, f"{SPEC}.bootstrapClusterCreatorAdminPermissions", old=was, new=now)


def _check_entry(i: int, entry: AccessEntry, seen: set[str], e: Errors) -> None:
    p = f"{SPEC}.accessEntries[{i}]"
    arn = entry.principal_arn
    if not arn:
        e.add(PRINCIPAL_REQUIRED, f"{p}.principalArn", index=i)
    elif not PRINCIPAL_FORMAT.allows(arn):
        e.add(PRINCIPAL_FORMAT, f"{p}.principalArn", index=i, value=arn)
    elif arn in seen:
        e.add(PRINCIPAL_UNIQUE, f"{p}.principalArn", index=i, value=arn)
    if arn:
        seen.add(arn)
    kind = entry.type
    if kind is not None and not ENTRY_TYPE.allows(kind):
        e.add(ENTRY_TYPE, f"{p}.type", index=i, value=kind)
    elif kind not in (None, "STANDARD"):
        for field, value in (
            ("kubernetesGroups", entry.kubernetes_groups),
            ("username", entry.username),
            ("accessPolicies", entry.access_policies),
        ):
            if value:
                e.add(STANDARD_ONLY, f"{p}.{field}", index=i, field=field, value=kind)
    for j, group in enumerate(entry.kubernetes_groups or ()):
        if not GROUP_PREFIX.allows(group):
            e.add(GROUP_PREFIX, f"{p}.kubernetesGroups[{j}]", index=i, value=group)
    check_tags(f"{p}.tags", entry.tags, e)
    policies: set[str] = set()
    for j, policy in enumerate(entry.access_policies or ()):
        _check_policy(f"{p}.accessPolicies[{j}]", policy, policies, e)


def _check_policy(path: str, policy: AccessPolicy, seen: set[str], e: Errors) -> None:
    short = path.removeprefix(f"{SPEC}.")
    arn = policy.policy_arn
    if not arn:
        e.add(POLICY_REQUIRED, f"{path}.policyArn", where=short)
    elif not POLICY_FORMAT.allows(arn):
        e.add(POLICY_FORMAT, f"{path}.policyArn", where=short, value=arn)
    elif arn in seen:
        e.add(POLICY_UNIQUE, f"{path}.policyArn", where=short, value=arn)
    if arn:
        seen.add(arn)
    scope = policy.access_scope
    if scope is None or scope.type is None:
        e.add(SCOPE_REQUIRED, f"{path}.accessScope", where=short)
        return
    if not SCOPE_TYPE.allows(scope.type):
        e.add(SCOPE_TYPE, f"{path}.accessScope.type", where=short, value=scope.type)
    elif scope.type == "namespace" and not scope.namespaces:
        e.add(
            SCOPE_NAMESPACES,
            f"{path}.accessScope.namespaces",
            where=short,
            problem="a namespace scope needs namespaces",
        )
    elif scope.type == "cluster" and scope.namespaces:
        e.add(
            SCOPE_NAMESPACES,
            f"{path}.accessScope.namespaces",
            where=short,
            problem="a cluster scope takes no namespaces",
        )
