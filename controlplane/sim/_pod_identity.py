"""Pod Identity associations: CreatePodIdentityAssociation, DescribePodIdentityAssociation,
UpdatePodIdentityAssociation, DeletePodIdentityAssociation, ListPodIdentityAssociations.

One association per (namespace, service account). An add-on's own associations (``ownerArn``) are made,
changed and removed through the add-on; the association API refuses to change them.
"""

from __future__ import annotations

import re

from . import _errors as err
from ._backend import EksBackend, Resource
from ._model import ClusterRec
from ._model_extras import PodIdentityRec, render_association, render_association_summary
from ._rules import check_role, check_tags, random_hex
from ._shapes import CreatePodIdentityAssociationIn, UpdatePodIdentityAssociationIn
from ._wire import Json, decode, paginate

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MAX_ASSOCIATIONS = 5000


def _check(namespace: str, account: str, role: str) -> None:
    if len(namespace) > 63 or not _DNS_LABEL.match(namespace):
        raise err.invalid_parameter(f"Invalid namespace {namespace!r}.")
    if len(account) > 253 or not _DNS_SUBDOMAIN.match(account):
        raise err.invalid_parameter(f"Invalid service account {account!r}.")
    check_role("roleArn", role)


def find(c: ClusterRec, namespace: str, account: str) -> PodIdentityRec | None:
    return next(
        (a for a in c.pod_identity.values() if (a.namespace, a.service_account) == (namespace, account)), None
    )


def add_association(
    b: EksBackend,
    c: ClusterRec,
    namespace: str,
    account: str,
    role: str,
    *,
    tags: dict[str, str] | None = None,
    owner: str | None = None,
    token: str | None = None,
) -> PodIdentityRec:
    """A new association (checked by the caller), owned by ``owner`` (an add-on ARN) when given."""
    _check(namespace, account, role)
    existing = find(c, namespace, account)
    if existing is not None:
        raise err.in_use(f"Association already exists: {existing.arn}", clusterName=c.name)
    if len(c.pod_identity) >= MAX_ASSOCIATIONS:
        raise err.limit_exceeded(
            f"A cluster can have at most {MAX_ASSOCIATIONS} associations.", clusterName=c.name
        )
    now = b.wall()
    aid = "a-" + random_hex(17)
    a = PodIdentityRec(
        id=aid,
        arn=b.arn(c.region, f"podidentityassociation/{c.name}/{aid}"),
        namespace=namespace,
        service_account=account,
        role_arn=role,
        created_at=now,
        modified_at=now,
        tags=dict(tags or {}),
        owner_arn=owner,
        token=token,
    )
    c.pod_identity[aid] = a
    b.touch(c)
    return a


def remove_owned(b: EksBackend, c: ClusterRec, owner: str) -> None:
    """Remove the associations ``owner`` (an add-on ARN) owns."""
    for aid in [aid for aid, a in c.pod_identity.items() if a.owner_arn == owner]:
        del c.pod_identity[aid]
    b.touch(c)


def _association(c: ClusterRec, aid: str) -> PodIdentityRec:
    a = c.pod_identity.get(aid)
    if a is None:
        raise err.association_not_found(c.name, aid)
    return a


def _not_owned(c: ClusterRec, a: PodIdentityRec) -> None:
    if a.owner_arn is not None:
        raise err.invalid_request(
            f"The association {a.id} is managed by {a.owner_arn}; change it through that add-on.",
            clusterName=c.name,
        )


def create_association(b: EksBackend, region: str, cluster: str, req: CreatePodIdentityAssociationIn) -> Json:
    c = b.cluster(region, cluster)
    existing = find(c, req.namespace, req.serviceAccount)
    if (
        existing is not None
        and req.clientRequestToken is not None
        and existing.token == req.clientRequestToken
    ):
        return {"association": render_association(c.name, existing)}
    if c.status not in ("ACTIVE", "UPDATING"):
        raise err.invalid_request(f"Cluster '{cluster}' is not in ACTIVE status", clusterName=cluster)
    tags = dict(req.tags or {})
    check_tags(tags)
    a = add_association(
        b, c, req.namespace, req.serviceAccount, req.roleArn, tags=tags, token=req.clientRequestToken
    )
    return {"association": render_association(c.name, a)}


def describe_association(b: EksBackend, region: str, cluster: str, aid: str) -> Json:
    c = b.cluster(region, cluster)
    return {"association": render_association(c.name, _association(c, aid))}


def update_association(
    b: EksBackend, region: str, cluster: str, aid: str, req: UpdatePodIdentityAssociationIn
) -> Json:
    c = b.cluster(region, cluster)
    a = _association(c, aid)
    _not_owned(c, a)
    if req.roleArn is not None:
        check_role("roleArn", req.roleArn)
        a.role_arn = req.roleArn
    a.modified_at = b.wall()
    b.touch(c)
    return {"association": render_association(c.name, a)}


def delete_association(b: EksBackend, region: str, cluster: str, aid: str) -> Json:
    c = b.cluster(region, cluster)
    a = _association(c, aid)
    _not_owned(c, a)
    del c.pod_identity[aid]
    b.touch(c)
    return {"association": render_association(c.name, a)}


def list_associations(
    b: EksBackend,
    region: str,
    cluster: str,
    *,
    namespace: str | None,
    account: str | None,
    max_results: int | None,
    token: str | None,
) -> Json:
    c = b.cluster(region, cluster)
    ids = sorted(
        aid
        for aid, a in c.pod_identity.items()
        if (namespace is None or a.namespace == namespace)
        and (account is None or a.service_account == account)
    )
    page, nxt = paginate(ids, max_results, token)
    out: Json = {"associations": [render_association_summary(c.name, c.pod_identity[aid]) for aid in page]}
    if nxt:
        out["nextToken"] = nxt
    return out


_P = "clusters", "*", "pod-identity-associations"
RESOURCE = Resource(
    routes={
        ("POST", _P): (
            "CreatePodIdentityAssociation",
            lambda b, r, s, q, body: create_association(
                b, r, s[1], decode(body, CreatePodIdentityAssociationIn)
            ),
        ),
        ("GET", _P): (
            "ListPodIdentityAssociations",
            lambda b, r, s, q, body: list_associations(
                b,
                r,
                s[1],
                namespace=q.get("namespace"),
                account=q.get("serviceAccount"),
                max_results=q.int("maxResults"),
                token=q.get("nextToken"),
            ),
        ),
        ("GET", (*_P, "*")): (
            "DescribePodIdentityAssociation",
            lambda b, r, s, q, body: describe_association(b, r, s[1], s[3]),
        ),
        ("POST", (*_P, "*")): (
            "UpdatePodIdentityAssociation",
            lambda b, r, s, q, body: update_association(
                b, r, s[1], s[3], decode(body, UpdatePodIdentityAssociationIn)
            ),
        ),
        ("DELETE", (*_P, "*")): (
            "DeletePodIdentityAssociation",
            lambda b, r, s, q, body: delete_association(b, r, s[1], s[3]),
        ),
    },
    kind="podidentityassociation",
    records=lambda c: c.pod_identity.values(),
    tagged=True,
)
