"""Several replicas share one fleet through the store: membership (heartbeats), shard leases with
client-go's timing, balancing (a pure function), fencing, and the change feed that carries every
change between them. One replica alone is the same code with every shard.
"""

from ._balance import balance, targets
from ._follow import ChangeRouter, follow
from ._identity import ReplicaIdentity, fresh_id, resolve_identity
from ._member import Membership, ShardHost
from ._workers import WorkerPool, die_with_parent, reserve_port, worker_command, worker_env

__all__ = [
    "ChangeRouter",
    "Membership",
    "ReplicaIdentity",
    "ShardHost",
    "WorkerPool",
    "balance",
    "die_with_parent",
    "follow",
    "fresh_id",
    "reserve_port",
    "resolve_identity",
    "targets",
    "worker_command",
    "worker_env",
]
