"""The cluster actor: create, import, update, sync and delete one EKS cluster as a state machine."""

from ._actor import ClusterActor
from ._context import ClusterDeps, ReconcileError
from ._messages import ClusterMessage, DeleteRequested, Reconcile, SpecChanged, SyncTick

__all__ = [
    "ClusterActor",
    "ClusterDeps",
    "ClusterMessage",
    "DeleteRequested",
    "Reconcile",
    "ReconcileError",
    "SpecChanged",
    "SyncTick",
]
