"""Downstream Kubernetes access: Rancher's service-account-token procedure through kubernetes-asyncio.

:func:`generate_service_account_token` does what Rancher's ``GenerateServiceAccountToken`` does
(rancher-eks-management-behavior.md §4.2), call for call and with the same object names, labels,
annotations, rules and error texts, and returns the legacy token of ``cattle-system/kontainer-engine``.

TLS is always verified against the cluster CA only (``certificateAuthority.data``); the bearer
token is an EKS IAM token (see :mod:`controlplane.token`). Tokens never appear in errors or logs.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import socket
import ssl
import tempfile
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal, TypeVar

import aiohttp
import anyio
import msgspec
from kubernetes_asyncio.client import ApiClient, Configuration, CoreV1Api, RbacAuthorizationV1Api
from kubernetes_asyncio.client.exceptions import ApiException

from controlplane.metrics import DOWNSTREAM_REQUESTS

__all__ = [
    "CATTLE_NAMESPACE",
    "SERVICE_ACCOUNT",
    "DownstreamError",
    "DownstreamSettings",
    "TokenSource",
    "generate_service_account_token",
]

CATTLE_NAMESPACE: Final = "cattle-system"
SERVICE_ACCOUNT: Final = "kontainer-engine"
CLUSTER_ADMIN: Final = "cluster-admin"
CLUSTER_ROLE_BINDING: Final = "system-netes-default-clusterRoleBinding"
SECRET_REF_ANNOTATION: Final = "rancher.io/service-account.secret-ref"
SECRET_LABEL: Final = "cattle.io/service-account.name"
SA_NAME_ANNOTATION: Final = "kubernetes.io/service-account.name"
SA_TOKEN_TYPE: Final = "kubernetes.io/service-account-token"
WAIT_TIMEOUT_MESSAGE: Final = "timed out waiting for the condition"

TokenSource = str | Callable[[], Awaitable[str]]
"""A bearer token, or an async callable returning one (e.g. a bound ``TokenMinter.token``)."""

ErrorKind = Literal["api", "dns", "timeout", "tls", "connection", "invalid", "not_ready"]

_T = TypeVar("_T")


class DownstreamSettings(msgspec.Struct, frozen=True, kw_only=True):
    request_timeout: float = 45.0
    """Seconds allowed per API request (Rancher's downstream clients use 45 s)."""
    overall_timeout: float = 120.0
    """Seconds allowed for the whole procedure; a bound Rancher lacks."""
    token_poll_interval: float = 0.002
    """Seconds between reads of the token secret while the token controller fills it (Rancher: 2 ms)."""
    token_poll_attempts: int = 50
    """Reads of the token secret before giving up (Rancher: 50)."""
    token_wait_timeout: float = 5.0
    """Seconds the token wait may take in total, whatever the round-trip time."""


class DownstreamError(Exception):
    """The procedure failed. ``kind`` says how, for callers that classify (tunnel detection):
    ``dns`` (name did not resolve, not temporary), ``timeout``, ``tls`` (handshake/verification),
    ``connection`` (refused, reset, temporary DNS failure), ``api`` (an HTTP error status from the
    API server; see ``status``), ``not_ready`` (the token controller did not fill the secret in time;
    Rancher's ``timed out waiting for the condition``) or ``invalid`` (bad endpoint or CA data)."""

    def __init__(self, message: str, *, kind: ErrorKind, status: int | None = None) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.status = status


class _Failure(Exception):
    """One failed API call, already counted; ``message`` is what Go's error string would say."""

    def __init__(self, message: str, *, kind: ErrorKind, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.message, self.kind, self.status, self.reason = message, kind, status, reason

    def prefixed(self, prefix: str) -> _Failure:
        """The same failure with context in front of its message (Go's ``fmt.Errorf("...: %w")``)."""
        return _Failure(prefix + self.message, kind=self.kind, status=self.status, reason=self.reason)

    def wrap(self, prefix: str) -> DownstreamError:
        return DownstreamError(f"{prefix}{self.message}", kind=self.kind, status=self.status)

    @property
    def not_found(self) -> bool:
        return self.status == 404 and self.reason in ("NotFound", "")

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"

    @property
    def conflict(self) -> bool:
        return self.status == 409 and self.reason == "Conflict"

    @property
    def internal_error(self) -> bool:
        return self.status == 500 and self.reason == "InternalError"


def _from_api_exception(exc: ApiException) -> _Failure:
    status = int(exc.status or 0)
    reason, message = "", ""
    try:
        body = msgspec.json.decode(exc.body or b"{}")
    except msgspec.DecodeError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        reason, message = str(body.get("reason") or ""), str(body.get("message") or "")
    return _Failure(
        message or f"{exc.reason or 'error'} ({status})", kind="api", status=status, reason=reason
    )


def _from_transport_error(exc: BaseException) -> _Failure:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TimeoutError):
            return _Failure("i/o timeout", kind="timeout")
        if isinstance(cause, ssl.SSLCertVerificationError):
            # aiohttp's ClientConnectorCertificateError is one too; it carries the real error.
            inner = getattr(cause, "certificate_error", cause)
            detail = getattr(inner, "verify_message", None) or str(inner)
            return _Failure(f"tls: failed to verify certificate: {detail}", kind="tls")
        if isinstance(cause, ssl.SSLError):
            return _Failure(f"tls: {cause.reason or cause}", kind="tls")
        if isinstance(cause, socket.gaierror):
            kind: ErrorKind = "connection" if cause.errno == socket.EAI_AGAIN else "dns"
            return _Failure(f"lookup failed: {cause.strerror}", kind=kind)
        cause = (
            getattr(cause, "certificate_error", None) or getattr(cause, "os_error", None) or cause.__cause__
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _Failure(
            f"dial tcp {exc.host}:{exc.port}: {exc.strerror or 'connect failed'}", kind="connection"
        )
    return _Failure(str(exc) or type(exc).__name__, kind="connection")


def _outcome(failure: _Failure) -> str:
    if failure.kind != "api":
        return failure.kind
    status = failure.status or 0
    return {401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict"}.get(
        status, "server_error" if status >= 500 else "client_error"
    )


async def _call(request: Awaitable[_T]) -> _T:
    """Await one API request, count its outcome, and turn failures into :class:`_Failure`."""
    try:
        result = await request
    except ApiException as exc:
        failure = _from_api_exception(exc)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        failure = _from_transport_error(exc)
    else:
        DOWNSTREAM_REQUESTS.labels("ok").inc()
        return result
    DOWNSTREAM_REQUESTS.labels(_outcome(failure)).inc()
    raise failure


def _decode_ca(ca_data: str) -> bytes:
    try:
        pem = base64.b64decode(ca_data, validate=True)
    except binascii.Error as exc:
        raise DownstreamError(f"error decoding CA: {exc}", kind="invalid") from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise DownstreamError("error decoding CA: no PEM certificate", kind="invalid")
    return pem


def _api_client(endpoint: str, ca_pem: bytes, token: str, cluster_name: str) -> ApiClient:
    """An ApiClient trusting only ``ca_pem``. kubernetes-asyncio reads the CA from a file when it
    builds its SSL context (in the constructor), so the file lives only for that call."""
    fd, path = tempfile.mkstemp(prefix="cluster-ca-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(ca_pem)
        configuration = Configuration(
            host=endpoint,
            api_key={"BearerToken": token},
            api_key_prefix={"BearerToken": "Bearer"},
        )
        configuration.ssl_ca_cert = path
        configuration.verify_ssl = True
        client = ApiClient(configuration)
    except ssl.SSLError as exc:
        raise DownstreamError(f"error loading CA: {exc.reason or exc}", kind="invalid") from None
    finally:
        os.unlink(path)
    if cluster_name:
        client.user_agent = f"{client.user_agent} cluster {cluster_name}"
    return client


async def generate_service_account_token(
    *,
    endpoint: str,
    ca_data: str,
    token: TokenSource,
    cluster_name: str = "",
    settings: DownstreamSettings | None = None,
) -> str:
    """Ensure Rancher's ``kontainer-engine`` service account with cluster-admin rights in the
    downstream cluster at ``endpoint`` and return its legacy service-account token.

    ``ca_data`` is base64 of the PEM CA bundle (``certificateAuthority.data``). ``cluster_name``
    only goes into the user agent, as in Rancher. Raises :class:`DownstreamError`.
    """
    s = settings or DownstreamSettings()
    if not endpoint.startswith("https://"):
        endpoint = "https://" + endpoint.removeprefix("http://")
    ca_pem = _decode_ca(ca_data)
    bearer = token if isinstance(token, str) else await token()
    try:
        with anyio.fail_after(s.overall_timeout):
            async with _api_client(endpoint, ca_pem, bearer, cluster_name) as api:
                return await _Procedure(CoreV1Api(api), RbacAuthorizationV1Api(api), s).run()
    except TimeoutError:
        raise DownstreamError(
            f"service account token procedure did not finish within {s.overall_timeout} s", kind="timeout"
        ) from None


class _Procedure:
    """``GenerateServiceAccountToken`` + ``EnsureSecretForServiceAccount``, step by step."""

    def __init__(self, core: Any, rbac: Any, settings: DownstreamSettings) -> None:
        self.core, self.rbac, self.s = core, rbac, settings
        self.kw = {"_request_timeout": settings.request_timeout}

    async def run(self) -> str:
        core, rbac, kw = self.core, self.rbac, self.kw
        # 1. GET before CREATE: avoids webhook-validated creates (e.g. during etcd restores).
        try:
            await _call(core.read_namespace(CATTLE_NAMESPACE, **kw))
        except _Failure as failure:
            if not failure.not_found:
                raise failure.wrap("") from None
            try:
                await _call(core.create_namespace({"metadata": {"name": CATTLE_NAMESPACE}}, **kw))
            except _Failure as create_failure:
                raise create_failure.wrap("error creating namespace: ") from None

        # 2. The service account; an existing one is fine.
        try:
            await _call(
                core.create_namespaced_service_account(
                    CATTLE_NAMESPACE, {"metadata": {"name": SERVICE_ACCOUNT}}, **kw
                )
            )
        except _Failure as failure:
            if not failure.already_exists:
                raise failure.wrap("error creating service account: ") from None

        # 3. cluster-admin: read it; on any error create it.
        try:
            role = await _call(rbac.read_cluster_role(CLUSTER_ADMIN, **kw))
        except _Failure:
            admin_role = {
                "metadata": {"name": CLUSTER_ADMIN},
                "rules": [
                    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                    {"nonResourceURLs": ["*"], "verbs": ["*"]},
                ],
            }
            try:
                role = await _call(rbac.create_cluster_role(admin_role, **kw))
            except _Failure as failure:
                raise failure.wrap("error creating admin role: ") from None

        # 4. The binding; an existing one is kept as it is (not reconciled), as Rancher does.
        binding = {
            "metadata": {"name": CLUSTER_ROLE_BINDING},
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": SERVICE_ACCOUNT,
                    "namespace": CATTLE_NAMESPACE,
                    "apiGroup": "",
                }
            ],
            "roleRef": {
                "kind": "ClusterRole",
                "name": role.metadata.name,
                "apiGroup": "rbac.authorization.k8s.io",
            },
        }
        try:
            await _call(rbac.create_cluster_role_binding(binding, **kw))
        except _Failure as failure:
            if not failure.already_exists:
                raise failure.wrap("error creating role bindings: ") from None

        # 5. Read the service account back (uid and annotations are needed below).
        try:
            sa = await _call(core.read_namespaced_service_account(SERVICE_ACCOUNT, CATTLE_NAMESPACE, **kw))
        except _Failure as failure:
            raise failure.wrap("error getting service account: ") from None

        # 6. + 7.
        try:
            secret = await self._ensure_secret(sa)
        except _Failure as failure:
            raise failure.wrap("error ensuring secret for service account: ") from None
        return base64.b64decode(secret.data["token"]).decode()

    async def _ensure_secret(self, sa: Any) -> Any:
        core, kw = self.core, self.kw
        namespace, name = sa.metadata.namespace, sa.metadata.name
        log_key = f"[{namespace}:{name}]"

        try:
            secret = await self._existing_secret(sa)
        except _Failure as failure:
            raise failure.prefixed(f"error looking up secret for service account {log_key}: ") from None

        if secret is None:
            template = {
                "metadata": {
                    "generateName": f"{name}-token-",
                    "namespace": namespace,
                    "ownerReferences": [
                        {"apiVersion": "v1", "kind": "ServiceAccount", "name": name, "uid": sa.metadata.uid}
                    ],
                    "annotations": {SA_NAME_ANNOTATION: name},
                    "labels": {SECRET_LABEL: name},
                },
                "type": SA_TOKEN_TYPE,
            }
            try:
                secret = await _call(core.create_namespaced_secret(namespace, template, **kw))
            except _Failure as failure:
                raise failure.prefixed(f"error ensuring secret for service account {log_key}: ") from None
            secret = await self._annotate(sa, secret, log_key)

        if (secret.data or {}).get("token"):
            return secret
        return await self._wait_for_token(secret, log_key)

    async def _existing_secret(self, sa: Any) -> Any | None:
        """The secret the SA's annotation points to, else the first valid labelled one (others deleted)."""
        core, kw = self.core, self.kw
        namespace, name = sa.metadata.namespace, sa.metadata.name
        annotations = sa.metadata.annotations or {}
        ref = annotations.get(SECRET_REF_ANNOTATION, "")
        if ref:
            elements = ref.split("/")
            if len(elements) != 2:
                raise _Failure(
                    f"too many elements parsing ServiceAccount secret reference: {ref}", kind="api"
                )
            try:
                # Rancher reads it in the service account's namespace, whatever the reference says.
                return await _call(core.read_namespaced_secret(elements[1], namespace, **kw))
            except _Failure as failure:
                # An internal error (seen during encryption-key rotation) counts as "no secret".
                if not (failure.not_found or failure.internal_error):
                    raise failure.prefixed("could not get secret for service account: ") from None

        try:
            listed = await _call(
                core.list_namespaced_secret(namespace, label_selector=f"{SECRET_LABEL}={name}", **kw)
            )
        except _Failure as failure:
            raise failure.prefixed(f"could not get secrets for service account {name}: ") from None
        result = None
        for item in listed.items:
            if (
                item.type == SA_TOKEN_TYPE
                and (item.metadata.annotations or {}).get(SA_NAME_ANNOTATION) == name
            ):
                if result is None:
                    result = item
                continue
            # Invalid for this service account: delete it; a failed delete does not matter.
            with contextlib.suppress(_Failure):
                await _call(core.delete_namespaced_secret(item.metadata.name, namespace, **kw))
        return result

    async def _annotate(self, sa: Any, secret: Any, log_key: str) -> Any:
        """Point the SA at the new secret; if another writer won the race, use its secret instead."""
        core, kw = self.core, self.kw
        namespace, name = sa.metadata.namespace, sa.metadata.name
        wanted = f"{secret.metadata.namespace}/{secret.metadata.name}"
        annotations = dict(sa.metadata.annotations or {})
        if annotations.get(SECRET_REF_ANNOTATION) == wanted:
            return secret
        annotations[SECRET_REF_ANNOTATION] = wanted
        sa.metadata.annotations = annotations
        try:
            await _call(core.replace_namespaced_service_account(name, namespace, sa, **kw))
            return secret
        except _Failure as failure:
            if not failure.conflict:
                raise
        try:
            await _call(core.delete_namespaced_secret(secret.metadata.name, namespace, **kw))
        except _Failure as failure:
            raise failure.prefixed(
                f"deleting optimistically locked secret for [{namespace}:{secret.metadata.name}] - "
                f"{log_key}: "
            ) from None
        try:
            current = await _call(core.read_namespaced_service_account(name, namespace, **kw))
        except _Failure as failure:
            raise failure.prefixed(f"getting updated service account {log_key}: ") from None
        ref = (current.metadata.annotations or {}).get(SECRET_REF_ANNOTATION, "")
        elements = ref.split("/")
        if len(elements) != 2:
            raise _Failure(f"service account {log_key} has no usable secret reference: {ref!r}", kind="api")
        try:
            return await _call(core.read_namespaced_secret(elements[1], elements[0], **kw))
        except _Failure as failure:
            raise failure.prefixed(f"reloading referenced secret for SA {log_key}: ") from None

    async def _wait_for_token(self, secret: Any, log_key: str) -> Any:
        """Rancher polls 50 times, 2 ms apart; a total time bound covers slow round trips."""
        core, kw, s = self.core, self.kw, self.s
        name, namespace = secret.metadata.name, secret.metadata.namespace
        with anyio.move_on_after(s.token_wait_timeout):
            for attempt in range(s.token_poll_attempts):
                try:
                    secret = await _call(core.read_namespaced_secret(name, namespace, **kw))
                except _Failure as failure:
                    raise failure.prefixed(f"error ensuring secret for service account {log_key}: ") from None
                if (secret.data or {}).get("token"):
                    return secret
                if attempt + 1 < s.token_poll_attempts:
                    await anyio.sleep(s.token_poll_interval)
        raise _Failure(WAIT_TIMEOUT_MESSAGE, kind="not_ready")
