"""The core of the simulated EKS: every region's clusters, the lifecycle heap, and the plug-in point.

Each EKS resource (clusters, node groups, updates, add-ons, tags, ...) is a module of functions over
this backend that declares one ``Resource``: its API routes and, when its records have lifecycles,
how they move. ``_eks.RESOURCES`` lists them; nothing here knows any resource by name.

Lifecycles are lazy and cheap: every pending transition is one entry in a heap ordered by its due
time, processed by ``advance(now)`` (called before each request and by one shared loop timer).
There is no task per cluster, so tens of thousands of clusters cost only their records.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from . import _errors as err
from ._model import ClusterRec, UpdateRec, render_cluster
from ._rules import partition
from ._settings import SimSettings
from ._wire import Json, QueryReader


class AwsLookup(Protocol):
    """What EKS learns from other services (served by moto): launch templates and subnets."""

    def launch_template(
        self, region: str, lt_id: str | None, lt_name: str | None, version: str | None
    ) -> dict[str, str] | None:
        """``{id, name, version}`` with the version resolved to a number, or None when not found.
        Raises ``LookupError`` when the template exists but the version does not."""
        ...

    def subnet_vpc(self, region: str, subnet_id: str) -> str | None:
        """The VPC of a subnet, or None when moto does not know the subnet."""
        ...

    def principal(self, access_key: str, region: str) -> str:
        """The IAM principal (role or user ARN) behind an access key, as STS reports it."""
        ...


class Endpoints(Protocol):
    """The downstream Kubernetes API endpoints (KubeFleet, or plain names when disabled)."""

    @property
    def ca_data(self) -> str: ...

    def add_cluster(self, name: str, endpoint_access: str) -> str: ...

    def remove_cluster(self, name: str) -> None: ...


Handler = Callable[["EksBackend", str, list[str], QueryReader, bytes], "Json | bytes"]
"""One operation on the wire: (backend, region, path segments, query, body) -> answer."""
Routes = Mapping[tuple[str, tuple[str, ...]], tuple[str, Handler]]
"""(method, path shape with the variable segments as "*") -> (operation name, handler)."""
Transition = Callable[["EksBackend", ClusterRec, Any], None]
"""Moves one record of a cluster: a lifecycle step that came due, or a completed update."""


class _Settling(Protocol):
    name: str
    status: str
    modified_at: float


def start_deleting(b: EksBackend, kind: str, c: ClusterRec, rec: _Settling, seconds: float) -> None:
    """A cluster's sub-resource (node group, add-on, ...) is DELETING, and ``settle`` removes it
    after ``seconds``."""
    rec.status = "DELETING"
    rec.modified_at = b.wall()
    b.schedule(kind, c, rec, seconds)
    b.generation += 1


def settle(b: EksBackend, records: MutableMapping[str, Any], rec: _Settling) -> None:
    """The lifecycle step of a cluster's sub-resource that came due: CREATING becomes ACTIVE,
    DELETING leaves ``records``."""
    if rec.status == "CREATING":
        rec.status = "ACTIVE"
        rec.modified_at = b.wall()
    elif rec.status == "DELETING":
        del records[rec.name]
    b.generation += 1


def _no_records(c: ClusterRec) -> Iterable[Any]:
    return ()


@dataclass(frozen=True, slots=True)
class Resource:
    """One EKS resource type as the backend sees it: its operations and its records' lifecycles."""

    routes: Routes
    """The resource's API operations."""
    kind: str | None = None
    """Names its records in the lifecycle heap, and the target of an update (``update_target``).
    None for a resource without records of its own (tags)."""
    records: Callable[[ClusterRec], Iterable[Any]] = _no_records
    """A cluster's records of this kind (each with a ``due``), to persist and restore them."""
    on_due: Transition | None = None
    """Applies the lifecycle step of one of its records whose ``due`` time came."""
    apply_update: Callable[[EksBackend, ClusterRec, UpdateRec], None] | None = None
    """Applies a completed update whose target is this kind to the target record."""
    tagged: bool = False
    """Its records have an ``arn`` and ``tags``, and ``kind`` is the resource type in that ARN
    (``arn:PARTITION:eks:REGION:ACCOUNT:KIND/CLUSTER/...``), for TagResource and friends."""


