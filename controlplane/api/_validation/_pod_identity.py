"""EKS Pod Identity associations: a Kubernetes service account mapped to an IAM role."""

from __future__ import annotations

from .._types import AddonPodIdentity, EKSClusterConfigSpec, PodIdentityAssociation
from ._core import DNS1123_SUBDOMAIN, R_FORMAT, R_REQUIRED, R_UNIQUE, ROLE_ARN, SPEC
from ._rules import Errors, Length, Pattern, rule
from ._tags_labels import check_tags

R_AGENT = "pod-identity-agent"
AGENT_ADDON = "eks-pod-identity-agent"
"""The add-on whose agent hands the associations' credentials to pods."""
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

_NAMESPACE = (PodIdentityAssociation, "namespace")
_ACCOUNT = (PodIdentityAssociation, "serviceAccount")
_ROLE = (PodIdentityAssociation, "roleArn")

NAMESPACE_REQUIRED = rule(R_REQUIRED, "podIdentityAssociations[{index}].namespace is required", _NAMESPACE)
NAMESPACE_FORMAT = rule(
    R_FORMAT,
    "podIdentityAssociations[{index}].namespace {value!r} must be a Kubernetes namespace name: at most "
    "{max_length} lowercase letters, digits and '-'",
    _NAMESPACE,
    constraints=(Length(1, 63), Pattern(DNS1123_LABEL)),
    empty_ok=True,
)
ACCOUNT_REQUIRED = rule(
    R_REQUIRED, "{where}.serviceAccount is required", _ACCOUNT, (AddonPodIdentity, "serviceAccount")
)
ACCOUNT_FORMAT = rule(
    R_FORMAT,
    "{where}.serviceAccount {value!r} must be a Kubernetes service account name: at most {max_length} "
    "lowercase letters, digits, '-' and '.'",
    _ACCOUNT,
    (AddonPodIdentity, "serviceAccount"),
    constraints=(Length(1, 253), Pattern(DNS1123_SUBDOMAIN)),
    empty_ok=True,
)
ROLE_REQUIRED = rule(R_REQUIRED, "{where}.roleArn is required", _ROLE, (AddonPodIdentity, "roleArn"))
ROLE_FORMAT = rule(
    R_FORMAT,
    "{where}.roleArn {value!r} must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
    _ROLE,
    (AddonPodIdentity, "roleArn"),
    constraints=(Pattern(ROLE_ARN),),
    empty_ok=True,
)
UNIQUE = rule(
    R_UNIQUE,
    "{where}: service account {value} has two associations; EKS allows one per service account",
    _ACCOUNT,
    (AddonPodIdentity, "serviceAccount"),
)
NEEDS_AGENT = rule(
    R_AGENT,
    "podIdentityAssociations need the eks-pod-identity-agent add-on, and addons does not list it: add "
    "the add-on eks-pod-identity-agent (version default) to addons",
    (EKSClusterConfigSpec, "podIdentityAssociations"),
)


def check_pair(path: str, account: str | None, role: str | None, e: Errors) -> None:
    """The service account and role of one association (a cluster's or an add-on's)."""
    short = path.removeprefix(f"{SPEC}.")
    if not account:
        e.add(ACCOUNT_REQUIRED, f"{path}.serviceAccount", where=short)
    elif not ACCOUNT_FORMAT.allows(account):
        e.add(ACCOUNT_FORMAT, f"{path}.serviceAccount", where=short, value=account)
    if not role:
        e.add(ROLE_REQUIRED, f"{path}.roleArn", where=short)
    elif not ROLE_FORMAT.allows(role):
        e.add(ROLE_FORMAT, f"{path}.roleArn", where=short, value=role)


def check(spec: EKSClusterConfigSpec, e: Errors) -> None:
    associations = spec.pod_identity_associations
    if associations is None:
        return
    seen: set[tuple[str, str]] = set()
    for i, a in enumerate(associations):
        p = f"{SPEC}.podIdentityAssociations[{i}]"
        if not a.namespace:
            e.add(NAMESPACE_REQUIRED, f"{p}.namespace", index=i)
        elif not NAMESPACE_FORMAT.allows(a.namespace):
            e.add(NAMESPACE_FORMAT, f"{p}.namespace", index=i, value=a.namespace)
        check_pair(p, a.service_account, a.role_arn, e)
        key = (a.namespace or "", a.service_account or "")
        if all(key) and key in seen:
            e.add(UNIQUE, f"{p}.serviceAccount", where=p.removeprefix(f"{SPEC}."), value="/".join(key))
        seen.add(key)
        check_tags(f"{p}.tags", a.tags, e)
    if associations and spec.addons is not None and not any(x.name == AGENT_ADDON for x in spec.addons):
        e.add(NEEDS_AGENT, f"{SPEC}.podIdentityAssociations")
