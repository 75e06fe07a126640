"""The simulator's downstream Kubernetes API servers: one TLS listener for every simulated cluster.

Each public cluster is served under a path prefix, ``https://127.0.0.1:PORT/k8s/<name>``, with its
own small in-memory object store. The API checks EKS bearer tokens (aws-iam-authenticator format)
with its own verifier (``_iam_auth``) and serves the objects Rancher's service-account-token
procedure touches (namespaces, service accounts, secrets, cluster roles and bindings) in Kubernetes'
JSON shapes, with ``Status`` objects for errors. A token controller fills
``kubernetes.io/service-account-token`` secrets a few milliseconds after they are created, so the
client's wait loop is exercised.

Private-only clusters get endpoints that cannot be used directly: ``unresolvable`` ones under the
reserved ``.invalid`` TLD, ``blackhole`` ones on a shared TCP listener that accepts and never speaks.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import heapq
import ipaddress
import os
import re
import secrets
import ssl
import tempfile
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import quote

import msgspec
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ._iam_auth import TOKEN_PREFIX, TokenRejected, verify_token

__all__ = ["EndpointAccess", "KubeFleet", "Pki", "generate_pki"]

EndpointAccess = Literal["public", "unresolvable", "blackhole"]

SA_TOKEN_TYPE: Final = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION: Final = "kubernetes.io/service-account.name"
SA_UID_ANNOTATION: Final = "kubernetes.io/service-account.uid"
RBAC_GROUP: Final = "rbac.authorization.k8s.io"
KUBE_VERSION: Final = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.4-eks-sim",
    "platform": "linux/amd64",
}
MAX_OBJECTS_PER_CLUSTER: Final = 2000
MAX_BLACKHOLE_CONNECTIONS: Final = 1024
_EKS_NAME_RE: Final = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
_GENERATE_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's generateName alphabet


# --- PKI --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pki:
    """A CA and one server certificate it signed (PEM). EC P-256 keys: generated in about a millisecond."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @property
    def ca_data(self) -> str:
        """The CA as EKS reports it in ``certificateAuthority.data``: base64 of the PEM."""
        return base64.b64encode(self.ca_pem).decode()

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # load_cert_chain only reads files; the key lives on disk for microseconds, in a private dir.
        with tempfile.TemporaryDirectory(prefix="kubesim-") as tmp:
            cert, key = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
            with open(cert, "wb") as f:
                f.write(self.cert_pem)
            with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
                f.write(self.key_pem)
            context.load_cert_chain(cert, key)
        return context


