"""Verifying EKS bearer tokens the way the cluster's API server does (aws-iam-authenticator's rules).

The simulator's own code, written from the authenticator's rules and AWS's SigV4 specification, not
shared with the control plane's minter (``controlplane.token``): tests mint with one and verify with
the other, so a mistake cannot pass unseen by being on both sides.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import quote, unquote, urlsplit

import botocore.loaders

TOKEN_PREFIX: Final = "k8s-aws-v1."
CLUSTER_ID_HEADER: Final = "x-k8s-aws-id"
MAX_TOKEN_BYTES: Final = 4096
TOKEN_LIFETIME: Final = timedelta(minutes=15)
"""EKS honours a token for this long after ``X-Amz-Date`` whatever ``X-Amz-Expires`` says."""

_ALLOWED_QUERY_KEYS: Final = frozenset(
    {
        "action",
        "version",
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-security-token",
        "x-amz-signature",
        "x-amz-signedheaders",
    }
)
_AMZ_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
_EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()
_BASE64URL_RE: Final = re.compile(r"[A-Za-z0-9_-]+")
# sts.<region>.<domain> and sts-fips.<region>.<domain>, where <domain> is the DNS suffix (or the
# dual-stack one) of the partition the region belongs to, as AWS publishes them (botocore's copy of
# partitions.json); the global sts.amazonaws.com besides.
_STS_HOST_RE: Final = re.compile(r"^sts(?:-fips)?\.(?P<region>[a-z0-9-]+)\.(?P<domain>[a-z0-9.-]+)$")
_GLOBAL_STS_HOST: Final = "sts.amazonaws.com"


@dataclass(frozen=True, slots=True)
class _Partition:
    regions: frozenset[str]
    pattern: re.Pattern[str]
    domains: frozenset[str]


@functools.cache
def _partitions() -> tuple[_Partition, ...]:
    data = botocore.loaders.create_loader().load_data("partitions")
    return tuple(
        _Partition(
            regions=frozenset(r for r in p["regions"] if not r.endswith("-global")),
            pattern=re.compile(p["regionRegex"]),
            domains=frozenset({p["outputs"]["dnsSuffix"], p["outputs"]["dualStackDnsSuffix"]}),
        )
        for p in data["partitions"]
    )


def _partition_of(region: str) -> _Partition | None:
    """The partition that lists ``region``, else the first whose pattern it matches (a new region)."""
    partitions = _partitions()
    listed = next((p for p in partitions if region in p.regions), None)
    return listed or next((p for p in partitions if p.pattern.match(region)), None)


def _check_sts_host(host: str) -> None:
    """aws-iam-authenticator's host rule: an STS endpoint of a region of a known partition."""
    if host == _GLOBAL_STS_HOST:
        return
    match = _STS_HOST_RE.match(host)
    partition = _partition_of(match["region"]) if match else None
    if match is None or partition is None:
        raise TokenRejected("unexpected hostname in pre-signed URL")
    if match["domain"] not in partition.domains:
        raise TokenRejected("partition does not support hostname in pre-signed URL")


