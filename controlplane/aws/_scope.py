"""``AwsScope``: the AWS calls of one credential identity in one region, made through the adapter.

The service mixins (``EksCalls``, ``Ec2Calls``, ...) are written against ``_call``/``_paginate``
(``_base.CallsBase``); the scope looks the operation up, runs the guard before a mutating call and
hands the call to its ``ScopeHost`` (the ``AwsAdapter``, which this module does not import).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import msgspec
from aiobotocore.credentials import AioRefreshableCredentials

from ._cfn import CfnCalls
from ._credentials import AwsCredentialSpec, SigningCredentials
from ._ec2 import Ec2Calls
from ._eks import EksCalls
from ._eks_features import EksFeatureCalls
from ._iam import IamCalls
from ._operations import OPERATIONS, Operation

Guard = Callable[[], None]
"""Runs before each mutating call; raising prevents the call (see ``AwsAdapter.scope``)."""


class CallerIdentity(msgspec.Struct, frozen=True):
    """STS GetCallerIdentity."""

    account: str
    arn: str
    user_id: str


class _Identity:
    """What the adapter remembers about one credential identity."""

    __slots__ = ("_lock", "caller", "caller_future", "credentials", "key", "spec")

    def __init__(self, key: str, spec: AwsCredentialSpec | None) -> None:
        self.key = key
        self.spec = spec
        self.caller: CallerIdentity | None = None
        self.caller_future: asyncio.Future[CallerIdentity] | None = None
        self.credentials: AioRefreshableCredentials | None = None
        self._lock = asyncio.Lock()


class ScopeHost(Protocol):
    """What a scope needs from the adapter that made it (``AwsAdapter`` implements it)."""

    async def call(self, ident: _Identity, region: str, op: Operation, request: dict[str, Any]) -> Any: ...

    async def paginate(
        self, ident: _Identity, region: str, op: Operation, request: dict[str, Any], result_key: str
    ) -> list[Any]: ...

    async def caller_identity(self, ident: _Identity, region: str) -> CallerIdentity: ...

    async def frozen_credentials(self, ident: _Identity, region: str) -> SigningCredentials: ...


class AwsScope(EksCalls, EksFeatureCalls, Ec2Calls, CfnCalls, IamCalls):
    """AWS calls with one credential identity in one region. Cheap: create one per use."""

    __slots__ = ("_adapter", "_guard", "_ident", "region")

    def __init__(self, adapter: ScopeHost, ident: _Identity, region: str, guard: Guard | None = None) -> None:
        self._adapter = adapter
        self._ident = ident
        self.region = region
        self._guard = guard

    @property
    def identity(self) -> str:
        """The credential identity key (a digest; safe to log)."""
        return self._ident.key

    def __repr__(self) -> str:
        return f"AwsScope(identity={self._ident.key!r}, region={self.region!r})"

    async def get_caller_identity(self) -> CallerIdentity:
        """STS GetCallerIdentity, cached per credential identity."""
        return await self._adapter.caller_identity(self._ident, self.region)

    async def account_id(self) -> str:
        """The AWS account of these credentials (cached)."""
        return (await self.get_caller_identity()).account

    async def frozen_credentials(self) -> SigningCredentials:
        """The credentials these calls sign with (for presigning EKS tokens), with their expiry when
        they are temporary. Assumed-role credentials are refreshed before they expire."""
        return await self._adapter.frozen_credentials(self._ident, self.region)

    async def _call(self, service: str, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        op = OPERATIONS.get((service, operation))
        if op is None:
            raise LookupError(f"{service}:{operation} is not registered in OPERATIONS")
        if op.mutating and self._guard is not None:
            self._guard()
        return await self._adapter.call(self._ident, self.region, op, request)  # type: ignore[no-any-return]

    async def _paginate(
        self, service: str, operation: str, request: dict[str, Any], result_key: str
    ) -> list[Any]:
        op = OPERATIONS.get((service, operation))
        if op is None or not op.paginated:
            raise LookupError(f"{service}:{operation} is not registered in OPERATIONS as paginated")
        return await self._adapter.paginate(self._ident, self.region, op, request, result_key)
