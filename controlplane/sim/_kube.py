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

The PKI is in ``_kube_pki``, the resource kinds, errors and discovery documents in ``_kube_resources``,
and each cluster's object store and token controller in ``_kube_store``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final, Literal
from urllib.parse import quote

import msgspec
from aiohttp import web

from ._iam_auth import TOKEN_PREFIX, TokenRejected, verify_token
from ._kube_pki import Pki, generate_pki
from ._kube_resources import RESOURCES, ApiError, group_list, resource_list
from ._kube_store import EndpointAccess, KubeCluster, aws_auth_mappings

__all__ = ["EndpointAccess", "KubeFleet", "Pki", "generate_pki"]

KUBE_VERSION: Final = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.4-eks-sim",
    "platform": "linux/amd64",
}
MAX_BLACKHOLE_CONNECTIONS: Final = 1024
_EKS_NAME_RE: Final = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")


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
        self._clusters: dict[str, KubeCluster] = {}
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

    def _endpoint(self, cluster: KubeCluster) -> str:
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
            cluster = KubeCluster(name, endpoint_access, self._pki.ca_pem, self._token_delay)
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
        except ApiError as exc:
            return self._json(exc.status(), status=exc.code)

    @staticmethod
    def _json(body: dict[str, Any], *, status: int = 200) -> web.Response:
        return web.Response(body=msgspec.json.encode(body), status=status, content_type="application/json")

    def _authenticate(self, request: web.Request, cluster: KubeCluster) -> None:
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
        raise ApiError(401, "Unauthorized", "Unauthorized")

    def _authorize_identity(self, cluster: KubeCluster, access_key: str) -> None:
        if self._authorize is None:
            return
        verdict = self._authorize(cluster.name, access_key, aws_auth_mappings(cluster))
        if verdict == 401:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if verdict == 403:
            raise ApiError(
                403, "Forbidden", "the IAM identity is known to the cluster but has no administrator access"
            )

    async def _dispatch(self, request: web.Request) -> web.Response:
        cluster = self._clusters.get(request.match_info["cluster"])
        if cluster is None or cluster.access != "public":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        segments = [s for s in request.match_info.get("tail", "").split("/") if s]
        if segments in (["version"], ["healthz"], ["livez"], ["readyz"]):
            if request.method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported")
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
            return self._json(group_list())
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            if request.method != "GET" or not any(g == group for g, _ in RESOURCES):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self._json(resource_list(group))

        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        resource = RESOURCES.get((group, rest[0]))
        if resource is None or len(rest) > 2 or (namespace is not None and not resource.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) == 2 else None
        if resource.namespaced and namespace is None and request.method != "GET":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")

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
        raise ApiError(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
        )

    @staticmethod
    async def _body(request: web.Request) -> Any:
        try:
            return msgspec.json.decode(await request.read())
        except msgspec.DecodeError:
            raise ApiError(400, "BadRequest", "the request body is not valid JSON") from None
