"""Credential specs, references and lookups (Rancher's ``amazonCredentialSecret`` semantics)."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple

from ._errors import CredentialError

ACCESS_KEY_FIELD = "amazonec2credentialConfig-accessKey"
SECRET_KEY_FIELD = "amazonec2credentialConfig-secretKey"
SESSION_TOKEN_FIELD = "amazonec2credentialConfig-sessionToken"
ROLE_ARN_FIELD = "amazonec2credentialConfig-roleArn"
EXTERNAL_ID_FIELD = "amazonec2credentialConfig-externalId"

INVALID_CREDENTIAL = "invalid aws cloud credential"


class SigningCredentials(NamedTuple):
    """A snapshot of credentials to sign with (botocore's ``ReadOnlyCredentials`` plus ``expiry``).
    ``repr`` shows neither the secret key nor the session token."""

    access_key: str
    secret_key: str
    token: str | None = None
    expiry: float | None = None
    """When temporary credentials expire (epoch seconds); None for long-term keys."""

    def __repr__(self) -> str:
        return f"SigningCredentials(access_key={self.access_key!r}, expiry={self.expiry!r})"

    @classmethod
    async def freeze(cls, credentials: Any) -> SigningCredentials:
        """A snapshot of botocore (or aiobotocore) credentials, refreshing them first if they are due;
        the expiry is read right after the freeze, so it is the snapshot's."""
        frozen = credentials.get_frozen_credentials()
        if inspect.isawaitable(frozen):
            frozen = await frozen
        when = getattr(credentials, "_expiry_time", None)
        expiry = when.timestamp() if isinstance(when, datetime) else None
        return cls(frozen.access_key, frozen.secret_key, frozen.token, expiry)


DEFAULT_IDENTITY = "default-chain"
"""Identity key of the AWS default credential chain (env, IRSA, instance profile...)."""


@dataclass(frozen=True)
class AwsCredentialSpec:
    """One stored AWS credential. ``repr``/``str`` never show the secret key or the session token."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    role_arn: str | None = None
    """A role to assume with these keys (STS AssumeRole); None uses the keys directly."""
    external_id: str | None = field(default=None, repr=False)
    """ExternalId sent with AssumeRole."""

    @classmethod
    def from_secret_data(cls, data: Mapping[str, str | None]) -> AwsCredentialSpec:
        """Build a spec from a stored secret's data keys, as Rancher reads a cloud credential.

        Both ``amazonec2credentialConfig-accessKey`` and ``-secretKey`` must be present (an empty
        value is accepted, as in Rancher); otherwise ``CredentialError("invalid aws cloud credential")``.
        """
        access_key = data.get(ACCESS_KEY_FIELD)
        secret_key = data.get(SECRET_KEY_FIELD)
        if access_key is None or secret_key is None:
            raise CredentialError(INVALID_CREDENTIAL)
        return cls(
            access_key_id=access_key,
            secret_access_key=secret_key,
            session_token=data.get(SESSION_TOKEN_FIELD) or None,
            role_arn=data.get(ROLE_ARN_FIELD) or None,
            external_id=data.get(EXTERNAL_ID_FIELD) or None,
        )

    @cached_property
    def identity(self) -> str:
        """A stable key naming this credential in caches and limiters; a digest, not the secret."""
        digest = hashlib.sha256(
            "\0".join(
                (
                    self.access_key_id,
                    self.secret_access_key,
                    self.session_token or "",
                    self.role_arn or "",
                    self.external_id or "",
                )
            ).encode()
        ).hexdigest()
        return f"{self.access_key_id[:4]}..{digest[:24]}"

    @property
    def base(self) -> AwsCredentialSpec:
        """The keys without the role: the identity that calls AssumeRole."""
        return AwsCredentialSpec(self.access_key_id, self.secret_access_key, self.session_token)


CredentialLookup = Callable[[str, str], Awaitable[AwsCredentialSpec | None]]
"""``async (namespace, name) -> spec | None`` supplied by the store; None means "no such secret"."""


def parse_credential_reference(reference: str) -> tuple[str, str]:
    """Split ``namespace:name`` on the first colon; without a colon the namespace is empty."""
    namespace, sep, name = reference.partition(":")
    if not sep:
        return "", reference
    return namespace, name


async def resolve_credential_reference(
    reference: str, lookup: CredentialLookup | None
) -> AwsCredentialSpec | None:
    """Resolve ``amazonCredentialSecret``; an empty reference means the default chain (None).

    Errors carry Rancher's wording: ``error getting secret <ns>/<name>: <reason>``.
    """
    if not reference:
        return None
    namespace, name = parse_credential_reference(reference)
    if lookup is None:
        raise CredentialError(f"error getting secret {namespace}/{name}: no credential store configured")
    try:
        spec = await lookup(namespace, name)
    except CredentialError:
        raise
    except Exception as exc:
        raise CredentialError(f"error getting secret {namespace}/{name}: {exc}") from exc
    if spec is None:
        raise CredentialError(f'error getting secret {namespace}/{name}: secrets "{name}" not found')
    return spec
