"""``/v1/clusters``: create, read, replace, merge-patch, delete, sync and events of clusters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

from ..api import (
    Cluster,
    ClusterSpec,
    ClusterStatus,
    Event,
    FieldError,
    ManifestError,
    Metadata,
    Phase,
    decode_manifests,
    validate_create,
    validate_update,
)
from ..store import AlreadyExists, Conflict, NotFound, Store
from ._http import (
    MANIFEST_TYPES,
    MERGE_PATCH_TYPE,
    ApiError,
    FieldErrorBody,
    json_response,
    media_type,
    read_body,
    schema_error,
    shape_error,
    unprocessable,
)
from ._keys import DEFAULT_REGION, STORE
from ._patch import merge_patch

MAX_EVENTS = 1000


class EventList(msgspec.Struct):
    items: list[Event]


class SyncAccepted(msgspec.Struct):
    name: str
    status: str = "sync queued"


def _field_errors(errors: list[FieldError]) -> ApiError:
    return unprocessable([FieldErrorBody(path=e.path, rule=e.rule, message=e.message) for e in errors])


async def _decode_cluster(request: web.Request) -> Cluster:
    """One ``Cluster`` or ``EKSClusterConfig`` document from a JSON or YAML body."""
    kind = media_type(request)
    if kind and kind not in MANIFEST_TYPES:
        raise ApiError(415, f"unsupported media type {kind!r}; expected application/json or application/yaml")
    body = await read_body(request)
    if not body.strip():
        raise ApiError(400, "request body is empty; expected a Cluster or EKSClusterConfig manifest")
    try:
        clusters = decode_manifests(body)
    except ManifestError as exc:
        # A shape error (unknown field, wrong type) names its field: a 422 like any validation error.
        # Anything else (syntax, unknown kind) is a malformed request.
        error = shape_error(exc.message)
        if error is not None:
            raise unprocessable([error]) from None
        raise ApiError(400, str(exc)) from None
    if len(clusters) != 1:
        raise ApiError(400, f"expected exactly one manifest document, got {len(clusters)}")
    return clusters[0]


def _with_region(cluster: Cluster, region: str) -> Cluster:
    """``cluster`` with ``region`` when its manifest left the region empty.

    eks-operator falls back to the SDK's default region for such a manifest (its ``import-example.yaml``
    has none); the default is resolved here, at admission, and recorded in the spec, so the cluster never
    moves to another region when the service's environment changes, and every replica agrees on it."""
    eks = cluster.spec.eks_config
    if eks.region or not region:
        return cluster
    spec = msgspec.structs.replace(cluster.spec, eks_config=msgspec.structs.replace(eks, region=region))
    return msgspec.structs.replace(cluster, spec=spec)


def _name_check(cluster: Cluster, name: str) -> None:
    if cluster.metadata.name and cluster.metadata.name != name:
        raise unprocessable(
            [
                FieldErrorBody(
                    path="metadata.name",
                    rule="immutable",
                    message=f"metadata.name {cluster.metadata.name!r} does not match the URL's {name!r}",
                )
            ]
        )


async def _existing(request: web.Request, name: str) -> Cluster:
    cluster = await request.app[STORE].get_cluster(name)
    if cluster is None:
        raise ApiError(404, f"cluster {name!r} not found")
    return cluster


def _refuse_if_deleting(cluster: Cluster) -> None:
    if cluster.status.phase == Phase.DELETING or cluster.metadata.deletion_timestamp:
        raise ApiError(409, f"cluster {cluster.metadata.name!r} is being deleted")


async def create_cluster(request: web.Request) -> web.Response:
    cluster = await _decode_cluster(request)
    # Server-owned fields are dropped: the store assigns resourceVersion, generation and timestamps, and
    # status is what the control plane observed, never what a client claims.
    name = cluster.metadata.name or cluster.spec.eks_config.display_name
    cluster = msgspec.structs.replace(
        cluster,
        metadata=Metadata(
            name=name, labels=cluster.metadata.labels, annotations=cluster.metadata.annotations
        ),
        status=ClusterStatus(),
    )
    cluster = _with_region(cluster, request.app[DEFAULT_REGION])
    errors = validate_create(cluster)
    if errors:
        raise _field_errors(errors)
    try:
        stored = await request.app[STORE].create_cluster(cluster)
    except AlreadyExists:
        raise ApiError(409, f"cluster {name!r} already exists") from None
    return json_response(stored, status=201)


