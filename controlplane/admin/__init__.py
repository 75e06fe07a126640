"""The admin HTTP API (aiohttp): clusters, credentials, settings, health, readiness, metrics, OpenAPI.

Contract highlights (see ``/openapi.json`` for the full document):

- Bearer token on everything under ``/v1`` (and ``/metrics`` when ``admin.metrics_auth``).
- ``POST /v1/clusters`` takes a native ``Cluster`` or Rancher ``EKSClusterConfig`` manifest (JSON or YAML,
  one document); an absent or empty ``metadata.name`` defaults to ``spec.eksConfig.displayName``; client
  status and server-owned metadata (resourceVersion, generation, timestamps) are ignored.
- Errors are ``{"error": message}``; 422 adds ``errors: [{path, rule, message}]`` with every problem (paths
  like ``spec.eksConfig.nodeGroups[0].minSize``). Bad JSON/YAML syntax is 400; a wrong type or an unknown
  field is 422 naming the field.
- ``GET /v1/clusters`` pages (``limit``, ``continue``) and filters (``labelSelector``, ``phase``,
  ``conflict``, ``failing``, ``q``); ``view=summary`` answers small rows; ``watch=true`` streams changes
  from a ``resourceVersion`` out of the store's change feed (``_list_api``, ``_watch``).
  ``GET /v1/fleet`` gives totals (``_fleet``). ``POST /v1/clusters:sync`` and ``PATCH /v1/clusters`` act
  on a selection (``_bulk``). ``/ui/`` serves the web console (``_ui``), a client of this API only.
- ``PUT`` replaces the spec (labels and annotations only when the body carries some); ``PATCH`` is an RFC 7386
  merge patch of ``spec``, ``metadata.labels`` and ``metadata.annotations`` (null unsets: the field becomes
  unmanaged).
  Both honour ``metadata.resourceVersion`` when given (409 on mismatch); without it a concurrent write is
  retried on a fresh read. Both refuse (409) a cluster being deleted.
- ``DELETE /v1/credentials/...`` is refused (409) while any cluster references the credential.
- Every write is persisted before it is acknowledged; the store's change feed carries it to the replica
  that owns the cluster (any replica accepts any write).
- ``POST /v1/clusters/{name}/sync`` records a sync request (202); the owning replica refreshes at once.
- ``GET /v1/replicas`` lists the replicas sharing the fleet, their shards and cluster counts.
"""

from ._app import build_admin_app
from ._controller import ReplicaView
from ._thread import AdminThread
from ._token import TOKEN_FILE, AdminTokenError, admin_token

__all__ = ["TOKEN_FILE", "AdminThread", "AdminTokenError", "ReplicaView", "admin_token", "build_admin_app"]
