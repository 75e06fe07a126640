"""A fast path for the hot, read-only EKS calls: a small REST-JSON GET client.

Refreshing a fleet is DescribeCluster + ListNodegroups + DescribeNodegroup per node group
(+ DescribeAddon), and through botocore ~85% of the client CPU of each call goes to serializing,
user-agent building, event hooks and parsing (~450 µs per call against ~60 µs for the HTTP GET and
JSON decode themselves). An import's first refresh adds the lists of the cluster's addons, access
entries, Pod Identity associations, Fargate profiles and updates. These are plain GETs of a path built
from one or two names, so this module sends them itself on one ``aiohttp.ClientSession`` owned by the
adapter:

- URL: the endpoint botocore's own endpoint rules give the client (so ``AWS_USE_FIPS_ENDPOINT``,
  ``AWS_USE_DUALSTACK_ENDPOINT`` and ``AWS_ENDPOINT_URL_EKS`` apply as they do to botocore) + the
  operation's path, path segments percent-encoded as botocore does (``percent_encode``, safe ``-._~``).
- Transport: what botocore resolved for the client (``Transport``, read from its HTTP session once per
  client): the CA bundle (``ca_bundle`` in the AWS config file or the profile, ``AWS_CA_BUNDLE``,
  ``REQUESTS_CA_BUNDLE``, else certifi's), and the proxy (``HTTPS_PROXY``/``NO_PROXY`` as botocore read
  them). A setting the fast path cannot reproduce (a client certificate, ``proxies_config`` such as
  ``proxy_ca_bundle``, a TLS proxy, endpoint rules that sign differently) makes it step aside for
  that client: botocore sends the call.
- Signature: SigV4 with the bytes botocore's ``SigV4Auth`` produces (``_sigv4``, tested against it),
  derived keys cached per day, with credentials frozen per call from the client's credentials
  (refreshable ones, e.g. assumed roles, refresh there).
- Body: ``msgspec.json.decode``; ``null`` structure members are dropped as botocore drops them (EKS
  omits a taint's absent ``value``, but a decoder must take ``"value": null`` too). Unlike botocore,
  timestamps (``createdAt``, ``modifiedAt``...) stay epoch numbers instead of ``datetime`` objects,
  and members absent from botocore's model are kept; the control plane reads neither.
  ``ResponseMetadata`` carries ``RequestId``, ``HTTPStatusCode`` and ``RetryAttempts`` (no
  ``HTTPHeaders``).
- Errors: raised as botocore's own exceptions (``ClientError`` with the same ``Error``/
  ``ResponseMetadata`` shape, ``EndpointConnectionError``, ``ReadTimeoutError``...), so the
  adapter's ``classify`` gives the same typed errors and messages as on the botocore path.
- Retries: botocore's standard mode (total attempts ``AwsSettings.max_attempts``; throttling
  codes, transient codes, HTTP 500/502/503/504 and connection errors are retried after botocore's
  ``ExponentialBackoff`` delay ``rand(0, 1) * min(2 ** attempt, 20)``; the retry quota of 500 per
  (identity, region) with costs 5, 10 for timeouts, refunded on success). Every throttling answer
  is counted in ``AWS_THROTTLES`` like the botocore hook does.

Anything else (other operations, unusual parameters, ``retry_mode="adaptive"`` whose limiter lives
inside the botocore client, ``AwsSettings.fast_reads=False``) goes through botocore.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import ssl
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import aiohttp
import msgspec
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from botocore.httpsession import get_cert_path
from botocore.parsers import ResponseParserError
from botocore.retries.quota import RetryQuota
from botocore.retries.standard import ExponentialBackoff
from botocore.utils import ensure_boolean, percent_encode
from yarl import URL

from controlplane.metrics import AWS_RETRIES, AWS_THROTTLES

from ._clients import AdapterClosedError, ClientKey
from ._errors import THROTTLE_CODES
from ._operations import Operation
from ._settings import AwsSettings
from ._sigv4 import SigV4Signer

_CLUSTER_LISTS = {
    "ListNodegroups": "node-groups",
    "ListAddons": "addons",
    "ListAccessEntries": "access-entries",
    "ListPodIdentityAssociations": "pod-identity-associations",
    "ListFargateProfiles": "fargate-profiles",
}
"""The paginated GETs of one cluster's children (``/clusters/{name}/<child>``): a refresh reads the node
groups every time, and a first refresh (an import) the other four, once each. ``ListUpdates`` of the
cluster itself (in ``_BY_NAME``) is paginated the same way."""

_BY_NAME = {"DescribeCluster": "", "ListUpdates": "/updates"}
"""The operations keyed by the cluster's ``name`` (not ``clusterName``): their path after
``/clusters/{name}``."""

FAST_OPERATIONS = frozenset({"DescribeNodegroup", "DescribeAddon", *_BY_NAME, *_CLUSTER_LISTS})
"""EKS operations the fast path serves (every page of the lists)."""

PAGE_SIZE = 100
"""``maxResults`` of the lists' pages (EKS's maximum for each of them)."""

_USER_AGENT = "eks-controlplane fast-reads"
_TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
_RETRY_COST = 5  # botocore RetryQuotaChecker._RETRY_COST
_TIMEOUT_RETRY_COST = 10  # botocore RetryQuotaChecker._TIMEOUT_RETRY_REQUEST
_NO_RETRY_INCREMENT = 1
_MAX_CONTEXTS = 16  # TLS contexts, one per CA bundle in use (normally one)


def _name(value: Any) -> str | None:
    """A path segment, or None when botocore should see (and validate) the value itself."""
    return percent_encode(value) if isinstance(value, str) and value else None


def fast_path(op: Operation, request: Mapping[str, Any]) -> str | None:
    """The URL path of ``op`` with ``request``, or None to send it through botocore (pure)."""
    if op.service != "eks" or op.name not in FAST_OPERATIONS:
        return None
    suffix = _BY_NAME.get(op.name)
    if suffix is not None:  # ListUpdates of the cluster itself: no node group, no add-on
        name = _name(request.get("name")) if len(request) == 1 else None
        return None if name is None else f"/clusters/{name}{suffix}"
    cluster = _name(request.get("clusterName"))
    if cluster is None:
        return None
    child = _CLUSTER_LISTS.get(op.name)
    if child is not None:
        # Only the cluster: a filter (``namespace``, ``associatedPolicyArn``) or a page size is botocore's.
        return f"/clusters/{cluster}/{child}" if len(request) == 1 else None
    if len(request) != 2:
        return None
    if op.name == "DescribeNodegroup":
        nodegroup = _name(request.get("nodegroupName"))
        return None if nodegroup is None else f"/clusters/{cluster}/node-groups/{nodegroup}"
    addon = _name(request.get("addonName"))
    return None if addon is None else f"/clusters/{cluster}/addons/{addon}"


def page_query(next_token: str | None, page_size: int = PAGE_SIZE) -> str:
    """The query string of one page of a list (keys sorted, as SigV4 canonicalizes them)."""
    query = f"maxResults={page_size}"
    return query if next_token is None else f"{query}&nextToken={percent_encode(next_token)}"


def error_code_and_message(status: int, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    """An EKS error answer's code and message, read as botocore's rest-json parser reads them (pure).

    A 5xx whose body is empty or an ``<html>`` page (a load balancer or proxy answered, not EKS) is
    botocore's "generic" error: the status as the code and its reason phrase as the message."""
    if status >= 500 and (not body.strip() or body.strip().startswith(b"<html>")):
        return str(status), http.client.responses.get(status, "")
    try:
        doc: Any = msgspec.json.decode(body) if body else {}
    except msgspec.DecodeError:
        doc = {"message": body.decode("utf-8", "replace")}
    if not isinstance(doc, dict):
        doc = {}
    message = doc.get("message", doc.get("Message", ""))
    header = headers.get("x-amzn-ErrorType")
    code: Any
    if header is not None:
        code = header
    elif "code" in doc or "Code" in doc:
        code = doc.get("code", doc.get("Code", ""))
    else:
        code = doc.get("__type", str(status))
    if isinstance(code, str):
        code = code.split(":", 1)[0].rsplit("#", 1)[-1]
    return str(code), str(message)


