"""The list API's pure parts: query parameters, continue tokens, summary rows and the list documents.

Pagination follows Kubernetes: ``limit`` (default 500, at most 5,000) and an opaque ``continue`` token in
the answer's ``metadata``. A token holds the last name returned, the feed position of the first page
(every page answers the same ``metadata.resourceVersion``, so a watch started from it after the last
page misses nothing) and a fingerprint of the filters (a token is refused with other filters).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from ..api import API_VERSION, Cluster, ClusterDigest, Phase
from ..store import ClusterQuery, in_conflict
from ..store._query import CONFLICT_CONDITION
from ._selector import SelectorError, parse_selector

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
MAX_WATCH_TIMEOUT = 3600
_PHASES = {p.value: p for p in Phase}
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no", "")

View = Literal["full", "summary"]


class ParamError(ValueError):
    """A bad query parameter (answered 400); the message names the parameter."""


class ListParams(msgspec.Struct, frozen=True):
    """``GET /v1/clusters``'s parameters, checked."""

    query: ClusterQuery = ClusterQuery()
    limit: int = DEFAULT_LIMIT
    continue_token: str = ""
    view: View = "full"
    watch: bool = False
    resource_version: int | None = None
    """Where a watch starts (``None``: from now)."""
    timeout_seconds: float | None = None
    """A watch ends after this many seconds (``None``: when the client or the server leaves)."""
    filtered: bool = False
    """Whether any filter parameter was given (``labelSelector=`` counts: it selects everything)."""


