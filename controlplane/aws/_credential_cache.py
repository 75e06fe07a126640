"""Credentials by reference, read from the store and reused for a few seconds.

Every refresh of every cluster resolves its credential; a store round trip per refresh would cost more
than the AWS call it signs. A rotated or deleted credential is in use within ``ttl`` seconds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from controlplane.api import Credential

from ._credentials import AwsCredentialSpec

CredentialSource = Callable[[str, str], Awaitable[Credential | None]]
"""``(namespace, name) -> Credential | None``: where credentials live (the store's ``get_credential``)."""


def credential_spec(cred: Credential) -> AwsCredentialSpec:
    """The AWS adapter's view of a stored credential."""
    return AwsCredentialSpec(
        access_key_id=cred.access_key,
        secret_access_key=cred.secret_key,
        session_token=cred.session_token,
        role_arn=cred.role_arn,
        external_id=cred.external_id,
    )


class CachedCredentialLookup:
    """A ``CredentialLookup`` over ``source`` with a TTL and a bounded LRU (misses are cached too)."""

    __slots__ = ("_entries", "_size", "_source", "_ttl")

    def __init__(self, source: CredentialSource, *, ttl: float = 10.0, size: int = 4096) -> None:
        if ttl < 0 or size < 1:
            raise ValueError("ttl must be >= 0 and size >= 1")
        self._source = source
        self._ttl = ttl
        self._size = size
        self._entries: OrderedDict[tuple[str, str], tuple[float, AwsCredentialSpec | None]] = OrderedDict()

    async def __call__(self, namespace: str, name: str) -> AwsCredentialSpec | None:
        key = (namespace, name)
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        cred = await self._source(namespace, name)
        spec = None if cred is None else credential_spec(cred)
        self._entries[key] = (now, spec)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return spec

    def invalidate(self, namespace: str, name: str) -> None:
        """Forget one entry (the credential was written or deleted): the next lookup reads the store."""
        self._entries.pop((namespace, name), None)

    def __len__(self) -> int:
        return len(self._entries)
