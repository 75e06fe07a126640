"""The simulated EKS service: the operations of every resource, as functions over the backend.

The resources plug into the backend's core (``_backend``) through ``RESOURCES``.
"""

from __future__ import annotations

from . import _addons, _clusters, _nodegroups, _tags, _updates
from ._backend import EksBackend
from ._model import (
    ClusterRec,
    NodegroupRec,
    UpdateRec,
)
from ._updates import Plan, new_update
from ._wire import Json

# --- console (control API) ------------------------------------------------------------------


def console_delete_cluster(b: EksBackend, region: str, name: str) -> None:
    """Delete as the console does: node groups first, the cluster once they are gone."""
    c = b.cluster(region, name)
    for n in c.nodegroups.values():
        if n.status != "DELETING":
            n.status = "DELETING"
            b.schedule("nodegroup", c, n, b.settings.nodegroup_delete_seconds)
    c.status = "DELETING"
    for a in c.addons.values():
        a.status = "DELETING"
    delay = b.settings.cluster_delete_seconds
    if c.nodegroups:
        delay += b.settings.nodegroup_delete_seconds
    b.schedule("cluster", c, c, delay)
    b.touch(c)


def start_update(
    b: EksBackend,
    c: ClusterRec,
    type_: str,
    params: list[tuple[str, str]],
    changes: Json,
    *,
    nodegroup: NodegroupRec | None = None,
) -> UpdateRec:
    plan = Plan()
    plan.params, plan.changes = params, changes
    return new_update(b, c, type_, plan, nodegroup=nodegroup)


# In this order, records of one cluster due at the same time move as before the split.
RESOURCES = (
    _clusters.RESOURCE,
    _nodegroups.RESOURCE,
    _addons.RESOURCE,
    _updates.RESOURCE,
    _tags.RESOURCE,
)