class EksBackend:
    """All simulated EKS state of every region; the resources' modules hold the rules of the API."""

    def __init__(
        self,
        settings: SimSettings,
        *,
        resources: Sequence[Resource],
        clock: Callable[[], float],
        wall: Callable[[], float],
        endpoints: Endpoints,
        lookup: AwsLookup,
        on_due: Callable[[float], None] = lambda due: None,
    ) -> None:
        self.settings = settings
        self.wall = wall
        """Wall-clock seconds, for the timestamps EKS answers with."""
        self.endpoints = endpoints
        self.lookup = lookup
        self._clock = clock
        self._on_due = on_due
        self._kinds = {r.kind: r for r in resources if r.kind is not None}
        self._regions: dict[str, dict[str, ClusterRec]] = {}
        self._sorted: dict[str, list[str]] = {}
        self._heap: list[tuple[float, int, str, ClusterRec, Any]] = []
        self._seq = itertools.count()
        self._cluster_body: dict[str, bytes] = {}
        self.generation = 0
        """Bumped on every change; the persister saves when it moved."""
        self.caller: str | None = None
        """The access key of the request being served (set by the handler before each EKS operation)."""

    # --- changes and lifecycles -----------------------------------------------------------------

    def touch(self, c: ClusterRec) -> None:
        """Record a change of the cluster's own answer (drops its cached DescribeCluster body)."""
        self._cluster_body.pop(c.arn, None)
        self.generation += 1

    def schedule(self, kind: str, c: ClusterRec, rec: Any, seconds: float) -> None:
        """Move ``rec`` (of ``kind``, in cluster ``c``) after ``seconds`` of simulated time; a record
        has one pending step at a time, so this replaces any earlier one."""
        self._push(kind, c, rec, self._clock() + self.settings.scaled(seconds))

    def _push(self, kind: str, c: ClusterRec, rec: Any, due: float) -> None:
        rec.due = due
        heapq.heappush(self._heap, (due, next(self._seq), kind, c, rec))
        self._on_due(due)

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def advance(self, now: float | None = None) -> None:
        """Apply every transition due by ``now``. Stale heap entries (rescheduled or removed
        records) are skipped by comparing the record's current ``due``."""
        heap = self._heap
        if not heap:
            return
        t = self._clock() if now is None else now
        while heap and heap[0][0] <= t:
            due, _, kind, c, rec = heapq.heappop(heap)
            if rec.due != due or self._regions.get(c.region, {}).get(c.name) is not c:
                continue
            rec.due = None
            on_due = self._kinds[kind].on_due
            assert on_due is not None, f"{kind} records have no lifecycle"
            on_due(self, c, rec)

    def tagged(self, kind: str) -> Resource | None:
        """The resource whose ARNs name ``kind``, when it takes tags."""
        r = self._kinds.get(kind)
        return r if r is not None and r.tagged else None

    def apply_update(self, target: str, c: ClusterRec, u: UpdateRec) -> None:
        """Hand a completed update to the resource of its target kind."""
        apply = self._kinds[target].apply_update
        assert apply is not None, f"{target} records take no updates"
        apply(self, c, u)

    # --- clusters by region ---------------------------------------------------------------------

    def find(self, region: str, name: str) -> ClusterRec | None:
        return self._regions.get(region, {}).get(name)

    def find_any(self, name: str) -> ClusterRec | None:
        """The cluster called ``name`` in whichever region has one (the Kubernetes endpoints are per name)."""
        for clusters in self._regions.values():
            c = clusters.get(name)
            if c is not None:
                return c
        return None

    def cluster(self, region: str, name: str) -> ClusterRec:
        c = self._regions.get(region, {}).get(name)
        if c is None:
            raise err.cluster_not_found(name)
        return c

    def clusters(self) -> Iterator[ClusterRec]:
        for r in self._regions.values():
            yield from r.values()

    def names(self, region: str) -> list[str]:
        """The region's cluster names, sorted (kept until a cluster comes or goes)."""
        names = self._sorted.get(region)
        if names is None:
            names = self._sorted[region] = sorted(self._regions.get(region, {}))
        return names

    def cluster_body(self, c: ClusterRec) -> bytes:
        """The encoded DescribeCluster answer, kept until the cluster is touched: clients poll it."""
        body = self._cluster_body.get(c.arn)
        if body is None:
            body = self._cluster_body[c.arn] = msgspec.json.encode({"cluster": render_cluster(c)})
        return body

    def add_cluster(self, c: ClusterRec) -> None:
        r = self._regions.get(c.region)
        if r is None:
            r = self._regions[c.region] = {}
        r[c.name] = c
        self._sorted.pop(c.region, None)
        c.endpoint = self.endpoints.add_cluster(c.name, c.endpoint_access)
        c.ca_data = self.endpoints.ca_data
        self.touch(c)

    def drop_cluster(self, c: ClusterRec) -> None:
        del self._regions[c.region][c.name]
        self._sorted.pop(c.region, None)
        self.endpoints.remove_cluster(c.name)
        self.touch(c)

    # --- persistence ----------------------------------------------------------------------------

    def records(self, c: ClusterRec) -> Iterator[tuple[str, Any]]:
        """Every record of the cluster that can have a pending lifecycle step, with its kind."""
        for kind, r in self._kinds.items():
            for rec in r.records(c):
                yield kind, rec

    def restore(self, c: ClusterRec, remaining: dict[int, float]) -> None:
        """Re-insert a persisted cluster; ``remaining`` maps ``id(record)`` to the delay left."""
        self.add_cluster(c)
        for kind, rec in self.records(c):
            left = remaining.get(id(rec))
            if left is not None:
                self._push(kind, c, rec, self._clock() + max(left, 0.0))

    def reset(self) -> None:
        for c in list(self.clusters()):
            self.endpoints.remove_cluster(c.name)
        self._regions.clear()
        self._sorted.clear()
        self._heap.clear()
        self._cluster_body.clear()
        self.generation += 1

    # --- what every resource needs --------------------------------------------------------------

    def caller_principal(self, region: str) -> str | None:
        """The IAM principal of the request being served, or None for an unsigned one."""
        return None if self.caller is None else self.lookup.principal(self.caller, region)

    def arn(self, region: str, resource: str) -> str:
        return f"arn:{partition(region)}:eks:{region}:{self.settings.account_id}:{resource}"

    def version(self, version: str | None) -> str:
        """``version`` (or the default) when the simulator supports it."""
        v = version or self.settings.default_kubernetes_version
        if v not in self.settings.kubernetes_versions:
            raise err.invalid_parameter(
                f"unsupported Kubernetes version {v}; supported versions: "
                + ", ".join(self.settings.kubernetes_versions)
            )
        return v
