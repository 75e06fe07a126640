"""Fargate profiles: CreateFargateProfile, DescribeFargateProfile, DeleteFargateProfile,
ListFargateProfiles.

As in EKS: profiles are immutable; a cluster has at most one profile CREATING or DELETING at a time
(another create or delete meanwhile is a ResourceInUseException); at most 10 profiles, 5 selectors each,
5 labels per selector.
"""

from __future__ import annotations

import uuid

import msgspec

from . import _errors as err
from ._access import ensure_compute_entry
from ._backend import EksBackend, Resource, settle, start_deleting
from ._model import ClusterRec
from ._model_extras import FargateRec, render_fargate
from ._rules import check_name, check_role, check_tags
from ._shapes import CreateFargateProfileIn
from ._wire import Json, decode, page_answer

MAX_PROFILES = 10
MAX_SELECTORS = 5
MAX_LABELS = 5
_IN_FLIGHT = ("CREATING", "DELETING")


def _profile(c: ClusterRec, name: str) -> FargateRec:
    f = c.fargate.get(name)
    if f is None:
        raise err.fargate_not_found(c.name, name)
    return f


def in_flight(c: ClusterRec, other_than: str | None = None) -> FargateRec | None:
    """The profile of ``c`` that is CREATING or DELETING (EKS allows one at a time)."""
    return next((f for f in c.fargate.values() if f.status in _IN_FLIGHT and f.name != other_than), None)


def create_fargate_profile(b: EksBackend, region: str, cluster: str, req: CreateFargateProfileIn) -> Json:
    c = b.cluster(region, cluster)
    name = req.fargateProfileName
    existing = c.fargate.get(name)
    if existing is not None:
        if req.clientRequestToken is not None and existing.token == req.clientRequestToken:
            return {"fargateProfile": render_fargate(c.name, existing)}
        raise err.in_use(
            "A Fargate Profile already exists with this name in the cluster.", clusterName=cluster
        )
    check_name("Fargate profile", name, 100)
    if c.status not in ("ACTIVE", "UPDATING"):
        raise err.invalid_request(f"Cluster '{cluster}' is not in ACTIVE status", clusterName=cluster)
    busy = in_flight(c)
    if busy is not None:
        raise err.in_use(
            f"Cannot create Fargate Profile {name} because cluster {cluster} currently has Fargate profile "
            f"{busy.name} in status {busy.status}",
            clusterName=cluster,
            fargateProfileName=name,
        )
    if len(c.fargate) >= MAX_PROFILES:
        raise err.limit_exceeded(
            f"Fargate profile limit exceeded: a cluster can have at most {MAX_PROFILES} profiles.",
            clusterName=cluster,
        )
    check_role("podExecutionRoleArn", req.podExecutionRoleArn)
    selectors = req.selectors or []
    if not 1 <= len(selectors) <= MAX_SELECTORS:
        raise err.invalid_parameter(
            f"A Fargate profile needs 1 to {MAX_SELECTORS} selectors.",
            clusterName=cluster,
            fargateProfileName=name,
        )
    rendered: list[dict[str, object]] = []
    for s in selectors:
        if not s.namespace:
            raise err.invalid_parameter("Every selector needs a namespace.", fargateProfileName=name)
        if s.labels is not None and len(s.labels) > MAX_LABELS:
            raise err.invalid_parameter(
                f"A selector can have at most {MAX_LABELS} labels.", fargateProfileName=name
            )
        rendered.append({k: v for k, v in msgspec.structs.asdict(s).items() if v is not None})
    subnets = list(req.subnets or c.subnet_ids)
    for subnet in subnets:
        if not subnet.startswith("subnet-"):
            raise err.invalid_parameter(f"Subnet {subnet} is not a valid subnet ID.", fargateProfileName=name)
    tags = dict(req.tags or {})
    check_tags(tags)
    now = b.wall()
    f = FargateRec(
        name=name,
        arn=b.arn(region, f"fargateprofile/{cluster}/{name}/{uuid.uuid4()}"),
        status="CREATING",
        pod_execution_role_arn=req.podExecutionRoleArn,
        subnets=subnets,
        selectors=rendered,
        created_at=now,
        modified_at=now,
        tags=tags,
        token=req.clientRequestToken,
    )
    c.fargate[name] = f
    ensure_compute_entry(b, c, f.pod_execution_role_arn, "FARGATE_LINUX")
    b.schedule("fargateprofile", c, f, b.settings.fargate_create_seconds)
    b.touch(c)
    return {"fargateProfile": render_fargate(c.name, f)}


def describe_fargate_profile(b: EksBackend, region: str, cluster: str, name: str) -> Json:
    c = b.cluster(region, cluster)
    return {"fargateProfile": render_fargate(c.name, _profile(c, name))}


def delete_fargate_profile(b: EksBackend, region: str, cluster: str, name: str) -> Json:
    c = b.cluster(region, cluster)
    f = _profile(c, name)
    if f.status == "DELETING":
        return {"fargateProfile": render_fargate(c.name, f)}
    busy = in_flight(c, other_than=name) or (f if f.status == "CREATING" else None)
    if busy is not None:
        raise err.in_use(
            f"Cannot delete Fargate Profile {name} because cluster {cluster} currently has Fargate profile "
            f"{busy.name} in status {busy.status}",
            clusterName=cluster,
            fargateProfileName=name,
        )
    start_deleting(b, "fargateprofile", c, f, b.settings.fargate_delete_seconds)
    b.touch(c)
    return {"fargateProfile": render_fargate(c.name, f)}


def list_fargate_profiles(
    b: EksBackend, region: str, cluster: str, max_results: int | None, token: str | None
) -> Json:
    c = b.cluster(region, cluster)
    return page_answer("fargateProfileNames", sorted(c.fargate), max_results, token)


def _fargate_due(b: EksBackend, c: ClusterRec, f: FargateRec) -> None:
    settle(b, c.fargate, f)
    b.touch(c)


_F = "clusters", "*", "fargate-profiles"
RESOURCE = Resource(
    routes={
        ("POST", _F): (
            "CreateFargateProfile",
            lambda b, r, s, q, body: create_fargate_profile(b, r, s[1], decode(body, CreateFargateProfileIn)),
        ),
        ("GET", _F): (
            "ListFargateProfiles",
            lambda b, r, s, q, body: list_fargate_profiles(
                b, r, s[1], q.int("maxResults"), q.get("nextToken")
            ),
        ),
        ("GET", (*_F, "*")): (
            "DescribeFargateProfile",
            lambda b, r, s, q, body: describe_fargate_profile(b, r, s[1], s[3]),
        ),
        ("DELETE", (*_F, "*")): (
            "DeleteFargateProfile",
            lambda b, r, s, q, body: delete_fargate_profile(b, r, s[1], s[3]),
        ),
    },
    kind="fargateprofile",
    records=lambda c: c.fargate.values(),
    on_due=_fargate_due,
    tagged=True,
)
