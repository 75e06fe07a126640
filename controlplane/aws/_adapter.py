"""``AwsAdapter``: one aiobotocore session per process, cached clients, limits, metrics.

Per call the adapter does a few dict lookups (operation, identity, limiter, client), takes a
token and an in-flight slot, and calls the cached client (``_metered.invoke``). Nothing is built
per call beyond the request parameters; metric label children are resolved once per operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioRefreshableCredentials
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import DataNotFoundError

from ._base import params
from ._clients import AdapterClosedError, ClientCache, ClientKey
from ._credentials import (
    DEFAULT_IDENTITY,
    AwsCredentialSpec,
    CredentialLookup,
    SigningCredentials,
    resolve_credential_reference,
)
from ._errors import ClientRequestError, CredentialError
from ._fastpath import FastReads, fast_path, page_query
from ._limits import Clock, Limiter, Sleep
from ._metered import invoke, throttle_hook
from ._operations import OPERATIONS, Operation
from ._scope import AwsScope, CallerIdentity, Guard, _Identity
from ._settings import SERVICES, AwsSettings

_GET_CALLER_IDENTITY = OPERATIONS[("sts", "GetCallerIdentity")]
_ASSUME_ROLE = OPERATIONS[("sts", "AssumeRole")]


class AwsAdapter:
    """The process-wide AWS adapter. Use as ``async with AwsAdapter(settings, lookup) as aws:``.

    ``await aws.scope("ns:name", region)`` resolves a credential reference (empty: the default
    chain) and returns an ``AwsScope`` whose helpers call AWS with it. The adapter can be opened
    once; calls before opening or after closing raise ``AdapterClosedError``.
    """

    def __init__(
        self,
        settings: AwsSettings | None = None,
        credential_lookup: CredentialLookup | None = None,
        *,
        session: AioSession | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings or AwsSettings()
        self._lookup = credential_lookup
        self._session = session
        self._clock = clock
        self._sleep = sleep
        self._state = "new"
        self._config = AioConfig(
            retries={"mode": self.settings.retry_mode, "total_max_attempts": self.settings.max_attempts},
            connect_timeout=self.settings.connect_timeout,
            read_timeout=self.settings.read_timeout,
            max_pool_connections=self.settings.pool_size,
            user_agent_extra="eks-controlplane",
        )
        self._clients = ClientCache(self.settings.client_cache_size, self._create_client, self._close_client)
        self._identities: OrderedDict[str, _Identity] = OrderedDict()
        self._limiters: OrderedDict[tuple[str, str, str], Limiter] = OrderedDict()
        # The fast path for hot EKS reads (see _fastpath). Adaptive retries keep botocore: their
        # client-side limiter lives inside the botocore client.
        fast = self.settings.fast_reads and self.settings.retry_mode == "standard"
        self._fast: FastReads | None = FastReads(self.settings) if fast else None

    # --- lifecycle ----------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError(f"an AwsAdapter can be opened once (it is {self._state})")
        if self._session is None:
            self._session = get_session()
        if self._fast is not None:
            await self._fast.open()
        self._state = "open"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop accepting calls; close every client once the calls using it have returned."""
        if self._state in ("closing", "closed"):
            return
        self._state = "closing"
        try:
            await self._clients.close(self.settings.shutdown_grace)
        finally:
            if self._fast is not None:
                await self._fast.close()
            self._state = "closed"
            self._identities.clear()
            self._limiters.clear()

    async def warm(self, region: str = "us-east-1") -> None:
        """Load now what botocore loads on a service's first client: its model, endpoint rules and paginators
        (tens of thousands of dicts and lists for EC2 alone, kept for the life of the process). Loaded
        before ``gc.freeze()`` they stay out of every full collection; loaded at the first call of a fleet,
        the collector would walk them on every full pass. The client built to load them signs nothing."""
        self._check_open()
        assert self._session is not None
        loader = self._session.get_component("data_loader")
        for service in SERVICES:
            client = self._session.create_client(
                service,
                region_name=region,
                config=self._config,
                aws_access_key_id="warm-up",
                aws_secret_access_key="warm-up",
                **params(endpoint_url=self.settings.endpoint_for(service)),
            )
            async with client as opened:
                version = opened.meta.service_model.api_version
            with contextlib.suppress(DataNotFoundError):  # a service without paginators
                # What a client's first get_paginator loads (cached by service, kind and API version).
                loader.load_service_model(service, "paginators-1", version)

    @property
    def default_region(self) -> str:
        """botocore's default region for this process (``AWS_DEFAULT_REGION``, else ``region`` in the
        AWS config file's profile); empty when there is none."""
        self._check_open()
        assert self._session is not None
        return str(self._session.get_config_variable("region") or "")

    @property
    def open_clients(self) -> int:
        """Clients currently open (cached, plus evicted ones still finishing calls)."""
        return self._clients.open_clients

    def _check_open(self) -> None:
        if self._state != "open":
            raise AdapterClosedError(f"the AWS adapter is {self._state}")

    # --- scopes -------------------------------------------------------------------------------------
    async def scope(self, credential_reference: str, region: str, *, guard: Guard | None = None) -> AwsScope:
        """An ``AwsScope`` for ``amazonCredentialSecret`` (``ns:name``; empty: default chain).

        ``guard`` runs before every mutating call and may raise to prevent it (a replica checks that it
        still holds the cluster's lease); reads are never guarded."""
        self._check_open()
        spec = await resolve_credential_reference(credential_reference, self._lookup)
        return self.scope_for(spec, region, guard=guard)

    def scope_for(
        self, credentials: AwsCredentialSpec | None, region: str, *, guard: Guard | None = None
    ) -> AwsScope:
        """An ``AwsScope`` for explicit credentials (None: the default chain)."""
        self._check_open()
        if not region:
            raise ValueError("an AWS scope needs a region")
        return AwsScope(self, self._identity(credentials), region, guard)

    def _identity(self, spec: AwsCredentialSpec | None) -> _Identity:
        key = spec.identity if spec is not None else DEFAULT_IDENTITY
        ident = self._identities.get(key)
        if ident is None:
            ident = self._identities[key] = _Identity(key, spec)
            if len(self._identities) > self.settings.identity_cache_size:
                self._identities.popitem(last=False)
        else:
            self._identities.move_to_end(key)
        return ident

    # --- calls --------------------------------------------------------------------------------------
    async def call(self, ident: _Identity, region: str, op: Operation, request: dict[str, Any]) -> Any:
        """One call of ``op``; returns botocore's parsed response or raises a typed ``AwsError``."""
        self._check_open()
        fast = self._fast
        path = fast_path(op, request) if fast is not None else None
        limiter = await self._limiter(ident, region, op.service)
        entry = await self._clients.acquire((ident.key, region, op.service), ident)
        try:
            transport = None
            if path is not None and fast is not None:
                transport = await fast.transport(entry.key, entry.client)
            if transport is not None:
                assert fast is not None and path is not None
                get = functools.partial(fast.get, entry.key, entry.client, transport, op, path)
                return await invoke(op, limiter, get)
            method = getattr(entry.client, op.method)
            return await invoke(op, limiter, lambda: method(**request))
        finally:
            await self._clients.release(entry)

    async def paginate(
        self, ident: _Identity, region: str, op: Operation, request: dict[str, Any], result_key: str
    ) -> list[Any]:
        """Every page of ``op`` through botocore's paginator; each page is one limited, counted call."""
        self._check_open()
        limiter = await self._limiter(ident, region, op.service)
        entry = await self._clients.acquire((ident.key, region, op.service), ident)
        items: list[Any] = []
        fast = self._fast
        path = fast_path(op, request) if fast is not None else None
        try:
            transport = None
            if path is not None and fast is not None:
                transport = await fast.transport(entry.key, entry.client)
            if transport is not None:
                assert fast is not None and path is not None
                token: str | None = None
                while True:
                    get = functools.partial(
                        fast.get, entry.key, entry.client, transport, op, path, page_query(token)
                    )
                    page = await invoke(op, limiter, get)
                    items.extend(page.get(result_key) or ())
                    previous, token = token, page.get("nextToken")
                    if not token:
                        return items
                    if token == previous:
                        # botocore's paginator refuses a repeated token too (it would loop forever).
                        raise ClientRequestError(
                            f"The same next token was received twice: {token}",
                            service=op.service,
                            operation=op.name,
                            code="PaginationError",
                        )
            pages = entry.client.get_paginator(op.method).paginate(**request)
            async with _aclosing(pages.__aiter__()) as iterator:
                while (page := await invoke(op, limiter, iterator.__anext__)) is not None:
                    items.extend(page.get(result_key) or ())
        finally:
            await self._clients.release(entry)
        return items

    async def _limiter(self, ident: _Identity, region: str, service: str) -> Limiter:
        # Limits are per (account, region, service): identities of one account share them. STS
        # calls are keyed by identity until the account is known, as resolving it is an STS call.
        caller = ident.caller
        if caller is not None:
            account = caller.account
        elif service == "sts":
            account = f"identity:{ident.key}"
        else:
            account = (await self.caller_identity(ident, region)).account
        key = (account, region, service)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = Limiter(self.settings.limits_for(service), clock=self._clock, sleep=self._sleep)
            self._limiters[key] = limiter
            if len(self._limiters) > self.settings.limiter_cache_size:
                # A dropped limiter still in use keeps working for its holders; only new calls
                # get a fresh one.
                self._limiters.popitem(last=False)
        else:
            self._limiters.move_to_end(key)
        return limiter

    async def caller_identity(self, ident: _Identity, region: str) -> CallerIdentity:
        """STS GetCallerIdentity for ``ident``, cached; concurrent first callers share one call."""
        if ident.caller is not None:
            return ident.caller
        while (pending := ident.caller_future) is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not pending.cancelled() or (task is not None and task.cancelling()):
                    raise
        future: asyncio.Future[CallerIdentity] = asyncio.get_running_loop().create_future()
        ident.caller_future = future
        try:
            response = await self.call(ident, region, _GET_CALLER_IDENTITY, {})
            caller = CallerIdentity(
                account=str(response["Account"]), arn=str(response["Arn"]), user_id=str(response["UserId"])
            )
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            ident.caller_future = None
        ident.caller = caller
        future.set_result(caller)
        return caller

    async def frozen_credentials(self, ident: _Identity, region: str) -> SigningCredentials:
        spec = ident.spec
        if spec is not None and spec.role_arn:
            return await SigningCredentials.freeze(await self._assumed_credentials(ident, region))
        if spec is not None:
            return SigningCredentials(spec.access_key_id, spec.secret_access_key, spec.session_token)
        assert self._session is not None
        creds = await self._session.get_credentials()
        if creds is None:
            raise CredentialError("no AWS credentials found in the default chain")
        return await SigningCredentials.freeze(creds)

    # --- clients ------------------------------------------------------------------------------------
    async def _create_client(self, key: ClientKey, ident: _Identity) -> Any:
        _, region, service = key
        assert self._session is not None
        kwargs: dict[str, Any] = params(endpoint_url=self.settings.endpoint_for(service))
        spec = ident.spec
        assumed = None
        if spec is not None and spec.role_arn:
            assumed = await self._assumed_credentials(ident, region)
            # The signer's credentials are replaced below; these placeholders never sign anything.
            kwargs.update(aws_access_key_id="assumed-role", aws_secret_access_key="assumed-role")
        elif spec is not None:
            kwargs.update(
                aws_access_key_id=spec.access_key_id,
                aws_secret_access_key=spec.secret_access_key,
                aws_session_token=spec.session_token,
            )
        # Without explicit keys botocore resolves the default chain once per session and caches it.
        client = await self._session.create_client(
            service, region_name=region, config=self._config, **kwargs
        ).__aenter__()
        if assumed is not None:
            client._request_signer._credentials = assumed
        client.meta.events.register("needs-retry", throttle_hook(service), unique_id="controlplane-throttles")
        return client

    @staticmethod
    async def _close_client(client: Any) -> None:
        await client.__aexit__(None, None, None)

    async def _assumed_credentials(self, ident: _Identity, region: str) -> AioRefreshableCredentials:
        spec = ident.spec
        assert spec is not None and spec.role_arn
        async with ident._lock:
            if ident.credentials is not None:
                return ident.credentials
            base = _Identity(spec.base.identity, spec.base)
            request = params(
                RoleArn=spec.role_arn,
                RoleSessionName=self.settings.role_session_name,
                DurationSeconds=self.settings.assume_role_duration,
                ExternalId=spec.external_id,
            )

            async def refresh() -> dict[str, Any]:
                response = await self.call(base, region, _ASSUME_ROLE, request)
                creds = response["Credentials"]
                return {
                    "access_key": creds["AccessKeyId"],
                    "secret_key": creds["SecretAccessKey"],
                    "token": creds["SessionToken"],
                    "expiry_time": creds["Expiration"].isoformat(),
                }

            # botocore refreshes 15 min (advisory) / 10 min (mandatory) before expiry, under a lock.
            ident.credentials = AioRefreshableCredentials.create_from_metadata(
                metadata=await refresh(), refresh_using=refresh, method="sts-assume-role"
            )
            return ident.credentials


@contextlib.asynccontextmanager
async def _aclosing(iterator: Any) -> AsyncIterator[Any]:
    try:
        yield iterator
    finally:
        await iterator.aclose()
