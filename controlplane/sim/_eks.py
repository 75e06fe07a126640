"""The simulated EKS service: one module per resource, as AWS documents the API, plugged into the
shared backend (``_backend``).

Each resource module holds its operations as functions over ``EksBackend`` and declares one
``Resource``: its routes (method + path shape -> operation) and, when its records have lifecycles,
its kind, its records, the step applied when one is due, and how it applies a completed update.
Updates, tags and the lifecycle heap are shared: a resource uses ``_updates.request_update`` and
``Plan`` for its updates, ``b.schedule`` for its lifecycle (``settle`` for CREATING/DELETING), and
marks itself ``tagged`` to take TagResource.

To add a resource (access entries, pod identity associations, Fargate profiles, ...): add its
record to ``_model`` (a dict on ``ClusterRec``), its request shapes to ``_shapes``, its errors to
``_errors``, write its module, and list its ``RESOURCE`` here. Routing, persistence, restore,
lifecycles and tags then include it.
"""

from __future__ import annotations

from . import _access, _addons, _clusters, _fargate, _nodegroups, _pod_identity, _tags, _updates
from ._backend import Resource

# In this order, records of one cluster due at the same time move as before the split.
RESOURCES: tuple[Resource, ...] = (
    _clusters.RESOURCE,
    _nodegroups.RESOURCE,
    _addons.RESOURCE,
    _access.RESOURCE,
    _pod_identity.RESOURCE,
    _fargate.RESOURCE,
    _updates.RESOURCE,
    _tags.RESOURCE,
)