async def get_cluster(request: web.Request) -> web.Response:
    return json_response(await _existing(request, request.match_info["name"]))


_UPDATE_ATTEMPTS = 3


async def _update(
    request: web.Request, name: str, build: Callable[[Cluster], tuple[Cluster, str]]
) -> web.Response:
    _, stored = await update_cluster(
        request.app[STORE], name, build, default_region=request.app[DEFAULT_REGION]
    )
    return json_response(stored)


async def update_cluster(
    store: Store,
    name: str,
    build: Callable[[Cluster], tuple[Cluster, str]],
    *,
    dry_run: bool = False,
    default_region: str = "",
) -> tuple[Cluster, Cluster]:
    """Read, build the new cluster from the stored one, validate, and compare-and-swap it in; returns
    (the cluster before, the cluster after). ``ApiError`` for what the client must hear.

    ``build`` returns the new cluster and the client's resourceVersion precondition ("" for none). The
    write is always conditional on the version validated against, so validation never judges a stale
    object: without a client precondition a lost race is retried on a fresh read; with one it is a 409.
    ``dry_run`` validates and returns the would-be cluster without writing. ``default_region`` fills an
    empty region when the stored cluster has none either (the service's default region).
    """
    for _ in range(_UPDATE_ATTEMPTS):
        old = await store.get_cluster(name)
        if old is None:
            raise ApiError(404, f"cluster {name!r} not found")
        _refuse_if_deleting(old)
        new, precondition = build(old)
        # An empty region is the default one: the one recorded at creation (re-applying the manifest).
        new = _with_region(new, old.spec.eks_config.region or default_region)
        if precondition and precondition != old.metadata.resource_version:
            raise _stale(name, precondition)
        errors = validate_update(old, new)
        if errors:
            raise _field_errors(errors)
        if dry_run:
            return old, new
        try:
            stored = await store.update_spec(
                name,
                new.spec,
                expected_resource_version=old.metadata.resource_version,
                labels=new.metadata.labels if new.metadata.labels != old.metadata.labels else None,
                annotations=(
                    new.metadata.annotations if new.metadata.annotations != old.metadata.annotations else None
                ),
            )
        except Conflict:
            if precondition:
                raise _stale(name, precondition) from None
            continue
        except NotFound:
            raise ApiError(404, f"cluster {name!r} not found") from None
        return old, stored
    raise ApiError(409, f"cluster {name!r} kept changing while it was being updated; retry")


def _stale(name: str, precondition: str) -> ApiError:
    return ApiError(
        409,
        f"cluster {name!r} was modified (resourceVersion {precondition!r} is stale); get it again and retry",
    )


