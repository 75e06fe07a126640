"""The OpenAPI 3.1 document of the admin API, built from the msgspec types and the validation rules.

The types give the shapes; the rule registry (``controlplane.api.registered_rules``) gives, on the field each
rule names, its bounds as JSON Schema and its ``rule`` name and message under ``x-rules``: the same objects
the validators report through, so the document and the 422 answers cannot disagree.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from ..api import Cluster, Credential, CredentialInfo, RancherManifest, registered_rules
from ._bulk import BulkResult
from ._clusters import EventList, SyncAccepted
from ._credentials import CredentialBody, CredentialList
from ._fleet import FleetSummary
from ._http import ErrorBody
from ._listing import ClusterList, ClusterSummaryList
from ._replicas import ReplicaList
from ._settings_api import SettingBody, SettingList, SettingValue

_REF = "#/components/schemas/{name}"
_MODELS: tuple[Any, ...] = (
    Cluster,
    ClusterList,
    ClusterSummaryList,
    BulkResult,
    FleetSummary,
    EventList,
    SyncAccepted,
    CredentialBody,
    CredentialInfo,
    CredentialList,
    SettingBody,
    SettingValue,
    SettingList,
    ErrorBody,
    RancherManifest,
    ReplicaList,
)
_CLUSTER_TYPES = ("application/json", "application/yaml", "application/x-yaml", "text/yaml")
_PUBLISHED_ON: dict[type, type] = {Credential: CredentialBody}
"""Where the rules of a type that is not served are published: a credential's, on the body that sets it."""


def _schema_hook(typ: type) -> dict[str, Any]:
    # ``dict[str, object]`` (an ignored Rancher status) accepts any JSON value.
    if typ is object:
        return {"description": "any JSON value"}
    raise NotImplementedError(f"no JSON schema for {typ!r}")


def _non_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an ``X | None`` schema; the schema itself when it is not one."""
    branches = schema.get("anyOf", ())
    others = [b for b in branches if b.get("type") != "null"]
    return others[0] if len(branches) == 2 and len(others) == 1 else schema


def _constrained(prop: dict[str, Any], part: str) -> dict[str, Any]:
    """The schema a rule's constraints apply to: the value, its items, its keys or its values."""
    node = _non_null(prop)
    if part == "items":
        return _non_null(node["items"])
    if part == "keys":
        names: dict[str, Any] = node.setdefault("propertyNames", {})
        return names
    if part == "values":
        return _non_null(node["additionalProperties"])
    return node


def _merge(node: dict[str, Any], fragment: dict[str, Any]) -> None:
    for key, value in fragment.items():
        if key not in node:
            node[key] = value
        elif node[key] != value:  # two rules bound the same keyword: both must hold
            node.setdefault("allOf", []).append({key: value})


def _publish_rules(components: dict[str, Any]) -> None:
    """Every registered rule on each field it names: bounds as JSON Schema, rule and message in x-rules."""
    for rule in registered_rules():
        for struct, field in rule.fields:
            prop = components[_PUBLISHED_ON.get(struct, struct).__name__]["properties"][field]
            entry = {"rule": rule.kind, "message": rule.template(), "origin": rule.origin}
            prop.setdefault("x-rules", []).append(entry)
            if rule.constraints:
                _merge(_constrained(prop, rule.part), rule.schema())
                if rule.part == "value" and "default" in prop and not rule.allows(prop["default"]):
                    del prop["default"]  # e.g. displayName's "": decoded when absent, but always refused


_KINDS = {
    "Cluster": ("eks-controlplane.io/v1", "Cluster"),
    "RancherManifest": ("eks.cattle.io/v1", "EKSClusterConfig"),
    "ClusterList": ("eks-controlplane.io/v1", "ClusterList"),
    "ClusterSummaryList": ("eks-controlplane.io/v1", "ClusterSummaryList"),
}
"""apiVersion and kind of each manifest and list type: required, and the only values served or decoded (an
empty page is otherwise valid under both list schemas, and a client could not tell which it got)."""


def _pin_kinds(components: dict[str, Any]) -> None:
    for name, (api_version, kind) in _KINDS.items():
        schema = components[name]
        schema["properties"]["apiVersion"] = {"type": "string", "const": api_version}
        schema["properties"]["kind"] = {"type": "string", "const": kind}
        schema["required"] = sorted({*schema.get("required", ()), "apiVersion", "kind"})


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF.format(name=name)}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _error(description: str) -> dict[str, Any]:
    return _json("ErrorBody", description)


def _unavailable() -> dict[str, Any]:
    out = _error("the store refused the operation (locked, disk full, unreachable); nothing changed: retry")
    out["headers"] = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}}
    return out


