"""Access entries and access policies: CreateAccessEntry, DescribeAccessEntry, UpdateAccessEntry,
DeleteAccessEntry, ListAccessEntries, AssociateAccessPolicy, DisassociateAccessPolicy,
ListAssociatedAccessPolicies; and who may call the cluster's Kubernetes API (``kube_access``).

As in EKS: every operation needs the API or API_AND_CONFIG_MAP authentication mode; the creator's admin
entry is made when the cluster (or its mode) starts using access entries; node roles of managed node
groups and pod execution roles of Fargate profiles get entries of their own type.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from . import _errors as err
from ._backend import EksBackend, Resource
from ._model import ClusterRec
from ._model_extras import AccessEntryRec, PolicyRec, render_access_entry, render_policy
from ._rules import check_tags
from ._shapes import AssociateAccessPolicyIn, CreateAccessEntryIn, UpdateAccessEntryIn
from ._wire import Json, decode, page_answer, paginate

ENTRY_TYPES = (
    "STANDARD",
    "EC2_LINUX",
    "EC2_WINDOWS",
    "FARGATE_LINUX",
    "EC2",
    "HYBRID_LINUX",
    "HYPERPOD_LINUX",
)
ACCESS_POLICY_PREFIX = "cluster-access-policy/"
ACCESS_POLICIES = (
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSViewPolicy",
    "AmazonEKSAdminViewPolicy",
)
CLUSTER_ADMIN = "AmazonEKSClusterAdminPolicy"
_API_MODES = ("API", "API_AND_CONFIG_MAP")


def policy_arn(region: str, name: str) -> str:
    partition = (
        "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    )
    return f"arn:{partition}:eks::aws:{ACCESS_POLICY_PREFIX}{name}"


def require_api_mode(c: ClusterRec) -> None:
    if c.authentication_mode not in _API_MODES:
        raise err.invalid_request(
            "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform "
            "this operation.",
            clusterName=c.name,
        )


def _entry(c: ClusterRec, principal: str) -> AccessEntryRec:
    e = c.access_entries.get(principal)
    if e is None:
        raise err.access_entry_not_found(c.name, principal)
    return e


def _default_username(principal: str, type_: str) -> str:
    if type_ in ("EC2_LINUX", "EC2_WINDOWS", "EC2", "HYBRID_LINUX", "HYPERPOD_LINUX"):
        return "system:node:{{EC2PrivateDNSName}}"
    if type_ == "FARGATE_LINUX":
        return "system:node:{{SessionName}}"
    parts = principal.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("role/"):
        name = parts[5].rsplit("/", 1)[-1]
        return f"arn:{parts[1]}:sts::{parts[4]}:assumed-role/{name}/{{{{SessionName}}}}"
    return principal


def add_entry(
    b: EksBackend,
    c: ClusterRec,
    principal: str,
    *,
    type_: str = "STANDARD",
    groups: list[str] | None = None,
    username: str | None = None,
    tags: dict[str, str] | None = None,
    token: str | None = None,
) -> AccessEntryRec:
    now = b.wall()
    parts = principal.split(":", 5)
    kind, _, name = parts[5].partition("/")
    e = AccessEntryRec(
        principal_arn=principal,
        arn=b.arn(
            c.region, f"access-entry/{c.name}/{kind}/{parts[4]}/{name.rsplit('/', 1)[-1]}/{uuid.uuid4()}"
        ),
        type=type_,
        username=username or _default_username(principal, type_),
        created_at=now,
        modified_at=now,
        kubernetes_groups=list(groups or []),
        tags=dict(tags or {}),
        token=token,
    )
    c.access_entries[principal] = e
    b.touch(c)
    return e


def ensure_compute_entry(b: EksBackend, c: ClusterRec, role_arn: str, type_: str) -> None:
    """The entry EKS makes for a managed node group's node role or a Fargate pod execution role."""
    if c.authentication_mode in _API_MODES and role_arn not in c.access_entries:
        add_entry(b, c, role_arn, type_=type_)


def ensure_creator_entry(b: EksBackend, c: ClusterRec) -> None:
    """The creator's cluster-admin entry, once the cluster uses access entries (bootstrap admin only)."""
    creator = c.creator_arn
    if not c.bootstrap_admin or creator is None or c.authentication_mode not in _API_MODES:
        return
    if creator in c.access_entries:
        return
    e = add_entry(b, c, creator)
    now = b.wall()
    admin = policy_arn(c.region, CLUSTER_ADMIN)
    e.policies[admin] = PolicyRec(admin, "cluster", [], now, now)