async def replace_cluster(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = await _decode_cluster(request)
    _name_check(body, name)

    def build(old: Cluster) -> tuple[Cluster, str]:
        # Labels and annotations are replaced only when the body carries some, so re-applying a manifest
        # without them keeps the ones set earlier (e.g. by PATCH).
        meta = msgspec.structs.replace(
            old.metadata,
            labels=body.metadata.labels or old.metadata.labels,
            annotations=body.metadata.annotations or old.metadata.annotations,
        )
        return msgspec.structs.replace(old, metadata=meta, spec=body.spec), body.metadata.resource_version

    return await _update(request, name, build)


_PATCHABLE_METADATA = frozenset({"labels", "annotations", "resourceVersion", "name"})


def _patch_error(path: str, message: str) -> ApiError:
    return unprocessable([FieldErrorBody(path=path, rule="immutable", message=message)])


def apply_patch(old: Cluster, patch: dict[str, Any]) -> tuple[Cluster, str]:
    """The cluster after ``patch`` (RFC 7386), and the resourceVersion precondition it carried."""
    for key in patch:
        if key not in ("spec", "metadata"):
            raise _patch_error(
                key, f"{key} is not patchable; only spec, metadata.labels and metadata.annotations"
            )
    meta_patch = patch.get("metadata") or {}
    if not isinstance(meta_patch, dict):
        raise _patch_error("metadata", "metadata must be an object")
    for key in meta_patch:
        if key not in _PATCHABLE_METADATA:
            raise _patch_error(f"metadata.{key}", f"metadata.{key} is not patchable")
    if "name" in meta_patch and meta_patch["name"] != old.metadata.name:
        raise _patch_error("metadata.name", "metadata.name cannot be changed")
    rv = meta_patch.get("resourceVersion") or ""
    if not isinstance(rv, str):
        raise unprocessable(
            [FieldErrorBody("metadata.resourceVersion", "type", "resourceVersion must be a string")]
        )
    spec = old.spec
    if "spec" in patch:
        if patch["spec"] is None:
            raise _patch_error("spec", "spec cannot be removed")
        merged = merge_patch(msgspec.to_builtins(old.spec), patch["spec"])
        try:
            spec = msgspec.convert(merged, type=ClusterSpec)
        except msgspec.ValidationError as exc:
            raise schema_error(exc, prefix="$.spec") from None
    meta = old.metadata
    new_meta = msgspec.structs.replace(
        meta,
        labels=_merged_map(meta.labels, meta_patch.get("labels", {}), "labels"),
        annotations=_merged_map(meta.annotations, meta_patch.get("annotations", {}), "annotations"),
    )
    return msgspec.structs.replace(old, metadata=new_meta, spec=spec), rv


def _merged_map(current: dict[str, str], patch: Any, field: str) -> dict[str, str]:
    """``metadata.labels`` or ``metadata.annotations`` after a merge patch; ``null`` removes them all."""
    try:
        merged = {} if patch is None else merge_patch(current, patch)
        return msgspec.convert(merged, type=dict[str, str])
    except msgspec.ValidationError as exc:
        raise schema_error(exc, prefix=f"$.metadata.{field}") from None


async def read_merge_patch(request: web.Request) -> dict[str, Any]:
    """A merge patch body: 415 on another media type, 400 unless a JSON object."""
    kind = media_type(request)
    if kind not in (MERGE_PATCH_TYPE, "application/json"):
        raise ApiError(415, f"unsupported media type {kind!r}; expected {MERGE_PATCH_TYPE}")
    body = await read_body(request)
    try:
        patch = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from None
    if not isinstance(patch, dict):
        raise ApiError(400, "a merge patch must be a JSON object")
    return patch


async def patch_cluster(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    patch = await read_merge_patch(request)
    return await _update(request, name, lambda old: apply_patch(old, patch))


def protected(cluster: Cluster) -> bool:
    """A cluster we would delete in AWS whose deletion protection is on (in the spec, or in AWS when the
    spec leaves it unmanaged)."""
    eks = cluster.spec.eks_config
    if eks.imported:
        return False  # deleting an import only forgets it: AWS is never called
    if eks.deletion_protection is not None:
        return eks.deletion_protection
    upstream = cluster.status.eks_status.upstream_spec
    return upstream is not None and upstream.deletion_protection is True


async def delete_cluster(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    store = request.app[STORE]
    existing = await store.get_cluster(name)
    if existing is not None and protected(existing) and not existing.metadata.deletion_timestamp:
        raise ApiError(
            409,
            f"cluster {name!r} has deletion protection: set spec.eksConfig.deletionProtection to false, then "
            "delete it",
        )
    try:
        cluster = await store.mark_deleting(name)
    except NotFound:
        raise ApiError(404, f"cluster {name!r} not found") from None
    return json_response(cluster, status=202)


async def sync_cluster(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    try:
        await request.app[STORE].request_sync(name)
    except NotFound:
        raise ApiError(404, f"cluster {name!r} not found") from None
    return json_response(SyncAccepted(name=name), status=202)


async def cluster_events(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    raw = request.query.get("limit")
    limit: int | None = None
    if raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_EVENTS:
            raise ApiError(400, f"invalid limit {raw!r}; expected an integer from 1 to {MAX_EVENTS}")
        limit = int(raw)
    await _existing(request, name)
    events = await request.app[STORE].list_events(name, limit=limit)
    return json_response(EventList(items=list(events)))
