"""Records of the simulated EKS resources beyond clusters, node groups and add-ons: access entries (with
their associated policies), Pod Identity associations and Fargate profiles, and their wire rendering."""

from __future__ import annotations

from typing import Any

import msgspec


class PolicyRec(msgspec.Struct):
    policy_arn: str
    scope_type: str
    namespaces: list[str]
    associated_at: float
    modified_at: float


class AccessEntryRec(msgspec.Struct):
    principal_arn: str
    arn: str
    type: str
    username: str
    created_at: float
    modified_at: float
    kubernetes_groups: list[str] = []
    tags: dict[str, str] = {}
    policies: dict[str, PolicyRec] = {}
    token: str | None = None
    due: float | None = None
    """Always None: access entries change at once (the field every tagged record has)."""


class PodIdentityRec(msgspec.Struct):
    id: str
    arn: str
    namespace: str
    service_account: str
    role_arn: str
    created_at: float
    modified_at: float
    tags: dict[str, str] = {}
    owner_arn: str | None = None
    """The add-on that owns the association (only that add-on may change it)."""
    token: str | None = None
    due: float | None = None
    """Always None: associations change at once (the field every tagged record has)."""


class FargateRec(msgspec.Struct):
    name: str
    arn: str
    status: str
    pod_execution_role_arn: str
    subnets: list[str]
    selectors: list[dict[str, Any]]
    created_at: float
    modified_at: float
    tags: dict[str, str] = {}
    token: str | None = None
    due: float | None = None


def render_access_entry(cluster: str, e: AccessEntryRec) -> dict[str, Any]:
    return {
        "clusterName": cluster,
        "principalArn": e.principal_arn,
        "kubernetesGroups": list(e.kubernetes_groups),
        "accessEntryArn": e.arn,
        "createdAt": e.created_at,
        "modifiedAt": e.modified_at,
        "tags": e.tags,
        "username": e.username,
        "type": e.type,
    }


def render_policy(p: PolicyRec) -> dict[str, Any]:
    return {
        "policyArn": p.policy_arn,
        "accessScope": {"type": p.scope_type, "namespaces": list(p.namespaces)},
        "associatedAt": p.associated_at,
        "modifiedAt": p.modified_at,
    }


def render_association(cluster: str, a: PodIdentityRec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "clusterName": cluster,
        "namespace": a.namespace,
        "serviceAccount": a.service_account,
        "roleArn": a.role_arn,
        "associationArn": a.arn,
        "associationId": a.id,
        "tags": a.tags,
        "createdAt": a.created_at,
        "modifiedAt": a.modified_at,
        "disableSessionTags": False,
    }
    if a.owner_arn is not None:
        out["ownerArn"] = a.owner_arn
    return out


def render_association_summary(cluster: str, a: PodIdentityRec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "clusterName": cluster,
        "namespace": a.namespace,
        "serviceAccount": a.service_account,
        "associationArn": a.arn,
        "associationId": a.id,
    }
    if a.owner_arn is not None:
        out["ownerArn"] = a.owner_arn
    return out


def render_fargate(cluster: str, f: FargateRec) -> dict[str, Any]:
    return {
        "fargateProfileName": f.name,
        "fargateProfileArn": f.arn,
        "clusterName": cluster,
        "createdAt": f.created_at,
        "podExecutionRoleArn": f.pod_execution_role_arn,
        "subnets": list(f.subnets),
        "selectors": [dict(s) for s in f.selectors],
        "status": f.status,
        "tags": f.tags,
        "health": {"issues": []},
    }