def drop_null_members(shape: Any, value: Any) -> Any:
    """``value`` with the ``null`` members of its structures removed, as botocore's JSON parser does
    (it skips a structure member whose value is ``null``; list items and map values are kept). Members
    absent from the model are kept unless they are ``null``. Pure; ``shape`` is a botocore ``Shape``."""
    kind = getattr(shape, "type_name", None)
    if kind == "structure" and isinstance(value, dict):
        by_wire = {m.serialization.get("name", name): m for name, m in shape.members.items()}
        return {k: drop_null_members(by_wire.get(k), v) for k, v in value.items() if v is not None}
    if kind == "list" and isinstance(value, list):
        return [drop_null_members(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: drop_null_members(shape.value, v) for k, v in value.items()}
    if kind is None and isinstance(value, dict):  # outside the model: drop nulls all the way down
        return {k: drop_null_members(None, v) for k, v in value.items() if v is not None}
    return value


class _Attempt:
    """What ``ExponentialBackoff.delay_amount`` reads from botocore's retry context."""

    __slots__ = ("attempt_number", "http_response")

    def __init__(self, attempt_number: int) -> None:
        self.attempt_number = attempt_number
        self.http_response = None


class Transport:
    """How botocore would reach a client's endpoint, for the fast path to do the same."""

    __slots__ = ("proxy", "proxy_headers", "ssl", "url")

    def __init__(
        self, url: str, ssl: ssl.SSLContext | bool, proxy: str | None, proxy_headers: dict[str, str] | None
    ) -> None:
        self.url = url
        """The endpoint, without a trailing slash (e.g. ``https://fips.eks.us-east-1.amazonaws.com``)."""
        self.ssl = ssl
        """The TLS context verifying with botocore's CA bundle; False when botocore does not verify."""
        self.proxy = proxy
        self.proxy_headers = proxy_headers

    def __repr__(self) -> str:
        return f"Transport({self.url!r}, proxy={self.proxy is not None})"


def _signs_like_the_fast_path(properties: Mapping[str, Any] | None, region: str) -> bool:
    """The endpoint rules ask for plain SigV4 as ``eks`` in the client's region (what ``get`` does)."""
    schemes = (properties or {}).get("authSchemes") or []
    if not schemes:
        return True
    first = schemes[0]
    return bool(
        first.get("name") == "sigv4"
        and first.get("signingName", "eks") == "eks"
        and first.get("signingRegion", region) == region
    )


def _build_ssl_context(ca_bundle: str) -> ssl.SSLContext:
    # As aiobotocore builds it: verify against exactly this bundle, and check the host name.
    context = ssl.create_default_context(cafile=ca_bundle)
    context.check_hostname = True
    return context


class FastReads:
    """The GET client of the fast path. ``await open()`` once, ``await close()`` at the end."""

    def __init__(self, settings: AwsSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._state = "new"
        self._backoff = ExponentialBackoff()
        # botocore keeps one retry quota per client, i.e. per (identity, region, service).
        self._quotas: OrderedDict[ClientKey, RetryQuota] = OrderedDict()
        self._transports: OrderedDict[ClientKey, tuple[Any, Transport | None]] = OrderedDict()
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._contexts_lock = asyncio.Lock()
        self._throttles = AWS_THROTTLES.labels("eks")
        self._retries = AWS_RETRIES.labels("eks")
        self._signer = SigV4Signer()

    async def open(self) -> None:
        if self._state != "new":
            raise RuntimeError(f"FastReads can be opened once (it is {self._state})")
        s = self._settings
        self._session = aiohttp.ClientSession(
            # Every request passes its client's own TLS context and proxy (``Transport``).
            connector=aiohttp.TCPConnector(limit=s.pool_size),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=s.connect_timeout, sock_read=s.read_timeout
            ),
            raise_for_status=False,
            # trust_env would look up netrc and proxies in a thread on every request; the proxy is
            # the one botocore chose for the client (``Transport``).
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._state = "open"

    async def close(self) -> None:
        if self._state == "closed":
            return
        self._state = "closed"
        self._quotas.clear()
        self._transports.clear()
        if self._session is not None:
            await self._session.close()

    async def transport(self, key: ClientKey, client: Any) -> Transport | None:
        """How botocore would reach ``client``'s endpoint, or None when the fast path cannot do the
        same (the call then goes through botocore). Resolved once per client."""
        cached = self._transports.get(key)
        if cached is not None and cached[0] is client:
            self._transports.move_to_end(key)
            return cached[1]
        transport = await self._resolve(client)
        self._transports[key] = (client, transport)
        self._transports.move_to_end(key)
        if len(self._transports) > self._settings.client_cache_size:
            self._transports.popitem(last=False)
        return transport

    async def _resolve(self, client: Any) -> Transport | None:
        http = getattr(getattr(client, "_endpoint", None), "http_session", None)
        verify = getattr(http, "_verify", None)  # True, False or a CA bundle path: botocore's choice
        proxies = getattr(http, "_proxy_config", None)
        resolve = getattr(client, "_resolve_endpoint_ruleset", None)
        if verify is None or proxies is None or resolve is None or getattr(http, "_cert_file", None):
            return None
        if any(v is not None for v in (proxies.settings or {}).values()):
            return None  # proxy_ca_bundle, proxy_client_cert, proxy_use_forwarding_for_https
        if ensure_boolean(os.environ.get("BOTO_EXPERIMENTAL__ADD_PROXY_HOST_HEADER", "")):
            return None
        operation = client.meta.service_model.operation_model("DescribeCluster")
        url, headers, properties = await resolve(operation, {"name": "x"}, {})
        if headers or not _signs_like_the_fast_path(properties, client.meta.region_name):
            return None
        url = str(url).rstrip("/")
        if not url.startswith(("https://", "http://")):
            return None
        proxy = proxies.proxy_url_for(url)
        if proxy is not None and not proxy.startswith("http://"):
            return None  # TLS to the proxy itself: aiobotocore builds a context of its own for it
        headers = proxies.proxy_headers_for(url) or None  # what aiobotocore sends the proxy
        context: ssl.SSLContext | bool = True
        if url.startswith("https://") and verify is False:
            context = False
        elif url.startswith("https://"):
            try:
                context = await self._context(get_cert_path(verify))
            except (OSError, ValueError):  # ssl.SSLError is an OSError
                return None  # an unreadable bundle: botocore reports it in its own words
        return Transport(url, context, proxy, headers)

    async def _context(self, ca_bundle: str) -> ssl.SSLContext:
        context = self._contexts.get(ca_bundle)
        if context is None:
            async with self._contexts_lock:
                context = self._contexts.get(ca_bundle)
                if context is None:
                    # Reading the bundle is file I/O: off the event loop (aiobotocore does the same).
                    context = await asyncio.to_thread(_build_ssl_context, ca_bundle)
                    if len(self._contexts) >= _MAX_CONTEXTS:
                        self._contexts.clear()
                    self._contexts[ca_bundle] = context
        return context

    def _quota(self, key: ClientKey) -> RetryQuota:
        quota = self._quotas.get(key)
        if quota is None:
            quota = self._quotas[key] = RetryQuota()
            if len(self._quotas) > self._settings.client_cache_size:
                self._quotas.popitem(last=False)
        else:
            self._quotas.move_to_end(key)
        return quota

    async def _signed_headers(self, credentials: Any, url: str, region: str) -> dict[str, str]:
        if credentials is None:
            raise NoCredentialsError()
        # Frozen per call: refreshable credentials (assumed roles, IRSA) refresh here, under
        # botocore's lock, and a signer never holds a stale secret.
        frozen = await credentials.get_frozen_credentials()
        return self._signer.headers(
            url=url,
            region=region,
            service="eks",
            access_key=frozen.access_key,
            secret_key=frozen.secret_key,
            token=frozen.token,
            user_agent=_USER_AGENT,
        )

    async def get(  # noqa: PLR0917 - one call's key, client, transport, operation, path and query
        self, key: ClientKey, client: Any, transport: Transport, op: Operation, path: str, query: str = ""
    ) -> dict[str, Any]:
        """GET ``path`` (+ ``query``) from ``client``'s endpoint over ``transport`` (see ``transport``),
        with ``client``'s credentials and region; returns the decoded body plus ``ResponseMetadata``,
        or raises botocore's exceptions."""
        session = self._session
        if session is None or self._state != "open":
            raise AdapterClosedError("the AWS adapter's fast path is not open")
        url = transport.url + path + (f"?{query}" if query else "")
        target = URL(url, encoded=True)  # exactly the bytes that were signed
        region = client.meta.region_name
        credentials = client._request_signer._credentials
        quota = self._quota(key)
        max_attempts = self._settings.max_attempts
        attempt = 0
        retry_cost: int | None = None
        while True:
            attempt += 1
            headers = await self._signed_headers(credentials, url, region)
            try:
                request = session.get(
                    target,
                    headers=headers,
                    allow_redirects=False,
                    proxy=transport.proxy,
                    proxy_headers=transport.proxy_headers,
                    ssl=transport.ssl,
                )
                async with request as response:
                    status = response.status
                    body = await response.read()
                    response_headers = response.headers
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = _connection_error(exc, url)
                timeout = isinstance(error, ReadTimeoutError | ConnectTimeoutError)
                cost = _TIMEOUT_RETRY_COST if timeout else _RETRY_COST
                if attempt < max_attempts and quota.acquire(cost):
                    retry_cost = cost
                    await asyncio.sleep(self._backoff.delay_amount(_Attempt(attempt)))
                    continue
                # No response to carry RetryAttempts: count the retries here.
                if attempt > 1:
                    self._retries.inc(attempt - 1)
                raise error from exc
            meta: dict[str, Any] = {
                "RequestId": response_headers.get("x-amzn-RequestId", ""),
                "HTTPStatusCode": status,
                "RetryAttempts": attempt - 1,
            }
            if 200 <= status < 300:
                quota.release(_NO_RETRY_INCREMENT if retry_cost is None else retry_cost)
                try:
                    parsed = msgspec.json.decode(body) if body else {}
                except msgspec.DecodeError as exc:
                    raise ResponseParserError(f"Unable to parse response ({exc}): {body[:200]!r}") from exc
                if not isinstance(parsed, dict):
                    raise ResponseParserError(f"Unexpected response body: {body[:200]!r}")
                if b"null" in body:  # rare: only then is the model walked
                    output = client.meta.service_model.operation_model(op.name).output_shape
                    parsed = drop_null_members(output, parsed)
                parsed["ResponseMetadata"] = meta
                return parsed
            code, message = error_code_and_message(status, response_headers, body)
            throttled = code in THROTTLE_CODES
            if throttled or status == 429:
                self._throttles.inc()
            retryable = throttled or code in _TRANSIENT_CODES or status in _TRANSIENT_STATUS
            if attempt >= max_attempts:
                meta["MaxAttemptsReached"] = True
            elif retryable and quota.acquire(_RETRY_COST):
                retry_cost = _RETRY_COST
                await asyncio.sleep(self._backoff.delay_amount(_Attempt(attempt)))
                continue
            error_response: dict[str, Any] = {"Error": {"Code": code, "Message": message}}
            raise ClientError({**error_response, "ResponseMetadata": meta}, op.name)


def _connection_error(exc: BaseException, url: str) -> BotoConnectionError | HTTPClientError:
    """The botocore exception aiobotocore raises for the same aiohttp failure."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ConnectTimeoutError(endpoint_url=url, error=exc)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return EndpointConnectionError(endpoint_url=url, error=exc)
    if isinstance(exc, TimeoutError):
        return ReadTimeoutError(endpoint_url=url, error=exc)
    return ConnectionClosedError(endpoint_url=url, error=exc)
