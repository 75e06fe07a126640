"""Bulk actions on the clusters a selector picks: ``POST /v1/clusters:sync`` and ``PATCH /v1/clusters``.

Both need a filter (``labelSelector``, ``phase``, ``conflict``, ``failing`` or ``q``; an explicit empty
``labelSelector=`` selects every cluster), walk the selection page by page (memory bounded by a page,
not the fleet), act on each cluster on its own and answer one result per cluster. ``dryRun=All`` (or
``true``) validates and reports what would change without writing anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
from aiohttp import web

from ..api import Cluster
from ..store import ClusterQuery, NotFound, Store
from ._clusters import apply_patch, read_merge_patch, update_cluster
from ._http import ApiError, FieldErrorBody, json_response, unprocessable
from ._keys import DEFAULT_REGION, STORE
from ._listing import FILTER_PARAMS, ParamError, changed_paths, parse_query

PAGE = 500


class BulkItem(msgspec.Struct, omit_defaults=True, rename="camel"):
    """What happened to one selected cluster."""

    name: str
    result: str
    """``sync queued``, ``would sync``, ``patched``, ``would patch``, ``unchanged``, ``failed`` or
    ``gone`` (deleted while the action ran)."""
    changes: list[str] | None = None
    """The fields the patch changes (``spec.eksConfig.nodeGroups``, ``metadata.labels.env``...)."""
    error: str = ""
    errors: list[FieldErrorBody] | None = None
    """Validation errors, as a single PATCH would answer them."""


class BulkResult(msgspec.Struct, rename="camel"):
    dry_run: bool
    matched: int
    results: dict[str, int]
    """How many clusters ended with each result."""
    items: list[BulkItem]


def _dry_run(request: web.Request) -> bool:
    raw = request.query.get("dryRun")
    if raw is None or raw.lower() in ("", "false"):
        return False
    if raw in ("All", "all", "true"):
        return True
    raise ApiError(400, f"invalid dryRun {raw!r}; expected All (or true)")


def _selection(request: web.Request) -> ClusterQuery:
    if not any(p in request.query for p in FILTER_PARAMS):
        raise ApiError(
            400,
            "a bulk action needs a selection: labelSelector, phase, conflict, failing or q "
            "(an empty labelSelector= selects every cluster)",
        )
    try:
        return parse_query(request.query)
    except ParamError as exc:
        raise ApiError(400, str(exc)) from None


async def _selected(store: Store, query: ClusterQuery) -> AsyncIterator[str]:
    after = ""
    while True:
        page = await store.list_digests(query, after=after, limit=PAGE)  # only the names are needed
        for cluster in page.items:
            yield cluster.metadata.name
        if not page.more:
            return
        after = page.items[-1].metadata.name


def _answer(dry_run: bool, items: list[BulkItem]) -> web.Response:
    results: dict[str, int] = {}
    for item in items:
        results[item.result] = results.get(item.result, 0) + 1
    return json_response(BulkResult(dry_run=dry_run, matched=len(items), results=results, items=items))


async def sync_clusters(request: web.Request) -> web.Response:
    query, dry_run = _selection(request), _dry_run(request)
    store = request.app[STORE]
    items: list[BulkItem] = []
    async for name in _selected(store, query):
        if dry_run:
            items.append(BulkItem(name, "would sync"))
            continue
        try:
            await store.request_sync(name)
        except NotFound:
            items.append(BulkItem(name, "gone"))
        else:
            items.append(BulkItem(name, "sync queued"))
    return _answer(dry_run, items)


def _visible(cluster: Cluster) -> dict[str, Any]:
    meta = cluster.metadata
    return {
        "metadata": {"labels": meta.labels, "annotations": meta.annotations},
        "spec": msgspec.to_builtins(cluster.spec),
    }


async def patch_clusters(request: web.Request) -> web.Response:
    query, dry_run = _selection(request), _dry_run(request)
    patch = await read_merge_patch(request)
    meta = patch.get("metadata")
    if isinstance(meta, dict):
        for key in ("resourceVersion", "name"):
            if key in meta:
                raise unprocessable(
                    [
                        FieldErrorBody(
                            f"metadata.{key}", "immutable", f"a bulk patch cannot carry metadata.{key}"
                        )
                    ]
                )
    store = request.app[STORE]
    items: list[BulkItem] = []
    async for name in _selected(store, query):
        try:
            before, after = await update_cluster(
                store,
                name,
                lambda old: apply_patch(old, patch),
                dry_run=dry_run,
                default_region=request.app[DEFAULT_REGION],
            )
        except ApiError as exc:
            result = "gone" if exc.status == 404 else "failed"
            items.append(BulkItem(name, result, error=exc.message, errors=exc.errors))
            continue
        changes = changed_paths(_visible(before), _visible(after))
        if not changes:
            items.append(BulkItem(name, "unchanged"))
        else:
            items.append(BulkItem(name, "would patch" if dry_run else "patched", changes=changes))
    return _answer(dry_run, items)
