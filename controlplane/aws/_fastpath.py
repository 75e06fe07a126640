"""A fast path for the hot, read-only EKS calls: a small REST-JSON GET client.

Refreshing a fleet is DescribeCluster + ListNodegroups + DescribeNodegroup per node group
(+ DescribeAddon), and through botocore ~85% of the client CPU of each call goes to serializing,
user-agent building, event hooks and parsing (~450 µs per call against ~60 µs for the HTTP GET and
JSON decode themselves). These four operations are plain GETs of a path built from one or two
names, so this module sends them itself on one ``aiohttp.ClientSession`` owned by the adapter:

- URL: the botocore client's ``meta.endpoint_url`` + the operation's path, path segments
  percent-encoded as botocore does (``percent_encode``, safe ``-._~``).
- Signature: botocore's own ``SigV4Auth`` over a botocore ``AWSRequest``, with credentials frozen
  per call from the client's credentials (refreshable ones, e.g. assumed roles, refresh there).
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
from aiohttp.helpers import get_env_proxy_for_url
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
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
from botocore.utils import percent_encode
from yarl import URL

from controlplane.metrics import AWS_RETRIES, AWS_THROTTLES

from ._clients import AdapterClosedError, ClientKey
from ._errors import THROTTLE_CODES
from ._operations import Operation
from ._settings import AwsSettings

FAST_OPERATIONS = frozenset({"DescribeCluster", "ListNodegroups", "DescribeNodegroup", "DescribeAddon"})
"""EKS operations the fast path serves (every page of ListNodegroups)."""

PAGE_SIZE = 100
"""``maxResults`` of ListNodegroups pages (EKS's maximum)."""

_USER_AGENT = "eks-controlplane fast-reads"
_TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
_RETRY_COST = 5  # botocore RetryQuotaChecker._RETRY_COST
_TIMEOUT_RETRY_COST = 10  # botocore RetryQuotaChecker._TIMEOUT_RETRY_REQUEST
_NO_RETRY_INCREMENT = 1
_NO_PROXY = URL("http://no-proxy.invalid")  # sentinel of the proxy cache
_MAX_ENDPOINTS = 256


def _name(value: Any) -> str | None:
    """A path segment, or None when botocore should see (and validate) the value itself."""
    return percent_encode(value) if isinstance(value, str) and value else None


def fast_path(op: Operation, request: Mapping[str, Any]) -> str | None:
    """The URL path of ``op`` with ``request``, or None to send it through botocore (pure)."""
    if op.service != "eks" or op.name not in FAST_OPERATIONS:
        return None
    if op.name == "DescribeCluster":
        name = _name(request.get("name")) if len(request) == 1 else None
        return None if name is None else f"/clusters/{name}"
    cluster = _name(request.get("clusterName"))
    if cluster is None:
        return None
    if op.name == "ListNodegroups":
        return f"/clusters/{cluster}/node-groups" if len(request) == 1 else None
    if len(request) != 2:
        return None
    if op.name == "DescribeNodegroup":
        nodegroup = _name(request.get("nodegroupName"))
        return None if nodegroup is None else f"/clusters/{cluster}/node-groups/{nodegroup}"
    addon = _name(request.get("addonName"))
    return None if addon is None else f"/clusters/{cluster}/addons/{addon}"


def page_query(next_token: str | None, page_size: int = PAGE_SIZE) -> str:
    """The query string of one ListNodegroups page (keys sorted, as SigV4 canonicalizes them)."""
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


def _ssl_context() -> ssl.SSLContext:
    # The CA bundle botocore would use: AWS_CA_BUNDLE, else certifi's.
    return ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True))


class FastReads:
    """The GET client of the fast path. ``await open()`` once, ``await close()`` at the end."""

    def __init__(self, settings: AwsSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._state = "new"
        self._backoff = ExponentialBackoff()
        # botocore keeps one retry quota per client, i.e. per (identity, region, service).
        self._quotas: OrderedDict[ClientKey, RetryQuota] = OrderedDict()
        self._proxies: dict[str, URL | None] = {}
        self._throttles = AWS_THROTTLES.labels("eks")
        self._retries = AWS_RETRIES.labels("eks")

    async def open(self) -> None:
        if self._state != "new":
            raise RuntimeError(f"FastReads can be opened once (it is {self._state})")
        s = self._settings
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=s.pool_size, ssl=_ssl_context()),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=s.connect_timeout, sock_read=s.read_timeout
            ),
            raise_for_status=False,
            # trust_env would look up netrc and proxies in a thread on every request; the proxy
            # (HTTP(S)_PROXY / NO_PROXY, as botocore honours them) is looked up once per endpoint.
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._state = "open"

    async def close(self) -> None:
        if self._state == "closed":
            return
        self._state = "closed"
        self._quotas.clear()
        if self._session is not None:
            await self._session.close()

    def _proxy(self, endpoint: str) -> URL | None:
        proxy = self._proxies.get(endpoint, _NO_PROXY)
        if proxy is _NO_PROXY:
            if len(self._proxies) >= _MAX_ENDPOINTS:
                self._proxies.clear()
            try:
                proxy = self._proxies[endpoint] = get_env_proxy_for_url(URL(endpoint))[0]
            except LookupError:
                proxy = self._proxies[endpoint] = None
        return proxy

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
        request = AWSRequest(method="GET", url=url, headers={"User-Agent": _USER_AGENT})
        SigV4Auth(frozen, "eks", region).add_auth(request)
        return dict(request.headers.items())

    async def get(
        self, key: ClientKey, client: Any, op: Operation, path: str, query: str = ""
    ) -> dict[str, Any]:
        """GET ``path`` (+ ``query``) from ``client``'s endpoint, with ``client``'s credentials and
        region; returns the decoded body plus ``ResponseMetadata``, or raises botocore's exceptions."""
        session = self._session
        if session is None or self._state != "open":
            raise AdapterClosedError("the AWS adapter's fast path is not open")
        endpoint = client.meta.endpoint_url.rstrip("/")
        proxy = self._proxy(endpoint)
        url = endpoint + path + (f"?{query}" if query else "")
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
                request = session.get(target, headers=headers, allow_redirects=False, proxy=proxy)
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