def generate_pki(hosts: Sequence[str], *, ca_name: str = "kubernetes-sim-ca") -> Pki:
    """A fresh CA and a server certificate for ``hosts`` (IP addresses and DNS names)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Pki(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


# --- API errors ---------------------------------------------------------------------------------------


class _ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, *, kind: str = "", name: str = "") -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.kind, self.name = code, reason, message, kind, name

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.kind or self.name:
            details: dict[str, Any] = {"name": self.name, "kind": self.kind}
            body["details"] = details
        return body


def _not_found(resource: _Resource, name: str) -> _ApiError:
    return _ApiError(
        404, "NotFound", f'{resource.plural} "{name}" not found', kind=resource.plural, name=name
    )


# --- resources ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Resource:
    group: str
    plural: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ("create", "delete", "get", "list", "update")

    @property
    def api_version(self) -> str:
        return f"{self.group}/v1" if self.group else "v1"


_RESOURCES: Final = {
    (r.group, r.plural): r
    for r in (
        _Resource("", "namespaces", "Namespace", namespaced=False),
        _Resource("", "serviceaccounts", "ServiceAccount", namespaced=True),
        _Resource("", "secrets", "Secret", namespaced=True),
        _Resource("", "configmaps", "ConfigMap", namespaced=True),
        _Resource(RBAC_GROUP, "clusterroles", "ClusterRole", namespaced=False),
        _Resource(RBAC_GROUP, "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
        _Resource(RBAC_GROUP, "roles", "Role", namespaced=True),
        _Resource(RBAC_GROUP, "rolebindings", "RoleBinding", namespaced=True),
    )
}
_NAMESPACES: Final = _RESOURCES[("", "namespaces")]
_SERVICE_ACCOUNTS: Final = _RESOURCES[("", "serviceaccounts")]
_SECRETS: Final = _RESOURCES[("", "secrets")]
_CLUSTER_ROLES: Final = _RESOURCES[(RBAC_GROUP, "clusterroles")]

_Key = tuple[str, str, str]  # (plural, namespace or "", name)


def _now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(value: bytes | str) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


def _parse_label_selector(selector: str) -> list[tuple[str, str, str]]:
    """Equality-based selectors (``a=b``, ``a==b``, ``a!=b``, ``a``, ``!a``), comma-separated."""
    terms: list[tuple[str, str, str]] = []
    for raw in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in raw:
            k, v = raw.split("!=", 1)
            terms.append(("!=", k.strip(), v.strip()))
        elif "==" in raw:
            k, v = raw.split("==", 1)
            terms.append(("=", k.strip(), v.strip()))
        elif "=" in raw:
            k, v = raw.split("=", 1)
            terms.append(("=", k.strip(), v.strip()))
        elif raw.startswith("!"):
            terms.append(("!", raw[1:].strip(), ""))
        elif " " in raw or "(" in raw:
            raise _ApiError(400, "BadRequest", f"unable to parse requirement: {raw}")
        else:
            terms.append(("exists", raw, ""))
    return terms


def _matches(labels: dict[str, str], terms: list[tuple[str, str, str]]) -> bool:
    for op, key, value in terms:
        if (
            (op == "=" and labels.get(key) != value)
            or (op == "!=" and labels.get(key) == value)
            or (op == "exists" and key not in labels)
            or (op == "!" and key in labels)
        ):
            return False
    return True


@dataclass(slots=True)
class _KubeCluster:
    """The object store of one simulated cluster."""

    name: str
    access: EndpointAccess
    ca_pem: bytes
    token_delay: float
    objects: dict[_Key, dict[str, Any]] = field(default_factory=dict)
    resource_version: int = 0
    issued_tokens: dict[str, _Key] = field(default_factory=dict)  # token -> its secret
    pending_tokens: list[tuple[float, _Key]] = field(default_factory=list)  # heap by due time

    def __post_init__(self) -> None:
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(_NAMESPACES, None, {"metadata": {"name": ns}, "status": {"phase": "Active"}})
        self.create(
            _CLUSTER_ROLES,
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
    def _key(resource: _Resource, namespace: str | None, name: str) -> _Key:
        return (resource.plural, namespace or "", name)

    def _output(self, resource: _Resource, obj: dict[str, Any]) -> dict[str, Any]:
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
            sa = self.objects.get(self._key(_SERVICE_ACCOUNTS, namespace, sa_name))
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

    def get(self, resource: _Resource, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.objects.get(self._key(resource, namespace, name))
        if obj is None:
            raise _not_found(resource, name)
        return self._output(resource, obj)

    def list_objects(self, resource: _Resource, namespace: str | None, label_selector: str) -> dict[str, Any]:
        terms = _parse_label_selector(label_selector)
        items = [
            self._output(resource, obj)
            for (plural, ns, _), obj in sorted(self.objects.items())
            if plural == resource.plural
            and (namespace is None or ns == namespace)
            and _matches(obj["metadata"].get("labels") or {}, terms)
        ]
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": str(self.resource_version)},
            "items": items,
        }

    def _check_body(self, resource: _Resource, namespace: str | None, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("metadata", {}), dict):
            raise _ApiError(400, "BadRequest", "the body of the request was not a Kubernetes object")
        if body.get("kind") not in (None, resource.kind) or body.get("apiVersion") not in (
            None,
            resource.api_version,
        ):
            raise _ApiError(
                400, "BadRequest", f"the object provided is unrecognized (expected {resource.kind})"
            )
        meta = body.setdefault("metadata", {})
        if resource.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise _ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            if self._key(_NAMESPACES, None, namespace or "") not in self.objects:
                raise _not_found(_NAMESPACES, namespace or "")
        return body

    def create(self, resource: _Resource, namespace: str | None, body: Any) -> dict[str, Any]:
        obj = self._check_body(resource, namespace, body)
        meta = obj["metadata"]
        name = meta.get("name") or ""
        if not name:
            prefix = meta.get("generateName") or ""
            if not prefix:
                raise _ApiError(
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
            raise _ApiError(
                409,
                "AlreadyExists",
                f'{resource.plural} "{name}" already exists',
                kind=resource.plural,
                name=name,
            )
        if len(self.objects) >= MAX_OBJECTS_PER_CLUSTER:
            raise _ApiError(
                403, "Forbidden", f"exceeded quota: the simulator keeps {MAX_OBJECTS_PER_CLUSTER} objects"
            )
        if resource is _SECRETS:
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
        if resource is _NAMESPACES:
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
            # The service-account controller gives every namespace a "default" service account.
            self.objects[self._key(_SERVICE_ACCOUNTS, name, "default")] = {
                "metadata": {
                    "name": "default",
                    "namespace": name,
                    "uid": str(uuid.uuid4()),
                    "resourceVersion": self._next_rv(),
                    "creationTimestamp": meta["creationTimestamp"],
                }
            }
        if resource is _SECRETS and obj.get("type") == SA_TOKEN_TYPE:
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
                raise _ApiError(422, "Invalid", f"Secret is invalid: data[{k}]: Invalid value") from None
        obj["data"] = data
        if obj["type"] == SA_TOKEN_TYPE and not (obj["metadata"].get("annotations") or {}).get(
            SA_NAME_ANNOTATION
        ):
            raise _ApiError(
                422,
                "Invalid",
                f"Secret is invalid: metadata.annotations[{SA_NAME_ANNOTATION}]: Required value",
                kind="Secret",
            )

    def update(self, resource: _Resource, namespace: str | None, name: str, body: Any) -> dict[str, Any]:
        obj = self._check_body(resource, namespace, body)
        meta = obj["metadata"]
        if meta.get("name") != name:
            raise _ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        key = self._key(resource, namespace, name)
        current = self.objects.get(key)
        if current is None:
            raise _not_found(resource, name)
        current_meta = current["metadata"]
        if meta.get("resourceVersion") not in (None, "", current_meta["resourceVersion"]):
            raise _ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {resource.plural} "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                kind=resource.plural,
                name=name,
            )
        if resource is _SECRETS:
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

    def delete(self, resource: _Resource, namespace: str | None, name: str) -> dict[str, Any]:
        key = self._key(resource, namespace, name)
        if key not in self.objects:
            raise _not_found(resource, name)
        doomed = [key]
        if resource is _NAMESPACES:
            doomed += [k for k in self.objects if k[1] == name and _RESOURCES_BY_PLURAL[k[0]].namespaced]
        elif resource is _SERVICE_ACCOUNTS:
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


_RESOURCES_BY_PLURAL: Final = {r.plural: r for r in _RESOURCES.values()}


# --- the blackhole ----------------------------------------------------------------------------------------


class _Blackhole(asyncio.Protocol):
    """Accepts a connection, reads and discards whatever arrives, never writes."""

    def __init__(self, held: OrderedDict[_Blackhole, asyncio.Transport]) -> None:
        self._held = held

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._held[self] = transport
        # Bounded: beyond the cap the oldest connection (normally abandoned by its client) is dropped.
        while len(self._held) > MAX_BLACKHOLE_CONNECTIONS:
            _, oldest = self._held.popitem(last=False)
            oldest.abort()

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._held.pop(self, None)


# --- the fleet ------------------------------------------------------------------------------------------


def _sanitise_dns_label(name: str) -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return label or "cluster"


def aws_auth_mappings(cluster: _KubeCluster) -> dict[str, set[str]]:
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


class KubeFleet:
    """Downstream Kubernetes API servers of every simulated cluster, behind one TLS listener.

    Lifecycle: ``async with KubeFleet() as fleet`` starts the listeners and generates the CA;
    ``add_cluster`` / ``remove_cluster`` work only while it is running.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        secret_for_access_key: Callable[[str], str | None] | None = None,
        authorize: Callable[[str, str, dict[str, set[str]]], int] | None = None,
        token_delay: float = 0.005,
    ) -> None:
        self._host = host
        self._secret_for_access_key = secret_for_access_key
        self._authorize = authorize
        """``(cluster, access key, aws-auth ARN -> groups) -> 0 | 401 | 403``: whether the IAM identity of
        a verified token may use the cluster (EKS's access entries and the aws-auth ConfigMap)."""
        self._token_delay = token_delay
        self._clusters: dict[str, _KubeCluster] = {}
        self._pki: Pki | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._blackhole: asyncio.Server | None = None
        self._blackhole_port = 0
        self._held: OrderedDict[_Blackhole, asyncio.Transport] = OrderedDict()
        self._state: Literal["new", "running", "closed"] = "new"

    def __repr__(self) -> str:
        return f"KubeFleet(state={self._state}, port={self._port}, clusters={len(self._clusters)})"

    # --- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> KubeFleet:
        if self._state != "new":
            raise RuntimeError(f"KubeFleet cannot be started: it is {self._state}")
        self._state = "running"
        try:
            hosts = list(dict.fromkeys([self._host, "127.0.0.1", "localhost"]))
            self._pki = generate_pki(hosts)
            app = web.Application()
            app.router.add_route("*", "/k8s/{cluster}/{tail:.*}", self._handle)
            app.router.add_route("*", "/k8s/{cluster}", self._handle)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.25)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self._host, 0, ssl_context=self._pki.server_context())
            await site.start()
            self._port = self._runner.addresses[0][1]
            loop = asyncio.get_running_loop()
            self._blackhole = await loop.create_server(lambda: _Blackhole(self._held), self._host, 0)
            self._blackhole_port = self._blackhole.sockets[0].getsockname()[1]
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    async def _close(self) -> None:
        self._state = "closed"
        if self._blackhole is not None:
            self._blackhole.close()
            for transport in list(self._held.values()):
                transport.abort()
            self._held.clear()
            await self._blackhole.wait_closed()
            self._blackhole = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._clusters.clear()

    def _require_running(self) -> None:
        if self._state != "running":
            raise RuntimeError(f"KubeFleet is {self._state}; use it inside 'async with'")

    # --- public surface ---------------------------------------------------------------------------

    @property
    def ca_data(self) -> str:
        """Base64 of the simulator CA's PEM, as EKS returns it in ``certificateAuthority.data``."""
        if self._pki is None:
            raise RuntimeError("KubeFleet has no CA before it is started")
        return self._pki.ca_data

    def endpoint(self, name: str) -> str:
        """The endpoint URL of a registered cluster (as ``add_cluster`` returned it)."""
        cluster = self._clusters.get(name)
        if cluster is None:
            raise KeyError(name)
        return self._endpoint(cluster)

    def _endpoint(self, cluster: _KubeCluster) -> str:
        if cluster.access == "unresolvable":
            return f"https://{_sanitise_dns_label(cluster.name)}.unresolvable.invalid"
        host = f"[{self._host}]" if ":" in self._host else self._host
        if cluster.access == "blackhole":
            return f"https://{host}:{self._blackhole_port}"
        return f"https://{host}:{self._port}/k8s/{quote(cluster.name, safe='')}"

    def add_cluster(self, name: str, endpoint_access: EndpointAccess) -> str:
        """Register ``name`` (or change its endpoint access, keeping its objects); return its endpoint."""
        self._require_running()
        if not _EKS_NAME_RE.match(name):
            raise ValueError(f"invalid EKS cluster name: {name!r}")
        if endpoint_access not in ("public", "unresolvable", "blackhole"):
            raise ValueError(f"unknown endpoint access: {endpoint_access!r}")
        assert self._pki is not None
        cluster = self._clusters.get(name)
        if cluster is None:
            cluster = _KubeCluster(name, endpoint_access, self._pki.ca_pem, self._token_delay)
            self._clusters[name] = cluster
        cluster.access = endpoint_access
        return self._endpoint(cluster)

    def remove_cluster(self, name: str) -> None:
        """Forget ``name`` and its objects (no error if unknown, like a repeated delete)."""
        self._require_running()
        self._clusters.pop(name, None)

    @property
    def blackhole_connections(self) -> int:
        """Connections currently held open by the blackhole listener."""
        return len(self._held)

    # --- HTTP ---------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._dispatch(request)
        except _ApiError as exc:
            return self._json(exc.status(), status=exc.code)

    @staticmethod
    def _json(body: dict[str, Any], *, status: int = 200) -> web.Response:
        return web.Response(body=msgspec.json.encode(body), status=status, content_type="application/json")

    def _authenticate(self, request: web.Request, cluster: _KubeCluster) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            if token.startswith(TOKEN_PREFIX):
                try:
                    verified = verify_token(
                        token,
                        cluster_name=cluster.name,
                        now=dt.datetime.now(dt.UTC),
                        secret_for_access_key=self._secret_for_access_key,
                    )
                except TokenRejected:
                    pass
                else:
                    self._authorize_identity(cluster, verified.access_key_id)
                    return
            elif token in cluster.issued_tokens:
                return
        raise _ApiError(401, "Unauthorized", "Unauthorized")

    def _authorize_identity(self, cluster: _KubeCluster, access_key: str) -> None:
        if self._authorize is None:
            return
        verdict = self._authorize(cluster.name, access_key, aws_auth_mappings(cluster))
        if verdict == 401:
            raise _ApiError(401, "Unauthorized", "Unauthorized")
        if verdict == 403:
            raise _ApiError(
                403, "Forbidden", "the IAM identity is known to the cluster but has no administrator access"
            )

    async def _dispatch(self, request: web.Request) -> web.Response:
        cluster = self._clusters.get(request.match_info["cluster"])
        if cluster is None or cluster.access != "public":
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")
        segments = [s for s in request.match_info.get("tail", "").split("/") if s]
        if segments in (["version"], ["healthz"], ["livez"], ["readyz"]):
            if request.method != "GET":
                raise _ApiError(405, "MethodNotAllowed", f"{request.method} is not supported")
            if segments == ["version"]:
                return self._json(KUBE_VERSION)
            return web.Response(text="ok")
        self._authenticate(request, cluster)
        cluster.run_token_controller(time.monotonic())

        if segments[:2] == ["api", "v1"]:
            group, rest = "", segments[2:]
        elif segments[:1] == ["apis"] and len(segments) >= 3 and segments[2] == "v1":
            group, rest = segments[1], segments[3:]
        elif segments == ["api"]:
            return self._json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        elif segments == ["apis"]:
            return self._json(_group_list())
        else:
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            if request.method != "GET" or not any(g == group for g, _ in _RESOURCES):
                raise _ApiError(404, "NotFound", "the server could not find the requested resource")
            return self._json(_resource_list(group))

        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        resource = _RESOURCES.get((group, rest[0]))
        if resource is None or len(rest) > 2 or (namespace is not None and not resource.namespaced):
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) == 2 else None
        if resource.namespaced and namespace is None and request.method != "GET":
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")

        method = request.method
        if name is None and method == "GET":
            return self._json(
                cluster.list_objects(resource, namespace, request.query.get("labelSelector", ""))
            )
        if name is None and method == "POST":
            return self._json(cluster.create(resource, namespace, await self._body(request)), status=201)
        if name is not None and method == "GET":
            return self._json(cluster.get(resource, namespace, name))
        if name is not None and method == "PUT":
            return self._json(cluster.update(resource, namespace, name, await self._body(request)))
        if name is not None and method == "DELETE":
            return self._json(cluster.delete(resource, namespace, name))
        raise _ApiError(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
        )

    @staticmethod
    async def _body(request: web.Request) -> Any:
        try:
            return msgspec.json.decode(await request.read())
        except msgspec.DecodeError:
            raise _ApiError(400, "BadRequest", "the request body is not valid JSON") from None


def _group_list() -> dict[str, Any]:
    groups = sorted({g for g, _ in _RESOURCES if g})
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"},
            }
            for g in groups
        ],
    }


def _resource_list(group: str) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/v1" if group else "v1",
        "resources": [
            {
                "name": r.plural,
                "singularName": r.kind.lower(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(r.verbs),
            }
            for (g, _), r in sorted(_RESOURCES.items())
            if g == group
        ],
    }
