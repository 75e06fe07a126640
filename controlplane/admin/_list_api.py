"""``GET /v1/clusters``: paged, filtered lists (full objects or summary rows) and watches.

Resource versions: a list's ``metadata.resourceVersion`` and a watch event's ``resourceVersion`` are
positions in the store's change feed (``Store.head()``); start a watch from them. A cluster's own
``metadata.resourceVersion`` is something else: the version of its spec and metadata, the precondition
of a PUT or PATCH. Clients treat both as opaque; one mistaken for the other is refused (an old position
is answered 410 Gone, a stale object version 409), never silently misread.
"""

from __future__ import annotations

import contextlib

import anyio
from aiohttp import web

from ..store import ChangesExpired
from ._http import ApiError, json_response
from ._keys import HUB, SETTINGS, STORE
from ._listing import (
    ClusterList,
    ClusterSummaryList,
    ListMeta,
    ListParams,
    ParamError,
    decode_continue,
    encode_continue,
    parse_list_params,
    summarize,
)
from ._watch import TooManyWatches, WatchHub

WATCH_CONTENT_TYPE = "application/json"
"""Watch events are JSON lines (one event per line) over chunked HTTP, like Kubernetes' watch stream."""


def list_params(request: web.Request) -> ListParams:
    try:
        return parse_list_params(request.query)
    except ParamError as exc:
        raise ApiError(400, str(exc)) from None


async def list_clusters(request: web.Request) -> web.StreamResponse:
    params = list_params(request)
    if params.watch:
        return await watch_clusters(request, params)
    store = request.app[STORE]
    if params.continue_token:
        try:
            after, rv = decode_continue(params.continue_token, params.query)
        except ParamError as exc:
            raise ApiError(400, str(exc)) from None
    else:
        # The head first: every change after it is either in the pages or replayed by a watch from it.
        after, rv = "", await store.head()
    if params.view == "summary":
        digests = await store.list_digests(params.query, after=after, limit=params.limit)
        meta = _list_meta(rv, params, digests.items[-1].metadata.name if digests.more else "")
        return json_response(ClusterSummaryList(metadata=meta, items=[summarize(d) for d in digests.items]))
    page = await store.list_page(params.query, after=after, limit=params.limit)
    meta = _list_meta(rv, params, page.items[-1].metadata.name if page.more else "")
    return json_response(ClusterList(metadata=meta, items=page.items))


def _list_meta(rv: int, params: ListParams, last: str) -> ListMeta:
    """The list's position, and a continue token after ``last`` when more follow (``last`` not empty)."""
    return ListMeta(
        resource_version=str(rv), continue_=encode_continue(last, rv, params.query) if last else ""
    )


def _bearer(request: web.Request) -> str:
    return request.headers.get("Authorization", "").partition(" ")[2].strip()


async def watch_clusters(request: web.Request, params: ListParams) -> web.StreamResponse:
    hub: WatchHub = request.app[HUB]
    settings = request.app[SETTINGS]
    await hub.ready()
    store = request.app[STORE]
    after = params.resource_version
    if after is None:
        after = await store.head()  # from now; the hub may not have delivered everything before it yet
    else:
        try:
            await store.changes_since(after, limit=1)
        except ChangesExpired as exc:
            raise ApiError(410, f"resourceVersion {after} is too old: {exc}; list again") from None
    try:
        watch = hub.open(params.query, params.view, after, WatchHub.owner_of(_bearer(request)))
    except TooManyWatches as exc:
        raise ApiError(429, str(exc)) from None
    response = web.StreamResponse(headers={"Content-Type": WATCH_CONTENT_TYPE, "Cache-Control": "no-store"})
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        with watch.scope:
            if params.timeout_seconds is not None:
                watch.scope.deadline = anyio.current_time() + params.timeout_seconds
            await watch.stream(response.write, settings.watch_bookmark_interval)
        if watch.scope.cancelled_caught and watch.reason == "client":
            watch.reason = "timeout"
    except (ConnectionResetError, OSError):
        watch.reason = "client"
    finally:
        hub.close(watch)
    if watch.reason == "slow_reader":
        # Its writes are stuck behind a full socket: drop the connection rather than wait on it.
        if request.transport is not None:
            request.transport.abort()
        return response
    with contextlib.suppress(ConnectionResetError, OSError), anyio.move_on_after(1.0):
        await response.write_eof()
    return response