def create_access_entry(b: EksBackend, region: str, cluster: str, req: CreateAccessEntryIn) -> Json:
    c = b.cluster(region, cluster)
    existing = c.access_entries.get(req.principalArn)
    if (
        existing is not None
        and req.clientRequestToken is not None
        and existing.token == req.clientRequestToken
    ):
        return {"accessEntry": render_access_entry(c.name, existing)}
    require_api_mode(c)
    if existing is not None:
        raise err.in_use(
            "The specified access entry resource is already in use on this cluster.", clusterName=cluster
        )
    if c.status not in ("ACTIVE", "UPDATING"):
        raise err.invalid_request(f"Cluster '{cluster}' is not in ACTIVE status", clusterName=cluster)
    parts = req.principalArn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith(("role/", "user/")):
        raise err.invalid_parameter(
            f"The specified principalArn is invalid: {req.principalArn}", clusterName=cluster
        )
    type_ = req.type or "STANDARD"
    if type_ not in ENTRY_TYPES:
        raise err.invalid_parameter(f"The specified type {type_!r} is invalid.", clusterName=cluster)
    if type_ != "STANDARD" and (req.kubernetesGroups or req.username):
        raise err.invalid_parameter(
            f"kubernetesGroups and username cannot be set for an access entry of type {type_}.",
            clusterName=cluster,
        )
    _check_groups(cluster, req.kubernetesGroups or [])
    tags = dict(req.tags or {})
    check_tags(tags)
    e = add_entry(
        b,
        c,
        req.principalArn,
        type_=type_,
        groups=req.kubernetesGroups,
        username=req.username,
        tags=tags,
        token=req.clientRequestToken,
    )
    return {"accessEntry": render_access_entry(c.name, e)}


def _check_groups(cluster: str, groups: list[str]) -> None:
    for g in groups:
        if g.lower().startswith("system:"):
            raise err.invalid_parameter(
                f"The kubernetes group name {g} is invalid, it cannot start with system:", clusterName=cluster
            )


def describe_access_entry(b: EksBackend, region: str, cluster: str, principal: str) -> Json:
    c = b.cluster(region, cluster)
    require_api_mode(c)
    return {"accessEntry": render_access_entry(c.name, _entry(c, principal))}


def update_access_entry(
    b: EksBackend, region: str, cluster: str, principal: str, req: UpdateAccessEntryIn
) -> Json:
    c = b.cluster(region, cluster)
    require_api_mode(c)
    e = _entry(c, principal)
    if e.type != "STANDARD" and (req.kubernetesGroups or req.username):
        raise err.invalid_parameter(
            f"kubernetesGroups and username cannot be set for an access entry of type {e.type}.",
            clusterName=cluster,
        )
    if req.kubernetesGroups is not None:
        _check_groups(cluster, req.kubernetesGroups)
        e.kubernetes_groups = list(req.kubernetesGroups)
    if req.username is not None:
        e.username = req.username
    e.modified_at = b.wall()
    b.touch(c)
    return {"accessEntry": render_access_entry(c.name, e)}


def delete_access_entry(b: EksBackend, region: str, cluster: str, principal: str) -> Json:
    c = b.cluster(region, cluster)
    require_api_mode(c)
    _entry(c, principal)
    del c.access_entries[principal]
    b.touch(c)
    return {}


def list_access_entries(
    b: EksBackend,
    region: str,
    cluster: str,
    *,
    policy: str | None,
    max_results: int | None,
    token: str | None,
) -> Json:
    c = b.cluster(region, cluster)
    require_api_mode(c)
    keys = sorted(p for p, e in c.access_entries.items() if policy is None or policy in e.policies)
    return page_answer("accessEntries", keys, max_results, token)


def associate_access_policy(
    b: EksBackend, region: str, cluster: str, principal: str, req: AssociateAccessPolicyIn
) -> Json:
    c = b.cluster(region, cluster)
    require_api_mode(c)
    e = _entry(c, principal)
    if e.type != "STANDARD":
        raise err.invalid_request(
            "Access policies can only be associated with access entries of type STANDARD; this one is "
            f"{e.type}.",
            clusterName=cluster,
        )
    name = req.policyArn.rsplit(ACCESS_POLICY_PREFIX, 1)[-1]
    if ACCESS_POLICY_PREFIX not in req.policyArn or name not in ACCESS_POLICIES:
        raise err.EksError(
            "ResourceNotFoundException", 404, f"The specified policy {req.policyArn} was not found."
        )
    scope = req.accessScope
    if scope.type not in ("cluster", "namespace"):
        raise err.invalid_parameter("accessScope.type must be cluster or namespace.", clusterName=cluster)
    namespaces = list(scope.namespaces or [])
    if (scope.type == "namespace") != bool(namespaces):
        raise err.invalid_parameter(
            "Namespaces must be given for a namespace scope, and only for it.", clusterName=cluster
        )
    now = b.wall()
    current = e.policies.get(req.policyArn)
    associated = current.associated_at if current is not None else now
    e.policies[req.policyArn] = PolicyRec(req.policyArn, scope.type, namespaces, associated, now)
    b.touch(c)
    return {
        "clusterName": c.name,
        "principalArn": principal,
        "associatedAccessPolicy": render_policy(e.policies[req.policyArn]),
    }