def _op(
    summary: str,
    responses: dict[str, dict[str, Any]],
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    auth: bool = True,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": dict(responses)}
    if auth:
        op["responses"]["401"] = _error("missing or wrong bearer token")
        op["responses"]["500"] = _error("internal error (a defect: details are logged, never returned)")
        op["responses"]["503"] = _unavailable()
    else:
        op["security"] = []
    if body is not None:
        op["requestBody"] = body
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _cluster_body(description: str) -> dict[str, Any]:
    schema = {"oneOf": [_ref("Cluster"), _ref("RancherManifest")]}
    return {
        "required": True,
        "description": description,
        "content": {t: {"schema": schema} for t in _CLUSTER_TYPES},
    }


_FILTER_PARAMS = [
    _query(
        "labelSelector", {"type": "string"}, "Kubernetes label selector: env=prod,tier!=dev,team in (a,b),!x"
    ),
    _query(
        "phase",
        {"type": "string", "enum": ["", "creating", "importing", "active", "updating", "deleting"]},
        "only clusters in this phase",
    ),
    _query("conflict", {"type": "boolean"}, "only clusters with a Conflict condition"),
    _query("failing", {"type": "boolean"}, "only clusters with a failureMessage"),
    _query("q", {"type": "string"}, "only clusters whose name starts with this"),
]
_LIST_PARAMS = [
    *_FILTER_PARAMS,
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 5000, "default": 500}, "page size"),
    _query("continue", {"type": "string"}, "metadata.continue of the previous page (same filters)"),
    _query("view", {"type": "string", "enum": ["full", "summary"]}, "summary: one small row per cluster"),
]
_WATCH_PARAMS = [
    _query("watch", {"type": "boolean"}, "stream changes instead of listing"),
    _query(
        "resourceVersion",
        {"type": "string"},
        "watch from this change-feed position (a list's metadata.resourceVersion or an event's); absent: now",
    ),
    _query("timeoutSeconds", {"type": "integer", "minimum": 1, "maximum": 3600}, "end the watch after this"),
]
_DRY_RUN = _query("dryRun", {"type": "string", "enum": ["All"]}, "validate and report, write nothing")


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The document served at ``/openapi.json`` (computed once)."""
    (_, components) = msgspec.json.schema_components(_MODELS, schema_hook=_schema_hook, ref_template=_REF)
    _publish_rules(components)
    _pin_kinds(components)
    name = [_path_param("name")]
    cred = [_path_param("namespace"), _path_param("name")]
    bad = _error("malformed body (JSON/YAML syntax) or bad query parameter")
    invalid = _error("validation failed: every error with its path and rule in `errors`")
    missing = _error("no such cluster")
    too_big = _error("request body larger than admin.max_body_bytes")
    paths: dict[str, Any] = {
        "/healthz": {"get": _op("Liveness", {"200": {"description": "alive"}}, auth=False)},
        "/readyz": {
            "get": _op(
                "Readiness: the replica joined and every shard it owns has its actors running",
                {"200": {"description": "ready"}, "503": {"description": "not ready yet"}},
                auth=False,
            )
        },
        "/metrics": {
            "get": _op(
                "Prometheus metrics (text exposition format); bearer token only if admin.metrics_auth",
                {"200": {"description": "metrics", "content": {"text/plain": {}}}},
                auth=False,
            )
        },
        "/openapi.json": {"get": _op("This document", {"200": {"description": "OpenAPI"}}, auth=False)},
        "/v1/clusters": {
            "get": _op(
                "List clusters in pages (limit + continue), filtered; or, with watch=true, stream their "
                "changes as JSON lines (ADDED, MODIFIED, DELETED, BOOKMARK; each "
                '{"type", "resourceVersion", "object"}) from resourceVersion',
                {
                    "200": {
                        "description": "a page (ClusterList, or ClusterSummaryList with view=summary), or a "
                        "watch stream (chunked JSON lines)",
                        "content": {
                            "application/json": {
                                "schema": {"oneOf": [_ref("ClusterList"), _ref("ClusterSummaryList")]}
                            }
                        },
                    },
                    "400": bad,
                    "410": _error("watch: resourceVersion is older than the change feed keeps; list again"),
                    "429": _error("watch: this token holds admin.max_watches_per_token watches"),
                },
                params=[*_LIST_PARAMS, *_WATCH_PARAMS],
            ),
            "patch": _op(
                "Merge-patch every cluster the selection picks (a filter is required; labelSelector= "
                "selects all); one result per cluster; dryRun=All shows what would change",
                {"200": _json("BulkResult", "per-cluster results"), "400": bad, "415": bad, "422": invalid},
                body={
                    "required": True,
                    "content": {"application/merge-patch+json": {"schema": {"type": "object"}}},
                },
                params=[*_FILTER_PARAMS, _DRY_RUN],
            ),
            "post": _op(
                "Create a cluster from a Cluster or EKSClusterConfig manifest (one document). "
                "metadata.name defaults to spec.eksConfig.displayName; status is ignored.",
                {
                    "201": _json("Cluster", "created (persisted)"),
                    "400": bad,
                    "409": _error("a cluster with this name exists"),
                    "413": too_big,
                    "415": _error("unsupported media type"),
                    "422": invalid,
                },
                body=_cluster_body("the cluster manifest"),
            ),
        },
        "/v1/clusters/{name}": {
            "get": _op(
                "Get a cluster", {"200": _json("Cluster", "the cluster"), "404": missing}, params=name
            ),
            "put": _op(
                "Replace a cluster's spec (metadata.resourceVersion, when given, must match)",
                {
                    "200": _json("Cluster", "updated (persisted)"),
                    "400": bad,
                    "404": missing,
                    "409": _error("resourceVersion mismatch, or the cluster is being deleted"),
                    "413": too_big,
                    "422": invalid,
                },
                body=_cluster_body("the cluster manifest"),
                params=name,
            ),
            "patch": _op(
                "JSON merge patch (RFC 7386) of spec and metadata.labels; null unsets a field",
                {
                    "200": _json("Cluster", "updated (persisted)"),
                    "400": bad,
                    "404": missing,
                    "409": _error("resourceVersion mismatch, or the cluster is being deleted"),
                    "415": _error("not application/merge-patch+json"),
                    "422": invalid,
                },
                body={
                    "required": True,
                    "content": {"application/merge-patch+json": {"schema": {"type": "object"}}},
                },
                params=name,
            ),
            "delete": _op(
                "Delete a cluster and its AWS resources (phase deleting until AWS is clean, then 404)",
                {
                    "202": _json("Cluster", "deletion accepted"),
                    "404": missing,
                    "409": _error("the cluster has deletion protection (AWS is not called)"),
                },
                params=name,
            ),
        },
        "/v1/clusters:sync": {
            "post": _op(
                "Ask for an immediate refresh of every cluster the selection picks (a filter is required)",
                {"200": _json("BulkResult", "per-cluster results"), "400": bad},
                params=[*_FILTER_PARAMS, _DRY_RUN],
            )
        },
        "/v1/fleet": {
            "get": _op(
                "Fleet totals: by phase and version, conflicts, failures, support windows, refresh lag",
                {"200": _json("FleetSummary", "totals")},
            )
        },
        "/v1/clusters/{name}/sync": {
            "post": _op(
                "Refresh a cluster from AWS now",
                {
                    "202": _json("SyncAccepted", "queued"),
                    "404": missing,
                },
                params=name,
            )
        },
        "/v1/clusters/{name}/events": {
            "get": _op(
                "A cluster's recent events, newest last",
                {"200": _json("EventList", "events"), "400": bad, "404": missing},
                params=[
                    *name,
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "newest N"),
                ],
            )
        },
        "/v1/credentials": {
            "get": _op("List credentials (metadata only)", {"200": _json("CredentialList", "credentials")})
        },
        "/v1/credentials/{namespace}/{name}": {
            "get": _op(
                "Get a credential's metadata (never a secret value)",
                {"200": _json("CredentialInfo", "metadata"), "404": _error("no such credential")},
                params=cred,
            ),
            "put": _op(
                "Create or replace a credential (referenced as amazonCredentialSecret: namespace:name)",
                {
                    "200": _json("CredentialInfo", "replaced"),
                    "201": _json("CredentialInfo", "created"),
                    "400": bad,
                    "413": too_big,
                    "422": invalid,
                },
                body={
                    "required": True,
                    "content": {"application/json": {"schema": _ref("CredentialBody")}},
                },
                params=cred,
            ),
            "delete": _op(
                "Delete a credential",
                {
                    "204": {"description": "deleted"},
                    "404": _error("no such credential"),
                    "409": _error("a cluster references the credential"),
                },
                params=cred,
            ),
        },
        "/v1/replicas": {
            "get": _op(
                "The replicas sharing the fleet: heartbeats, shards and cluster counts",
                {"200": _json("ReplicaList", "replicas")},
            )
        },
        "/v1/settings": {"get": _op("All settings", {"200": _json("SettingList", "settings")})},
        "/v1/settings/{name}": {
            "get": _op(
                "One setting",
                {"200": _json("SettingValue", "value"), "404": _error("unknown setting")},
                params=name,
            ),
            "put": _op(
                "Change a setting (eks-refresh-cron: 5-field cron, @hourly-style, or @every <duration>)",
                {
                    "200": _json("SettingValue", "stored and applied"),
                    "400": bad,
                    "404": _error("unknown setting"),
                    "422": invalid,
                },
                body={"required": True, "content": {"application/json": {"schema": _ref("SettingBody")}}},
                params=name,
            ),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "eks-controlplane admin API", "version": "v1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