def _flag(params: Mapping[str, str], name: str) -> bool:
    raw = params.get(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ParamError(f"invalid {name} {raw!r}; expected true or false")


def _int(params: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ParamError(f"invalid {name} {raw!r}; expected an integer from {low} to {high}")
    return int(raw)


FILTER_PARAMS = ("labelSelector", "phase", "conflict", "failing", "q")


def parse_query(params: Mapping[str, str]) -> ClusterQuery:
    """The filters: ``labelSelector``, ``phase``, ``conflict``, ``failing`` and ``q`` (a name prefix)."""
    try:
        labels = parse_selector(params.get("labelSelector", ""))
    except SelectorError as exc:
        raise ParamError(f"invalid labelSelector: {exc}") from None
    phase = params.get("phase")
    if phase is not None and phase not in _PHASES:
        valid = ", ".join(repr(p) for p in sorted(_PHASES))
        raise ParamError(f"invalid phase {phase!r}; expected one of {valid}")
    return ClusterQuery(
        labels=labels,
        phase=None if phase is None else _PHASES[phase],
        name_prefix=params.get("q", ""),
        conflict=_flag(params, "conflict"),
        failing=_flag(params, "failing"),
    )


def parse_list_params(params: Mapping[str, str]) -> ListParams:
    view = params.get("view", "full")
    if view not in ("full", "summary"):
        raise ParamError(f"invalid view {view!r}; expected full or summary")
    watch = _flag(params, "watch")
    rv = _int(params, "resourceVersion", 0, 2**63 - 1)
    timeout = _int(params, "timeoutSeconds", 1, MAX_WATCH_TIMEOUT)
    if not watch and timeout is not None:
        raise ParamError("timeoutSeconds applies to watch=true only")
    limit = _int(params, "limit", 1, MAX_LIMIT)
    if watch and (limit is not None or "continue" in params):
        raise ParamError("limit and continue apply to lists; a watch streams every change")
    return ListParams(
        query=parse_query(params),
        limit=DEFAULT_LIMIT if limit is None else limit,
        continue_token=params.get("continue", ""),
        view="summary" if view == "summary" else "full",
        watch=watch,
        resource_version=rv or None,
        timeout_seconds=None if timeout is None else float(timeout),
        filtered=any(p in params for p in FILTER_PARAMS),
    )


# --- continue tokens --------------------------------------------------------------------------------
class _Token(msgspec.Struct, frozen=True, array_like=True):
    after: str
    rv: int
    query: str


def fingerprint(query: ClusterQuery) -> str:
    return hashlib.blake2b(msgspec.json.encode(query), digest_size=6).hexdigest()


def encode_continue(after: str, rv: int, query: ClusterQuery) -> str:
    raw = msgspec.json.encode(_Token(after, rv, fingerprint(query)))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str, query: ClusterQuery) -> tuple[str, int]:
    """(last name returned, feed position of the first page); ``ParamError`` for a bad or foreign token."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = msgspec.json.decode(raw, type=_Token)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise ParamError("invalid continue token; start the list again without it") from None
    if decoded.query != fingerprint(query):
        raise ParamError("the continue token belongs to a list with other filters; keep the same filters")
    return decoded.after, decoded.rv


# --- documents --------------------------------------------------------------------------------------
class ListMeta(msgspec.Struct, omit_defaults=True, rename="camel"):
    resource_version: str
    """The change-feed position the list started at: watch from it to follow the list."""
    continue_: str = msgspec.field(default="", name="continue")
    """Pass as ``continue`` for the next page; absent on the last page."""


class ClusterSummary(msgspec.Struct, rename="camel", omit_defaults=True):
    """One small row per cluster (``view=summary``), for tables and the console."""

    name: str
    phase: str
    """The status phase (``new`` before the first pass; ``deleting`` once deletion was requested)."""
    version: str
    """The desired Kubernetes version, or the upstream one when unmanaged; ``""`` when unknown."""
    node_groups: int | None
    """Node groups (desired, or upstream when unmanaged); ``None`` when unknown."""
    last_sync_time: str
    message: str
    """The failure message, or the first condition with a message that is not ``True`` (or a conflict)."""
    conflict: bool
    failing: bool = False
    labels: dict[str, str] = msgspec.field(default_factory=dict)


def summarize(cluster: Cluster | ClusterDigest) -> ClusterSummary:
    """The summary row of a cluster, or of its digest (a list reads only digests; a watch has clusters)."""
    status = cluster.status
    eks = cluster.spec.eks_config
    upstream = status.eks_status.upstream_spec
    version = eks.kubernetes_version or (upstream.kubernetes_version if upstream else None) or ""
    groups = eks.node_groups if eks.node_groups is not None else (upstream.node_groups if upstream else None)
    phase = status.phase.value or "new"
    if cluster.metadata.deletion_timestamp:
        phase = "deleting"
    message = status.failure_message
    if not message:
        # A conflict (a True condition) is news; otherwise the first condition not yet True says why.
        for c in status.conditions:
            if c.message and (c.status != "True" or c.type == CONFLICT_CONDITION):
                message = f"{c.type}: {c.message}"
                break
    return ClusterSummary(
        name=cluster.metadata.name,
        phase=phase,
        version=version,
        node_groups=None if groups is None else len(groups),
        last_sync_time=status.last_sync_time,
        message=" ".join(message.split())[:200],
        conflict=in_conflict(cluster),
        failing=bool(status.failure_message),
        labels=cluster.metadata.labels,
    )


class ClusterList(msgspec.Struct, rename="camel"):
    """``GET /v1/clusters``: a page of clusters."""

    metadata: ListMeta
    items: list[Cluster]
    api_version: str = API_VERSION
    kind: str = "ClusterList"


class ClusterSummaryList(msgspec.Struct, rename="camel"):
    """``GET /v1/clusters?view=summary``: a page of summary rows."""

    metadata: ListMeta
    items: list[ClusterSummary]
    api_version: str = API_VERSION
    kind: str = "ClusterSummaryList"


def changed_paths(old: Any, new: Any, path: str = "") -> list[str]:
    """The dotted paths where two JSON-like values differ (lists are compared whole)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(old.keys() | new.keys()):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                out.append(sub)
            else:
                out += changed_paths(old[key], new[key], sub)
        return out
    return [] if old == new else [path]
