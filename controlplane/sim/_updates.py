"""Updates: the bookkeeping every updatable resource shares, and ListUpdates and DescribeUpdate.

An update is started by the resource it changes (cluster version or config, node group config or
version, ...) with ``new_update``; it stays InProgress for the resource's update time and then
hands its ``changes`` to that resource's ``Resource.apply_update``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import msgspec

from . import _errors as err
from ._backend import EksBackend, Resource
from ._model import AddonRec, ClusterRec, NodegroupRec, UpdateRec, render_update
from ._wire import Json, page_answer

_MAX_UPDATES_KEPT = 1000  # terminal updates kept per cluster (bounded bookkeeping)


class Plan:
    """An update being planned: what it changes when it completes (``changes``, keys understood by
    the target's ``apply_update``) and the ``params`` DescribeUpdate shows."""

    __slots__ = ("changes", "params")

    def __init__(self) -> None:
        self.changes: Json = {}
        self.params: list[tuple[str, str]] = []

    def set(self, key: str, label: str, value: Any) -> None:
        """Change ``key`` to ``value``, shown as the ``label`` param."""
        self.changes[key] = value
        self.show(label, value)

    def show(self, label: str, value: Any) -> None:
        """A param: strings as they are, anything else as JSON (``true``, ``3``, ``["a"]``)."""
        self.params.append((label, value if isinstance(value, str) else msgspec.json.encode(value).decode()))


def in_progress(c: ClusterRec, nodegroup: str | None = None, *, addon: str | None = None) -> UpdateRec | None:
    """The update in progress of the cluster itself, of ``nodegroup`` or of ``addon``."""
    for u in reversed(c.updates.values()):
        if u.status == "InProgress" and u.nodegroup == nodegroup and u.addon == addon:
            return u
    return None


def refuse_if_updating(c: ClusterRec) -> None:
    u = in_progress(c)
    if u is not None:
        raise err.in_use(f"Cluster {c.name} currently has update {u.id} in progress", clusterName=c.name)


def require_active(c: ClusterRec) -> None:
    """The guard of every cluster update: ACTIVE, with no update in progress."""
    refuse_if_updating(c)
    if c.status != "ACTIVE":
        raise err.in_use(
            f"Cluster {c.name} is currently {c.status}; the operation requires ACTIVE.",
            clusterName=c.name,
        )


def refuse_if_nodegroup_updating(c: ClusterRec, n: NodegroupRec) -> None:
    u = in_progress(c, n.name)
    if u is not None:
        raise err.in_use(
            f"Nodegroup {n.name} currently has update {u.id} in progress",
            clusterName=c.name,
            nodegroupName=n.name,
        )


def require_nodegroup_active(c: ClusterRec, n: NodegroupRec) -> None:
    """The guard of every node group update: the cluster not updating, the node group ACTIVE with no
    update in progress."""
    refuse_if_updating(c)
    refuse_if_nodegroup_updating(c, n)
    if n.status != "ACTIVE":
        raise err.in_use(
            f"Nodegroup {n.name} is currently {n.status}; the update requires ACTIVE.",
            clusterName=c.name,
            nodegroupName=n.name,
        )


def require_addon_free(c: ClusterRec, a: AddonRec) -> None:
    """The guard of an add-on update: the cluster not updating, the add-on with no update in progress."""
    refuse_if_updating(c)
    u = in_progress(c, addon=a.name)
    if u is not None:
        raise err.in_use(
            f"Addon {a.name} currently has update {u.id} in progress", clusterName=c.name, addonName=a.name
        )


def request_update(
    b: EksBackend,
    c: ClusterRec,
    type_: str,
    token: str | None,
    plan: Callable[[], Plan],
    *,
    nodegroup: NodegroupRec | None = None,
    addon: AddonRec | None = None,
) -> Json:
    """An update asked for through the API: a retry (same ``token``) answers the update it started;
    otherwise the target's guard, then ``plan`` (which checks the request against the current
    state), then the update starts."""
    again = find_token_update(c, token, nodegroup.name if nodegroup else None, addon.name if addon else None)
    if again is not None:
        return again
    if addon is not None:
        require_addon_free(c, addon)
    elif nodegroup is None:
        require_active(c)
    else:
        require_nodegroup_active(c, nodegroup)
    u = new_update(b, c, type_, plan(), token=token, nodegroup=nodegroup, addon=addon)
    return {"update": render_update(u)}


def new_update(
    b: EksBackend,
    c: ClusterRec,
    type_: str,
    plan: Plan,
    *,
    token: str | None = None,
    nodegroup: NodegroupRec | None = None,
    addon: AddonRec | None = None,
) -> UpdateRec:
    """Start an update of the cluster, of ``nodegroup`` or of ``addon``: its target is UPDATING until it
    completes."""
    u = UpdateRec(
        id=str(uuid.uuid4()),
        type=type_,
        status="InProgress",
        created_at=b.wall(),
        params=plan.params,
        changes=plan.changes,
        nodegroup=nodegroup.name if nodegroup else None,
        addon=addon.name if addon else None,
        token=token,
    )
    c.updates[u.id] = u
    _trim_updates(c)
    if addon is not None:
        addon.status = "UPDATING"
        addon.modified_at = u.created_at
        seconds = b.settings.addon_update_seconds
    elif nodegroup is None:
        c.status = "UPDATING"
        seconds = b.settings.cluster_update_seconds
    else:
        nodegroup.status = "UPDATING"
        nodegroup.modified_at = u.created_at
        seconds = b.settings.nodegroup_update_seconds
    b.schedule("update", c, u, seconds)
    b.touch(c)
    return u


def _trim_updates(c: ClusterRec) -> None:
    extra = len(c.updates) - _MAX_UPDATES_KEPT
    if extra <= 0:
        return
    for uid in [uid for uid, u in c.updates.items() if u.status != "InProgress"][:extra]:
        del c.updates[uid]


def find_token_update(
    c: ClusterRec, token: str | None, nodegroup: str | None, addon: str | None = None
) -> Json | None:
    # botocore fills clientRequestToken on every call: a retried request returns the same update.
    if token is None:
        return None
    for u in c.updates.values():
        if u.token == token and u.nodegroup == nodegroup and u.addon == addon:
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
