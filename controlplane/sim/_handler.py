"""The one HTTP handler: ``/_sim/`` control API, simulated EKS, and forwarding of the rest to moto.

Requests are routed by the service of the SigV4 credential scope
(``Credential=AKID/date/region/SERVICE/aws4_request``), the way AWS endpoints and moto do.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

import aiohttp
import msgspec
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from . import _control, _denied
from . import _errors as err
from ._backend import EksBackend
from ._faults import FaultInjector
from ._fixes import FIXED, MotoFixes
from ._moto import MotoServer
from ._query import ec2_error_xml, params
from ._routes import route
from ._settings import FaultSettings, Revocation
from ._wire import QueryReader

_JSON = "application/json"
_HOP = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "expect",
        "upgrade",
        "proxy-connection",
        "te",
        "trailer",
    }
)
_HOP_RESPONSE = _HOP | {"server", "date"}
# Query-protocol services answer errors as XML; EC2 has its own envelope.
_QUERY_THROTTLE = {"ec2": ("RequestLimitExceeded", 503)}


def _credential(request: web.BaseRequest) -> list[str] | None:
    """``AKID/date/region/SERVICE/aws4_request`` split, from the Authorization header or a presigned
    URL, or None."""
    auth = request.headers.get("Authorization")
    cred: str | None = None
    if auth is not None:
        i = auth.find("Credential=")
        if i >= 0:
            j = auth.find(",", i)
            cred = auth[i + 11 : j if j >= 0 else None]
    elif "X-Amz-Credential" in request.query_string:
        cred = request.query.get("X-Amz-Credential")
    if not cred:
        return None
    parts = cred.strip().split("/")
    return parts if len(parts) >= 5 else None


def credential_scope(request: web.BaseRequest) -> tuple[str | None, str | None]:
    """(service, region) from the Authorization header or a presigned URL, or (None, None)."""
    parts = _credential(request)
    if parts is None:
        return None, None
    return parts[3], parts[2]


def _request_id() -> str:
    return str(uuid.uuid4())


def eks_error(e: err.EksError) -> web.Response:
    return web.Response(
        status=e.status,
        body=e.body(),
        content_type=_JSON,
        headers={"x-amzn-ErrorType": e.header(), "x-amzn-RequestId": _request_id()},
    )


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=msgspec.json.encode(doc), content_type=_JSON)


def _operation(service: str, request: web.BaseRequest, body: bytes) -> str:
    target = request.headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    action = request.query.get("Action")
    if action:
        return action
    if body and b"Action=" in body[:4096]:
        i = body.find(b"Action=")
        j = body.find(b"&", i)
        return unquote_plus(body[i + 7 : j if j >= 0 else None].decode("utf-8", "replace"))
    first = request.path.strip("/").split("/", 1)[0]
    return f"{request.method} /{first}"


def _forwarded_fault(service: str, request: web.BaseRequest, kind: str, status: int) -> web.Response:
    rid = _request_id()
    if request.headers.get("X-Amz-Target"):
        code = "ThrottlingException" if kind == "throttle" else "InternalFailure"
        body = msgspec.json.encode(
            {"__type": code, "message": "Rate exceeded" if kind == "throttle" else "Internal error"}
        )
        return web.Response(
            status=400 if kind == "throttle" else status,
            body=body,
            content_type="application/x-amz-json-1.1",
            headers={"x-amzn-RequestId": rid},
        )
    if kind == "throttle":
        code, st = _QUERY_THROTTLE.get(service, ("Throttling", 400))
        message = "Rate exceeded"
    else:
        code, st, message = (
            ("InternalError" if service == "ec2" else "InternalFailure"),
            status,
            "Internal error",
        )
    if service == "ec2":
        xml = ec2_error_xml(code, message)
    else:
        xml = (
            f"<ErrorResponse><Error><Type>{'Sender' if kind == 'throttle' else 'Receiver'}</Type>"
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>{rid}</RequestId>"
            "</ErrorResponse>"
        )
    return web.Response(status=st, text=xml, content_type="text/xml")


class Handler:
    """Dispatches every request of the simulator's listener."""

    def __init__(
        self,
        backend: EksBackend,
        faults: FaultSettings,
        *,
        clock: Callable[[], float],
        moto: MotoServer,
        fixes: MotoFixes,
        session: aiohttp.ClientSession,
        credentials: dict[str, str],
    ) -> None:
        self.backend = backend
        self._clock = clock
        self._initial_faults = faults
        self.faults = FaultInjector(faults, clock)
        self._moto = moto
        self._moto_url = moto.url
        self._fixes = fixes
        self._session = session
        self.credentials = credentials
        self.calls: dict[str, Counter[str]] = {}
        self._default_region = backend.settings.default_region

    def _count(self, service: str, op: str) -> None:
        c = self.calls.get(service)
        if c is None:
            c = self.calls[service] = Counter()
        c[op] += 1

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        raw = request.raw_path
        if raw.startswith("/_sim/"):
            try:
                return await self._control(request)
            except err.EksError as e:
                return eks_error(e)
            except (msgspec.ValidationError, msgspec.DecodeError) as e:
                return _json({"message": str(e)}, 400)
        service, region = credential_scope(request)
        if service == "eks":
            return await self._eks(request, region or self._default_region)
        return await self._forward(request, service)

    # --- faults ---------------------------------------------------------------------------------

    def _revoked(self, request: web.BaseRequest) -> Revocation | None:
        """How the request's access key is revoked (``AccessDenied``/``ExpiredToken``), or None."""
        revoked = self.faults.settings.revoked_access_keys
        if not revoked:
            return None
        cred = _credential(request)
        return revoked.get(cred[0]) if cred else None

    async def _fault(self, service: str, request: web.BaseRequest) -> str | None:
        f = self.faults
        delay = f.latency()
        if delay > 0:
            await asyncio.sleep(delay)
        kind = f.decide(service)
        if kind == "reset" and request.transport is not None:
            request.transport.abort()
        return kind

    # --- EKS ------------------------------------------------------------------------------------

    async def _eks(self, request: web.BaseRequest, region: str) -> web.StreamResponse:
        found = route(request.method, request.raw_path)
        if found is None:
            self._count("eks", "Unknown")
            return eks_error(
                err.EksError("UnknownOperationException", 404, "The requested operation is not supported")
            )
        op, fn, segs = found
        self._count("eks", op)
        if self.faults.active and (revoked := self._revoked(request)) is not None:
            return eks_error(_denied.eks_error(revoked, op))
        if self.faults.active and self.faults.applies_to("eks"):
            kind = await self._fault("eks", request)
            if kind == "reset":
                return web.Response(status=500)  # never written: the transport is gone
            if kind == "throttle":
                throttle = self.faults.settings.throttle_code
                return eks_error(err.EksError(throttle, 429, "Rate exceeded"))
            if kind == "error":
                status = self.faults.settings.error_status
                code = "ServerException" if status == 500 else "ServiceUnavailableException"
                return eks_error(err.EksError(code, status, "Service is unavailable, please retry."))
        body = await request.read() if request.can_read_body else b""
        backend = self.backend
        backend.advance(self._clock())
        cred = _credential(request)
        backend.caller = cred[0] if cred else None
        try:
            out = fn(backend, region, segs, QueryReader(request.query, request.query.getall), body)
        except err.EksError as e:
            return eks_error(e)
        if out.__class__ is not bytes:
            out = msgspec.json.encode(out)
        return web.Response(body=out, content_type=_JSON, headers={"x-amzn-RequestId": _request_id()})

    # --- everything else: moto ------------------------------------------------------------------

    async def _forward(self, request: web.BaseRequest, service: str | None) -> web.StreamResponse:
        body = await request.read() if request.can_read_body else b""
        svc = service or "unsigned"
        op = _operation(svc, request, body)
        self._count(svc, op)
        if service is not None and self.faults.active and (revoked := self._revoked(request)) is not None:
            json_protocol = bool(request.headers.get("X-Amz-Target"))
            return _denied.forwarded(revoked, service, op, json_protocol=json_protocol)
        if service is not None and self.faults.active and self.faults.applies_to(service):
            kind = await self._fault(service, request)
            if kind == "reset":
                return web.Response(status=500)
            if kind is not None:
                return _forwarded_fault(service, request, kind, self.faults.settings.error_status)
        if service is not None and (service, op) in FIXED:
            cred = _credential(request)
            account = self._moto.account_for(
                cred[0] if cred else None, request.headers.get("x-moto-account-id")
            )
            region = cred[2] if cred else self._default_region
            fixed = self._fixes.handle(
                service, op, account=account, region=region, p=params(request.query, body), body=body
            )
            if isinstance(fixed, web.Response):
                return fixed
            body = fixed
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in _HOP)
        async with self._session.request(
            request.method,
            URL(self._moto_url + request.raw_path, encoded=True),
            headers=headers,
            data=body,
            allow_redirects=False,
        ) as resp:
            data = await resp.read()
            out_headers = CIMultiDict(
                (k, v) for k, v in resp.headers.items() if k.lower() not in _HOP_RESPONSE
            )
            return web.Response(status=resp.status, body=data, headers=out_headers)

    # --- control API ----------------------------------------------------------------------------

    async def _control(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        method = request.method
        b = self.backend
        b.advance(self._clock())
        if path in ("/_sim/clusters", "/_sim/clusters:batch") and method == "POST":
            data = await request.read()
            specs: list[_control.ClusterSpec]
            if path.endswith(":batch"):
                batch = msgspec.json.decode(data, type=_control.BatchSpec)
                specs = [
                    msgspec.convert(
                        {**batch.template, "name": f"{batch.prefix}{i:05d}"}, _control.ClusterSpec
                    )
                    for i in range(batch.start, batch.start + batch.count)
                ]
            else:
                doc = msgspec.json.decode(data)
                items = doc if isinstance(doc, list) else [doc]
                specs = [msgspec.convert(x, _control.ClusterSpec) for x in items]
            created = [_control.create_cluster(b, s) for s in specs]
            return _json(
                {"clusters": [{"name": c.name, "region": c.region, "arn": c.arn} for c in created]}, 201
            )
        if path.startswith("/_sim/clusters/"):
            name = path[len("/_sim/clusters/") :]
            region = request.query.get("region") or self._default_region
            if method == "PATCH":
                patch = msgspec.json.decode(await request.read(), type=_control.ClusterPatch)
                return _json(_control.patch_cluster(b, patch.region or region, name, patch))
            if method == "DELETE":
                _control.delete_cluster(b, region, name)
                return _json({})
        if path == "/_sim/state" and method == "GET":
            moto = await asyncio.to_thread(self._moto.state)
            return _json({"clusters": _control.state(b), **moto})
        if path == "/_sim/calls":
            if method == "GET":
                return _json({**{s: dict(c) for s, c in self.calls.items()}, "_faults": self.faults.counts})
            if method == "DELETE":
                self.calls.clear()
                return _json({})
        if path == "/_sim/faults":
            if method == "PUT":
                self.set_faults(msgspec.json.decode(await request.read(), type=FaultSettings))
            if method in ("PUT", "GET"):
                return _json(self.faults.settings)
        if path == "/_sim/credentials" and method == "PUT":
            self.credentials.update(msgspec.json.decode(await request.read(), type=dict[str, str]))
            return _json({})
        if path == "/_sim/reset" and method == "POST":
            await self.reset()
            return _json({})
        return _json({"message": f"no control route {method} {path}"}, 404)

    def set_faults(self, faults: FaultSettings) -> None:
        self.faults = FaultInjector(faults, self._clock)

    async def reset(self) -> None:
        self.backend.reset()
        self._fixes.stacks.close()
        self.calls.clear()
        self.set_faults(self._initial_faults)
        async with self._session.post(self._moto_url + "/moto-api/reset") as resp:
            await resp.read()