def disassociate_access_policy(b: EksBackend, region: str, cluster: str, principal: str, policy: str) -> Json:
    c = b.cluster(region, cluster)
    require_api_mode(c)
    e = _entry(c, principal)
    if policy not in e.policies:
        raise err.EksError("ResourceNotFoundException", 404, f"The policy {policy} is not associated.")
    del e.policies[policy]
    b.touch(c)
    return {}


def list_associated_access_policies(
    b: EksBackend, region: str, cluster: str, principal: str, *, max_results: int | None, token: str | None
) -> Json:
    c = b.cluster(region, cluster)
    require_api_mode(c)
    e = _entry(c, principal)
    page, nxt = paginate(sorted(e.policies), max_results, token)
    out: Json = {
        "clusterName": c.name,
        "principalArn": principal,
        "associatedAccessPolicies": [render_policy(e.policies[p]) for p in page],
    }
    if nxt:
        out["nextToken"] = nxt
    return out


def kube_access(c: ClusterRec, principal: str | None, aws_auth: Mapping[str, set[str]]) -> int:
    """Whether ``principal`` (an IAM ARN) may administer the cluster's Kubernetes API: 0 yes, 401 not a
    known identity, 403 known without enough permissions. ``aws_auth`` maps the ARNs of the aws-auth
    ConfigMap to their groups (read only while the mode includes CONFIG_MAP)."""
    if c.creator_arn is None:
        return 0  # made through the control API: whoever asks is its creator
    if principal is None:
        return 401
    mode = c.authentication_mode
    if mode == "CONFIG_MAP" and principal == c.creator_arn:
        return 0  # the creator's admin access cannot be removed in this mode
    if mode in _API_MODES:
        e = c.access_entries.get(principal)
        if e is not None:
            admin = any(p.rsplit("/", 1)[-1] == CLUSTER_ADMIN for p in e.policies)
            return 0 if admin or "system:masters" in e.kubernetes_groups else 403
    if mode in ("CONFIG_MAP", "API_AND_CONFIG_MAP"):
        groups = aws_auth.get(principal)
        if groups is not None:
            return 0 if "system:masters" in groups else 403
    return 401


_E = "clusters", "*", "access-entries"
RESOURCE = Resource(
    routes={
        ("POST", _E): (
            "CreateAccessEntry",
            lambda b, r, s, q, body: create_access_entry(b, r, s[1], decode(body, CreateAccessEntryIn)),
        ),
        ("GET", _E): (
            "ListAccessEntries",
            lambda b, r, s, q, body: list_access_entries(
                b,
                r,
                s[1],
                policy=q.get("associatedPolicyArn"),
                max_results=q.int("maxResults"),
                token=q.get("nextToken"),
            ),
        ),
        ("GET", (*_E, "*")): (
            "DescribeAccessEntry",
            lambda b, r, s, q, body: describe_access_entry(b, r, s[1], s[3]),
        ),
        ("POST", (*_E, "*")): (
            "UpdateAccessEntry",
            lambda b, r, s, q, body: update_access_entry(b, r, s[1], s[3], decode(body, UpdateAccessEntryIn)),
        ),
        ("DELETE", (*_E, "*")): (
            "DeleteAccessEntry",
            lambda b, r, s, q, body: delete_access_entry(b, r, s[1], s[3]),
        ),
        ("POST", (*_E, "*", "access-policies")): (
            "AssociateAccessPolicy",
            lambda b, r, s, q, body: associate_access_policy(
                b, r, s[1], s[3], decode(body, AssociateAccessPolicyIn)
            ),
        ),
        ("GET", (*_E, "*", "access-policies")): (
            "ListAssociatedAccessPolicies",
            lambda b, r, s, q, body: list_associated_access_policies(
                b, r, s[1], s[3], max_results=q.int("maxResults"), token=q.get("nextToken")
            ),
        ),
        ("DELETE", (*_E, "*", "access-policies", "*")): (
            "DisassociateAccessPolicy",
            lambda b, r, s, q, body: disassociate_access_policy(b, r, s[1], s[3], s[5]),
        ),
    },
    kind="access-entry",
    records=lambda c: c.access_entries.values(),
    tagged=True,
)
