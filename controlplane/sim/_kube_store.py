"""The object store of one simulated cluster: the verbs on its objects (get, list, create, update,
delete, with Kubernetes' cascades) and the token controller that fills service-account token secrets;
and the ``aws-auth`` ConfigMap as the authorizer reads it."""

from __future__ import annotations

import base64
import datetime as dt
import heapq
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import yaml

from ._kube_resources import (
    CLUSTER_ROLES,
    NAMESPACES,
    RESOURCES_BY_PLURAL,
    SECRETS,
    SERVICE_ACCOUNTS,
    ApiError,
    Key,
    Resource,
    labels_match,
    not_found,
    parse_label_selector,
)

EndpointAccess = Literal["public", "unresolvable", "blackhole"]

SA_TOKEN_TYPE: Final = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION: Final = "kubernetes.io/service-account.name"
SA_UID_ANNOTATION: Final = "kubernetes.io/service-account.uid"
MAX_OBJECTS_PER_CLUSTER: Final = 2000
_GENERATE_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's generateName alphabet


def _now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(value: bytes | str) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


@dataclass(slots=True)
class KubeCluster:
    """The object store of one simulated cluster."""

    name: str
    access: EndpointAccess
    ca_pem: bytes
    token_delay: float
    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    resource_version: int = 0
    issued_tokens: dict[str, Key] = field(default_factory=dict)  # token -> its secret
    pending_tokens: list[tuple[float, Key]] = field(default_factory=list)  # heap by due time

    def __post_init__(self) -> None:
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(NAMESPACES, None, {"metadata": {"name": ns}, "status": {"phase": "Active"}})
        self.create(
            CLUSTER_ROLES,
            None,
            {
                "metadata": {
                    "name": "cluster-admin",
                    "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                    "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
                },
                "rules": [
                    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                    {"nonResourceURLs": ["*"], "verbs": ["*"]},
                ],
            },
        )

    def _next_rv(self) -> str:
        self.resource_version += 1
        return str(self.resource_version)

    @staticmethod
    def _key(resource: Resource, namespace: str | None, name: str) -> Key:
        return (resource.plural, namespace or "", name)

    def _output(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        return {"kind": resource.kind, "apiVersion": resource.api_version, **obj}

    # --- token controller -------------------------------------------------------------------------

    def run_token_controller(self, now: float) -> None:
        """Fill the token secrets whose delay elapsed (lazily, on the next request: no background task)."""
        while self.pending_tokens and self.pending_tokens[0][0] <= now:
            _, key = heapq.heappop(self.pending_tokens)
            secret = self.objects.get(key)
            if secret is None or secret.get("data", {}).get("token"):
                continue
            namespace = key[1]
            meta = secret["metadata"]
            sa_name = meta.get("annotations", {}).get(SA_NAME_ANNOTATION, "")
            sa = self.objects.get(self._key(SERVICE_ACCOUNTS, namespace, sa_name))
            if sa is None:
                # Kubernetes' token controller deletes token secrets of service accounts that do not exist.
                del self.objects[key]
                continue
            token = secrets.token_urlsafe(32)
            self.issued_tokens[token] = key
            meta.setdefault("annotations", {})[SA_UID_ANNOTATION] = sa["metadata"]["uid"]
            secret["data"] = {
                **secret.get("data", {}),
                "token": _b64(token),
                "ca.crt": _b64(self.ca_pem),
                "namespace": _b64(namespace),
            }
            meta["resourceVersion"] = self._next_rv()

    # --- verbs ------------------------------------------------------------------------------------

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.objects.get(self._key(resource, namespace, name))
        if obj is None:
            raise not_found(resource, name)
        return self._output(resource, obj)

    def list_objects(self, resource: Resource, namespace: str | None, label_selector: str) -> dict[str, Any]:
        terms = parse_label_selector(label_selector)
        items = [
            self._output(resource, obj)
            for (plural, ns, _), obj in sorted(self.objects.items())
            if plural == resource.plural
            and (namespace is None or ns == namespace)
            and labels_match(obj["metadata"].get("labels") or {}, terms)
        ]
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": str(self.resource_version)},
            "items": items,
        }

    def _check_body(self, resource: Resource, namespace: str | None, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("metadata", {}), dict):
            raise ApiError(400, "BadRequest", "the body of the request was not a Kubernetes object")
        if body.get("kind") not in (None, resource.kind) or body.get("apiVersion") not in (
            None,
            resource.api_version,
        ):
            raise ApiError(
                400, "BadRequest", f"the object provided is unrecognized (expected {resource.kind})"
            )
        meta = body.setdefault("metadata", {})
        if resource.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            if self._key(NAMESPACES, None, namespace or "") not in self.objects:
                raise not_found(NAMESPACES, namespace or "")
        return body

    def create(self, resource: Resource, namespace: str | None, body: Any) -> dict[str, Any]:
        obj = self._check_body(resource, namespace, body)
        meta = obj["metadata"]
        name = meta.get("name") or ""
        if not name:
            prefix = meta.get("generateName") or ""
            if not prefix:
                raise ApiError(
                    422,
                    "Invalid",
                    f"{resource.kind} is invalid: metadata.name: Required value",
                    kind=resource.kind,
                )
            for _ in range(8):
                name = prefix + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))
                if self._key(resource, namespace, name) not in self.objects:
                    break
        key = self._key(resource, namespace, name)
        if key in self.objects:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{resource.plural} "{name}" already exists',
                kind=resource.plural,
                name=name,
            )
        if len(self.objects) >= MAX_OBJECTS_PER_CLUSTER:
            raise ApiError(
                403, "Forbidden", f"exceeded quota: the simulator keeps {MAX_OBJECTS_PER_CLUSTER} objects"
            )
        if resource is SECRETS:
            self._prepare_secret(obj)
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        meta.update(
            name=name,
            uid=str(uuid.uuid4()),
            resourceVersion=self._next_rv(),
            creationTimestamp=_now_rfc3339(),
        )
        if resource.namespaced:
            meta["namespace"] = namespace
        self.objects[key] = obj
        if resource is NAMESPACES:
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
            # The service-account controller gives every namespace a "default" service account.
            self.objects[self._key(SERVICE_ACCOUNTS, name, "default")] = {
                "metadata": {
                    "name": "default",
                    "namespace": name,
                    "uid": str(uuid.uuid4()),
                    "resourceVersion": self._next_rv(),
                    "creationTimestamp": meta["creationTimestamp"],
                }
            }
        if resource is SECRETS and obj.get("type") == SA_TOKEN_TYPE:
            heapq.heappush(self.pending_tokens, (time.monotonic() + self.token_delay, key))
        return self._output(resource, obj)

    @staticmethod
    def _prepare_secret(obj: dict[str, Any]) -> None:
        obj.setdefault("type", "Opaque")
        data = dict(obj.get("data") or {})
        for k, v in (obj.pop("stringData", None) or {}).items():
            data[k] = _b64(str(v))
        for k, v in data.items():
            try:
                base64.b64decode(v, validate=True)
            except (ValueError, TypeError):
                raise ApiError(422, "Invalid", f"Secret is invalid: data[{k}]: Invalid value") from None
        obj["data"] = data
        if obj["type"] == SA_TOKEN_TYPE and not (obj["metadata"].get("annotations") or {}).get(
            SA_NAME_ANNOTATION
        ):
            raise ApiError(
                422,
                "Invalid",
                f"Secret is invalid: metadata.annotations[{SA_NAME_ANNOTATION}]: Required value",
                kind="Secret",
            )

    def update(self, resource: Resource, namespace: str | None, name: str, body: Any) -> dict[str, Any]:
        obj = self._check_body(resource, namespace, body)
        meta = obj["metadata"]
        if meta.get("name") != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        key = self._key(resource, namespace, name)
        current = self.objects.get(key)
        if current is None:
            raise not_found(resource, name)
        current_meta = current["metadata"]
        if meta.get("resourceVersion") not in (None, "", current_meta["resourceVersion"]):
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {resource.plural} "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                kind=resource.plural,
                name=name,
            )
        if resource is SECRETS:
            self._prepare_secret(obj)
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        meta.update(
            uid=current_meta["uid"],
            creationTimestamp=current_meta["creationTimestamp"],
            resourceVersion=self._next_rv(),
        )
        if resource.namespaced:
            meta["namespace"] = namespace
        self.objects[key] = obj
        return self._output(resource, obj)

    def delete(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        key = self._key(resource, namespace, name)
        if key not in self.objects:
            raise not_found(resource, name)
        doomed = [key]
        if resource is NAMESPACES:
            doomed += [k for k in self.objects if k[1] == name and RESOURCES_BY_PLURAL[k[0]].namespaced]
        elif resource is SERVICE_ACCOUNTS:
            # The token controller deletes the token secrets of a deleted service account.
            doomed += [
                k
                for k, obj in self.objects.items()
                if k[0] == "secrets"
                and k[1] == namespace
                and (obj["metadata"].get("annotations") or {}).get(SA_NAME_ANNOTATION) == name
            ]
        for k in doomed:
            del self.objects[k]
        if any(k[0] == "secrets" for k in doomed):
            # A deleted token secret's token stops authenticating.
            gone = set(doomed)
            self.issued_tokens = {t: k for t, k in self.issued_tokens.items() if k not in gone}
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "kind": resource.plural},
        }


def aws_auth_mappings(cluster: KubeCluster) -> dict[str, set[str]]:
    """The ``kube-system/aws-auth`` ConfigMap's ``mapRoles`` and ``mapUsers``: ARN -> groups."""
    obj = cluster.objects.get(("configmaps", "kube-system", "aws-auth"))
    out: dict[str, set[str]] = {}
    if obj is None:
        return out
    data = obj.get("data") or {}
    for key, arn_key in (("mapRoles", "rolearn"), ("mapUsers", "userarn")):
        try:
            items = yaml.safe_load(data.get(key) or "") or []
        except yaml.YAMLError:
            continue  # a broken ConfigMap maps nobody, as in EKS
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get(arn_key), str):
                out.setdefault(item[arn_key], set()).update(str(g) for g in item.get("groups") or [])
    return out
