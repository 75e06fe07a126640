"""Updates: the bookkeeping every updatable resource shares, and ListUpdates and DescribeUpdate.

An update is started by the resource it changes (cluster version or config, node group config or
version, ...) with ``new_update``; it stays InProgress for the resource's update time and then
hands its ``changes`` to that resource's ``Resource.apply_update``.
"""

from __future__ import annotations

import uuid

from . import _errors as err
from ._backend import EksBackend, Resource
from ._model import ClusterRec, NodegroupRec, UpdateRec, render_update
from ._wire import Json, page_answer

_MAX_UPDATES_KEPT = 1000  # terminal updates kept per cluster (bounded bookkeeping)


def in_progress(c: ClusterRec, nodegroup: str | None = None) -> UpdateRec | None:
    for u in reversed(c.updates.values()):
        if u.status == "InProgress" and u.nodegroup == nodegroup and u.addon is None:
            return u
    return None


def refuse_if_updating(c: ClusterRec) -> None:
    u = in_progress(c)
    if u is not None:
        raise err.in_use(f"Cluster {c.name} currently has update {u.id} in progress", clusterName=c.name)


def require_active(c: ClusterRec) -> None:
    refuse_if_updating(c)
    if c.status != "ACTIVE":
        raise err.in_use(
            f"Cluster {c.name} is currently {c.status}; the operation requires ACTIVE.",
            clusterName=c.name,
        )


def new_update(
    b: EksBackend,
    c: ClusterRec,
    type_: str,
    params: list[tuple[str, str]],
    changes: Json,
    *,
    token: str | None,
    nodegroup: NodegroupRec | None = None,
    seconds: float,
) -> UpdateRec:
    u = UpdateRec(
        id=str(uuid.uuid4()),
        type=type_,
        status="InProgress",
        created_at=b.wall(),
        params=params,
        changes=changes,
        nodegroup=nodegroup.name if nodegroup else None,
        token=token,
    )
    c.updates[u.id] = u
    _trim_updates(c)
    if nodegroup is None:
        c.status = "UPDATING"
    else:
        nodegroup.status = "UPDATING"
        nodegroup.modified_at = u.created_at
    b.schedule("update", c, u, seconds)
    b.touch(c)
    return u


def _trim_updates(c: ClusterRec) -> None:
    extra = len(c.updates) - _MAX_UPDATES_KEPT
    if extra <= 0:
        return
    for uid in [uid for uid, u in c.updates.items() if u.status != "InProgress"][:extra]:
        del c.updates[uid]


def find_token_update(c: ClusterRec, token: str | None, nodegroup: str | None) -> Json | None:
    # botocore fills clientRequestToken on every call: a retried request returns the same update.
    if token is None:
        return None
    for u in c.updates.values():
        if u.token == token and u.nodegroup == nodegroup:
            return {"update": render_update(u)}
    return None


def _update_target(u: UpdateRec) -> str:
    """The kind of record an update changes when it completes."""
    if u.nodegroup is not None:
        return "nodegroup"
    if u.addon is not None:
        return "addon"
    return "cluster"


def _complete_update(b: EksBackend, c: ClusterRec, u: UpdateRec) -> None:
    u.status = "Successful"
    b.apply_update(_update_target(u), c, u)
    b.touch(c)


def list_updates(
    b: EksBackend,
    region: str,
    name: str,
    *,
    nodegroup: str | None,
    addon: str | None,
    max_results: int | None,
    token: str | None,
) -> Json:
    c = b.cluster(region, name)
    if nodegroup is not None and nodegroup not in c.nodegroups:
        raise err.nodegroup_not_found(name, nodegroup)
    if addon is not None and addon not in c.addons:
        raise err.addon_not_found(name, addon)
    ids = [u.id for u in c.updates.values() if u.nodegroup == nodegroup and u.addon == addon]
    return page_answer("updateIds", ids, max_results, token, ordered=False)


def describe_update(
    b: EksBackend, region: str, name: str, update_id: str, *, nodegroup: str | None, addon: str | None
) -> Json:
    c = b.cluster(region, name)
    u = c.updates.get(update_id)
    if u is None or u.nodegroup != nodegroup or u.addon != addon:
        raise err.update_not_found(name, update_id)
    return {"update": render_update(u)}


RESOURCE = Resource(
    routes={
        ("GET", ("clusters", "*", "updates")): (
            "ListUpdates",
            lambda b, r, s, q, body: list_updates(
                b,
                r,
                s[1],
                nodegroup=q.get("nodegroupName"),
                addon=q.get("addonName"),
                max_results=q.int("maxResults"),
                token=q.get("nextToken"),
            ),
        ),
        ("GET", ("clusters", "*", "updates", "*")): (
            "DescribeUpdate",
            lambda b, r, s, q, body: describe_update(
                b, r, s[1], s[3], nodegroup=q.get("nodegroupName"), addon=q.get("addonName")
            ),
        ),
    },
    kind="update",
    records=lambda c: c.updates.values(),
    on_due=_complete_update,
)