class TokenRejected(Exception):
    """The token fails a verifier rule. ``reason`` never contains the token or a secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    access_key_id: str
    region: str
    """From the credential scope (the STS region the token was signed for)."""
    sts_host: str
    signed_at: datetime
    signature_checked: bool
    """True when the secret was known and the SigV4 signature was recomputed and matched.
    Only then is the binding to the cluster name proven: the cluster name is not in the URL,
    it is the value of a signed header the verifier supplies."""


def _sigv4_quote(value: str) -> str:
    return quote(value, safe="-_.~")


def _signature(
    *,
    secret_key: str,
    host: str,
    raw_query: str,
    cluster_name: str,
    amz_date: str,
    scope: str,
    signed_headers: list[str],
) -> str:
    """Recompute the SigV4 query signature the way STS would, with ``cluster_name`` as the header value."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        k, v = unquote(k), unquote(v)
        if k == "X-Amz-Signature":
            continue
        pairs.append((_sigv4_quote(k), _sigv4_quote(v)))
    pairs.sort()
    canonical_query = "&".join(f"{k}={v}" for k, v in pairs)
    header_values = {"host": host, CLUSTER_ID_HEADER: cluster_name}
    canonical_headers = "".join(
        f"{name}:{' '.join(header_values.get(name, '').split())}\n" for name in signed_headers
    )
    canonical_request = "\n".join(
        ["GET", "/", canonical_query, canonical_headers, ";".join(signed_headers), _EMPTY_SHA256]
    )
    _, date, region, service, terminator = scope.split("/")
    credential_scope = f"{date}/{region}/{service}/{terminator}"  # the scope without the access key id
    request_hash = hashlib.sha256(canonical_request.encode()).hexdigest()
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, credential_scope, request_hash])
    key = ("AWS4" + secret_key).encode()
    for part in (date, region, service, terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def verify_token(
    token: str,
    *,
    cluster_name: str,
    now: datetime,
    secret_for_access_key: Callable[[str], str | None] | None = None,
) -> VerifiedToken:
    """Apply aws-iam-authenticator's verifier rules to ``token``; raise :class:`TokenRejected`.

    The rules and messages follow aws-iam-authenticator's ``Verify``. Where it would then ask STS,
    this verifier recomputes the signature locally when ``secret_for_access_key`` knows the key
    (constant-time comparison), with the header ``x-k8s-aws-id`` set to ``cluster_name`` exactly
    as the authenticator sends it to STS; otherwise the signature is not checked.
    ``now`` must be timezone-aware.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenRejected("token is too large")
    if not token.startswith(TOKEN_PREFIX):
        raise TokenRejected(f"token is missing expected {TOKEN_PREFIX!r} prefix")
    body = token[len(TOKEN_PREFIX) :]
    if not _BASE64URL_RE.fullmatch(body):
        raise TokenRejected("token is not unpadded base64url")
    try:
        url = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise TokenRejected("token is not unpadded base64url") from None

    parts = urlsplit(url)
    if parts.scheme != "https":
        raise TokenRejected(f"unexpected scheme {parts.scheme!r} in pre-signed URL")
    host = parts.netloc
    _check_sts_host(host)
    if parts.path != "/":
        raise TokenRejected("unexpected path in pre-signed URL")
    if parts.fragment:
        raise TokenRejected("unexpected fragment in pre-signed URL")

    params: dict[str, str] = {}
    for part in parts.query.split("&"):
        if not part:
            continue
        raw_key, _, raw_value = part.partition("=")
        key, value = unquote(raw_key).lower(), unquote(raw_value)
        if key not in _ALLOWED_QUERY_KEYS:
            raise TokenRejected("non-whitelisted query parameter in pre-signed URL")
        if key in params:
            raise TokenRejected("duplicate query parameter found in pre-signed URL")
        params[key] = value

    if params.get("action") != "GetCallerIdentity":
        raise TokenRejected("unexpected action parameter in pre-signed URL")
    signed_headers = params.get("x-amz-signedheaders", "").split(";")
    if not any(h.lower() == CLUSTER_ID_HEADER for h in signed_headers):
        raise TokenRejected(f"client did not sign the {CLUSTER_ID_HEADER} header in the pre-signed URL")
    try:
        expires = int(params.get("x-amz-expires", ""))
    except ValueError:
        expires = -1
    if not 0 <= expires <= 900:
        raise TokenRejected("invalid X-Amz-Expires parameter in pre-signed URL")
    amz_date = params.get("x-amz-date", "")
    if not amz_date:
        raise TokenRejected("X-Amz-Date parameter must be present in pre-signed URL")
    try:
        signed_at = datetime.strptime(amz_date, _AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise TokenRejected("error parsing X-Amz-Date parameter") from None
    if now > signed_at + TOKEN_LIFETIME:
        raise TokenRejected("X-Amz-Date parameter is expired (15 minute expiration)")
    # STS rejects requests signed too far in the future (SigV4 allows 5 minutes of clock skew).
    if signed_at - now > timedelta(minutes=5):
        raise TokenRejected("X-Amz-Date parameter is in the future")

    scope = params.get("x-amz-credential", "")
    scope_parts = scope.split("/")
    if (
        params.get("x-amz-algorithm") != "AWS4-HMAC-SHA256"
        or len(scope_parts) != 5
        or not scope_parts[0]
        or scope_parts[1] != amz_date[:8]
        or scope_parts[3] != "sts"
        or scope_parts[4] != "aws4_request"
    ):
        raise TokenRejected("malformed SigV4 credential scope in pre-signed URL")
    signature = params.get("x-amz-signature", "")
    if not re.fullmatch(r"[0-9a-f]{64}", signature):
        raise TokenRejected("missing or malformed X-Amz-Signature in pre-signed URL")
    access_key_id = scope_parts[0]

    checked = False
    secret = secret_for_access_key(access_key_id) if secret_for_access_key is not None else None
    if secret is not None:
        expected = _signature(
            secret_key=secret,
            host=host,
            raw_query=parts.query,
            cluster_name=cluster_name,
            amz_date=amz_date,
            scope=scope,
            signed_headers=[h.lower() for h in signed_headers],
        )
        if not hmac.compare_digest(expected, signature):
            raise TokenRejected("signature does not match (wrong secret, cluster name or tampered URL)")
        checked = True
    return VerifiedToken(
        access_key_id=access_key_id,
        region=scope_parts[2],
        sts_host=host,
        signed_at=signed_at,
        signature_checked=checked,
    )
