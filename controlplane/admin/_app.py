"""The admin aiohttp application: routes, middlewares (metrics, errors, auth), health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Mapping

import prometheus_client
from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry

from .. import metrics
from ..config import AdminSettings, SyncSettings
from ..store import Store, StoreError
from . import _bulk, _clusters, _credentials, _fleet, _list_api, _replicas, _settings_api, _ui
from ._controller import ReplicaView
from ._http import MAX_BODY_BYTES, ApiError, error_response, json_response
from ._keys import DEFAULT_REGION, HUB, LOGGER, REGISTRY, REPLICA, SETTING_DEFAULTS, SETTINGS, STORE, TOKEN
from ._openapi import openapi_document
from ._watch import WatchHub

_UNMATCHED = "unmatched"


def _route_label(request: web.Request) -> str:
    # The template (``/v1/clusters/{name}``), never the raw path: a label per cluster name would let any
    # client grow the metric's cardinality without bound.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else _UNMATCHED


@web.middleware
async def _metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        route = _route_label(request)
        metrics.ADMIN_REQUESTS.labels(route, request.method, str(status)).inc()
        metrics.ADMIN_REQUEST_SECONDS.labels(route).observe(time.perf_counter() - start)


@web.middleware
async def _error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error becomes ``{"error": ...}`` JSON; nothing unexpected ever leaks a traceback or a value."""
    try:
        return await handler(request)
    except ApiError as exc:
        return json_response(exc.body(), status=exc.status)
    except StoreError as exc:
        # The store refused (locked by another process, disk full, unreachable): nothing was changed, and
        # the same request may succeed in a moment. Its messages carry no values (no secret).
        request.app[LOGGER].warning(
            "admin request refused: store unavailable",
            extra={"route": _route_label(request), "method": request.method, "error": str(exc)},
        )
        response = error_response(503, f"the store is unavailable, retry: {exc}")
        response.headers["Retry-After"] = "1"
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(exc.status, exc.reason)
        for header in ("Allow", "WWW-Authenticate"):
            if header in exc.headers:
                response.headers[header] = exc.headers[header]
        return response
    except Exception as exc:
        logger = request.app[LOGGER]
        route = _route_label(request)
        fields = {"route": route, "method": request.method, "error_type": type(exc).__name__}
        if route.startswith("/v1/credentials"):
            # The exception text could quote a secret from the request; its type is all we log.
            logger.error("admin request failed", extra=fields)  # noqa: TRY400 - no traceback on purpose
        else:
            logger.exception("admin request failed", extra=fields)
        return error_response(500, "internal error")


def _authorized(request: web.Request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), request.app[TOKEN].encode())


@web.middleware
async def _auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    protected = path == "/v1" or path.startswith("/v1/")
    if path == "/metrics" and request.app[SETTINGS].metrics_auth:
        protected = True
    if protected and not _authorized(request):
        response = error_response(401, "missing or invalid bearer token")
        response.headers["WWW-Authenticate"] = 'Bearer realm="controlplane"'
        return response
    return await handler(request)


async def _healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    if request.app[REPLICA].ready():
        return json_response({"status": "ready"})
    return json_response({"status": "not ready"}, status=503)


async def _metrics(request: web.Request) -> web.Response:
    # Rendering a large registry takes tens of milliseconds of pure Python: in a worker thread the
    # event loop keeps serving ticks and API requests in between (the GIL switches every 5 ms).
    body = await asyncio.to_thread(prometheus_client.generate_latest, request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})


async def _openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


async def _watch_hub(app: web.Application) -> AsyncIterator[None]:
    """The watch hub follows the change feed for as long as the app runs (cancelled and awaited at
    cleanup, after ``on_shutdown`` ended every watch so that their handlers return)."""
    task = asyncio.create_task(app[HUB].run(), name="admin-watch-hub")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _end_watches(app: web.Application) -> None:
    app[HUB].end_all("shutdown")


def build_admin_app(
    *,
    store: Store,
    replica: ReplicaView,
    settings: AdminSettings,
    token: str,
    registry: CollectorRegistry,
    logger: logging.Logger,
    setting_defaults: Mapping[str, str] | None = None,
    default_region: str = "",
) -> web.Application:
    """The admin API application; the caller runs it (``web.AppRunner``) and owns store and replica.

    ``setting_defaults`` are the values ``GET /v1/settings`` shows for settings never written through the
    API (by default ``eks-refresh-cron`` = ``SyncSettings().refresh_cron``; pass the configured one).
    ``default_region`` fills the region of a manifest that has none (as eks-operator falls back to the
    SDK's default region); without one, such a manifest is refused.
    """
    if not token:
        raise ValueError("build_admin_app: an empty admin token would let anyone in")
    app = web.Application(
        middlewares=[_metrics_middleware, _error_middleware, _auth_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[STORE] = store
    app[REPLICA] = replica
    app[SETTINGS] = settings
    app[TOKEN] = token
    app[REGISTRY] = registry
    app[LOGGER] = logger
    app[MAX_BODY_BYTES] = settings.max_body_bytes
    app[DEFAULT_REGION] = default_region
    app[SETTING_DEFAULTS] = dict(
        setting_defaults
        if setting_defaults is not None
        else {_settings_api.REFRESH_CRON: SyncSettings().refresh_cron}
    )
    app[HUB] = WatchHub(store, settings)
    app.cleanup_ctx.append(_watch_hub)
    app.on_shutdown.append(_end_watches)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/openapi.json", _openapi)
    r = app.router
    r.add_get("/v1/clusters", _list_api.list_clusters)
    r.add_post("/v1/clusters", _clusters.create_cluster)
    r.add_patch("/v1/clusters", _bulk.patch_clusters)
    r.add_post("/v1/clusters:sync", _bulk.sync_clusters)
    r.add_get("/v1/clusters/{name}", _clusters.get_cluster)
    r.add_put("/v1/clusters/{name}", _clusters.replace_cluster)
    r.add_patch("/v1/clusters/{name}", _clusters.patch_cluster)
    r.add_delete("/v1/clusters/{name}", _clusters.delete_cluster)
    r.add_post("/v1/clusters/{name}/sync", _clusters.sync_cluster)
    r.add_get("/v1/clusters/{name}/events", _clusters.cluster_events)
    r.add_get("/v1/credentials", _credentials.list_credentials)
    r.add_get("/v1/credentials/{namespace}/{name}", _credentials.get_credential)
    r.add_put("/v1/credentials/{namespace}/{name}", _credentials.put_credential)
    r.add_delete("/v1/credentials/{namespace}/{name}", _credentials.delete_credential)
    r.add_get("/v1/replicas", _replicas.list_replicas)
    r.add_get("/v1/settings", _settings_api.list_settings)
    r.add_get("/v1/settings/{name}", _settings_api.get_setting)
    r.add_put("/v1/settings/{name}", _settings_api.put_setting)
    _fleet.install(app)
    _ui.install(app)
    return app
