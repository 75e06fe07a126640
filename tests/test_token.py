"""Tokens minted by the control plane (``controlplane.token``), checked by the simulator's own verifier
(``controlplane.sim._iam_auth``): two independent implementations of aws-iam-authenticator's format.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import botocore.session
import pytest
from aiobotocore.credentials import AioCredentials
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials

from controlplane.aws import SigningCredentials
from controlplane.aws._partitions import known_regions
from controlplane.metrics import REGISTRY
from controlplane.sim._iam_auth import TokenRejected, verify_token
from controlplane.token import TOKEN_PREFIX, TokenMinter, mint_token, sts_host

CREDS = ReadOnlyCredentials("AKIDTEST", "secret", None)


def secrets(key: str) -> str | None:
    return {"AKIDTEST": "secret", "ASIATEST": "secret2"}.get(key)


def decode(token: str) -> str:
    assert token.startswith(TOKEN_PREFIX)
    body = token[len(TOKEN_PREFIX) :]
    assert "=" not in body
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def encode(url: str) -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).rstrip(b"=").decode()


def signed_at(token: str) -> datetime:
    date = parse_qs(urlsplit(decode(token)).query)["X-Amz-Date"][0]
    return datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def with_query(token: str, edit: dict[str, str | None]) -> str:
    """Re-encode the token's URL with query parameters replaced (None removes)."""
    parts = urlsplit(decode(token))
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in edit]
    pairs += [(k, v) for k, v in edit.items() if v is not None]
    return encode(urlunsplit(parts._replace(query=urlencode(pairs))))


def metric(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    return value or 0.0


def test_token_format_matches_aws_iam_authenticator() -> None:
    token = mint_token(cluster_name="demo", region="eu-west-1", credentials=CREDS)
    url = urlsplit(decode(token))
    assert (url.scheme, url.netloc, url.path) == ("https", "sts.eu-west-1.amazonaws.com", "/")
    query = parse_qs(url.query)
    assert all(len(v) == 1 for v in query.values())
    q = {k: v[0] for k, v in query.items()}
    assert q["Action"] == "GetCallerIdentity"
    assert q["Version"] == "2011-06-15"
    assert q["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert q["X-Amz-Expires"] == "60"
    assert q["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id"
    assert q["X-Amz-Credential"].startswith("AKIDTEST/")
    assert q["X-Amz-Credential"].endswith("/eu-west-1/sts/aws4_request")
    assert "X-Amz-Security-Token" not in q
    assert len(q["X-Amz-Signature"]) == 64
    # The cluster name is a signed header, never a query parameter.
    assert "demo" not in url.query
    assert abs(signed_at(token) - datetime.now(UTC)) < timedelta(seconds=5)


def test_session_token_and_china_partition() -> None:
    creds = ReadOnlyCredentials("ASIATEST", "secret2", "session/to+ken==")
    token = mint_token(cluster_name="demo", region="cn-north-1", credentials=creds)
    url = urlsplit(decode(token))
    assert url.netloc == "sts.cn-north-1.amazonaws.com.cn"
    assert parse_qs(url.query)["X-Amz-Security-Token"] == ["session/to+ken=="]
    verified = verify_token(token, cluster_name="demo", now=datetime.now(UTC), secret_for_access_key=secrets)
    assert verified.signature_checked
    assert (verified.access_key_id, verified.region) == ("ASIATEST", "cn-north-1")


def test_sts_host() -> None:
    assert sts_host("us-east-1") == "sts.us-east-1.amazonaws.com"
    assert sts_host("us-gov-west-1") == "sts.us-gov-west-1.amazonaws.com"
    assert sts_host("cn-northwest-1") == "sts.cn-northwest-1.amazonaws.com.cn"
    assert sts_host("us-iso-east-1") == "sts.us-iso-east-1.c2s.ic.gov"
    assert sts_host("us-isob-east-1") == "sts.us-isob-east-1.sc2s.sgov.gov"
    for bad in ("evil.example.com/", "aws-global", "", "US-EAST-1"):
        with pytest.raises(ValueError):
            sts_host(bad)


EVERY_REGION = [r for regions in known_regions().values() for r in regions]


@pytest.mark.parametrize("region", EVERY_REGION)
def test_sts_host_is_botocores_regional_sts_endpoint(region: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore's own STS client, asked for regional endpoints, in every region of every partition.
    monkeypatch.setenv("AWS_STS_REGIONAL_ENDPOINTS", "regional")
    for variant in ("AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"):
        monkeypatch.delenv(variant, raising=False)
    client = botocore.session.Session().create_client(
        "sts", region_name=region, aws_access_key_id="a", aws_secret_access_key="b"
    )
    presigned = client.generate_presigned_url("get_caller_identity")
    assert sts_host(region) == urlsplit(presigned).hostname
    # ... and the simulator's verifier (its own reading of AWS's partitions) accepts the token.
    token = mint_token(cluster_name="demo", region=region, credentials=CREDS)
    verified = verify_token(token, cluster_name="demo", now=datetime.now(UTC), secret_for_access_key=secrets)
    assert verified.signature_checked and verified.region == region


def test_verifier_refuses_hosts_outside_the_partition_of_their_region() -> None:
    token = mint_token(cluster_name="demo", region="us-iso-east-1", credentials=CREDS)
    parts = urlsplit(decode(token))
    now = datetime.now(UTC)
    for host, reason in [
        ("sts.us-iso-east-1.amazonaws.com", "partition does not support hostname"),
        ("sts.cn-north-1.amazonaws.com", "partition does not support hostname"),
        ("sts.us-west-2.amazonaws.com.cn", "partition does not support hostname"),
        ("sts.us-iso-east-1.c2s.ic.gov.evil.example", "partition does not support hostname"),
        ("sts.example.com", "unexpected hostname"),
        ("evil.us-east-1.amazonaws.com", "unexpected hostname"),
    ]:
        with pytest.raises(TokenRejected, match=reason):
            verify_token(encode(urlunsplit(parts._replace(netloc=host))), cluster_name="demo", now=now)
    for host in (
        "sts-fips.us-iso-east-1.c2s.ic.gov",
        "sts.us-iso-east-1.api.aws.ic.gov",
        "sts.amazonaws.com",
    ):
        verify_token(encode(urlunsplit(parts._replace(netloc=host))), cluster_name="demo", now=now)


def test_verify_accepts_fresh_token_with_and_without_secret() -> None:
    token = mint_token(cluster_name="demo", region="us-west-2", credentials=CREDS)
    now = datetime.now(UTC)
    checked = verify_token(token, cluster_name="demo", now=now, secret_for_access_key=secrets)
    assert checked.signature_checked
    assert checked.sts_host == "sts.us-west-2.amazonaws.com"
    unchecked = verify_token(token, cluster_name="demo", now=now)
    assert not unchecked.signature_checked
    # An unknown access key means the signature cannot be checked (not a rejection).
    unknown = verify_token(token, cluster_name="demo", now=now, secret_for_access_key=lambda _: None)
    assert not unknown.signature_checked


def test_verify_binds_cluster_name_and_secret() -> None:
    token = mint_token(cluster_name="demo", region="us-west-2", credentials=CREDS)
    now = datetime.now(UTC)
    with pytest.raises(TokenRejected, match="signature does not match"):
        verify_token(token, cluster_name="other", now=now, secret_for_access_key=secrets)
    with pytest.raises(TokenRejected, match="signature does not match"):
        verify_token(token, cluster_name="demo", now=now, secret_for_access_key=lambda _: "wrong")


def test_verify_age_window() -> None:
    token = mint_token(cluster_name="demo", region="us-west-2", credentials=CREDS)
    at = signed_at(token)
    verify_token(token, cluster_name="demo", now=at + timedelta(minutes=14, seconds=59))
    verify_token(token, cluster_name="demo", now=at + timedelta(minutes=15))
    with pytest.raises(TokenRejected, match="expired"):
        verify_token(token, cluster_name="demo", now=at + timedelta(minutes=15, seconds=1))
    with pytest.raises(TokenRejected, match="future"):
        verify_token(token, cluster_name="demo", now=at - timedelta(minutes=6))
    with pytest.raises(ValueError):
        verify_token(token, cluster_name="demo", now=datetime.now())  # naive


def _tampered_cases(token: str) -> dict[str, tuple[str, str]]:
    url = decode(token)
    parts = urlsplit(url)
    return {
        "http": (encode(urlunsplit(parts._replace(scheme="http"))), "unexpected scheme"),
        "evil host": (encode(urlunsplit(parts._replace(netloc="sts.evil.example.com"))), "hostname"),
        "host with port": (encode(urlunsplit(parts._replace(netloc=parts.netloc + ":8443"))), "hostname"),
        "cn region on .com": (
            encode(urlunsplit(parts._replace(netloc="sts.cn-north-1.amazonaws.com"))),
            "partition",
        ),
        "path": (encode(urlunsplit(parts._replace(path="/x"))), "unexpected path"),
        "extra parameter": (with_query(token, {"Foo": "bar"}), "non-whitelisted"),
        "duplicate parameter": (encode(url + "&action=GetCallerIdentity"), "duplicate"),
        "action": (with_query(token, {"Action": "AssumeRole"}), "unexpected action"),
        "unsigned cluster header": (
            with_query(token, {"X-Amz-SignedHeaders": "host"}),
            "did not sign the x-k8s-aws-id header",
        ),
        "expires too large": (with_query(token, {"X-Amz-Expires": "901"}), "X-Amz-Expires"),
        "expires not a number": (with_query(token, {"X-Amz-Expires": "soon"}), "X-Amz-Expires"),
        "no date": (with_query(token, {"X-Amz-Date": None}), "must be present"),
        "bad date": (with_query(token, {"X-Amz-Date": "yesterday"}), "error parsing X-Amz-Date"),
        "bad scope": (with_query(token, {"X-Amz-Credential": "AKIDTEST/x"}), "credential scope"),
        "no signature": (with_query(token, {"X-Amz-Signature": None}), "X-Amz-Signature"),
        "padded": (token + "==", "base64url"),
        "not base64": (TOKEN_PREFIX + "!!!!", "base64url"),
        "no prefix": (token[len(TOKEN_PREFIX) :], "prefix"),
        "too large": (token + "A" * 4096, "too large"),
    }


@pytest.mark.parametrize(
    "case",
    list(_tampered_cases(mint_token(cluster_name="demo", region="us-east-1", credentials=CREDS))),
)
def test_verify_rejects_structural_violations(case: str) -> None:
    token = mint_token(cluster_name="demo", region="us-east-1", credentials=CREDS)
    bad, reason = _tampered_cases(token)[case]
    with pytest.raises(TokenRejected, match=reason) as info:
        verify_token(bad, cluster_name="demo", now=datetime.now(UTC), secret_for_access_key=secrets)
    # Rejections never echo the token or the secret.
    message = str(info.value)
    assert token[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + 20] not in message
    assert "secret" not in message.replace("wrong secret", "")


def test_verify_detects_signature_tampering_only_with_secret() -> None:
    token = mint_token(cluster_name="demo", region="us-east-1", credentials=CREDS)
    later = (signed_at(token) + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
    moved = with_query(token, {"X-Amz-Date": later})
    sig = parse_qs(urlsplit(decode(token)).query)["X-Amz-Signature"][0]
    flipped = with_query(token, {"X-Amz-Signature": ("0" if sig[0] != "0" else "1") + sig[1:]})
    now = datetime.now(UTC)
    for bad in (moved, flipped):
        with pytest.raises(TokenRejected, match="signature does not match"):
            verify_token(bad, cluster_name="demo", now=now, secret_for_access_key=secrets)
        # Structurally valid: without the secret only STS could tell.
        assert not verify_token(bad, cluster_name="demo", now=now).signature_checked


def test_global_sts_host_accepted() -> None:
    token = mint_token(cluster_name="demo", region="us-east-1", credentials=CREDS)
    parts = urlsplit(decode(token))
    global_token = encode(urlunsplit(parts._replace(netloc="sts.amazonaws.com")))
    verified = verify_token(global_token, cluster_name="demo", now=datetime.now(UTC))
    assert verified.sts_host == "sts.amazonaws.com"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.anyio
async def test_minter_caches_per_identity_region_cluster() -> None:
    clock = FakeClock()
    minter = TokenMinter(clock=clock, ttl=840)
    mints, hits = metric("controlplane_token_mints_total"), metric("controlplane_token_cache_hits_total")
    a = await minter.token(cluster_name="a", region="us-east-1", credentials=CREDS)
    assert await minter.token(cluster_name="a", region="us-east-1", credentials=CREDS) == a
    b = await minter.token(cluster_name="b", region="us-east-1", credentials=CREDS)
    c = await minter.token(cluster_name="a", region="us-east-2", credentials=CREDS)
    d = await minter.token(
        cluster_name="a", region="us-east-1", credentials=ReadOnlyCredentials("AKIDOTHER", "s", None)
    )
    assert len({a, b, c, d}) == 4
    assert metric("controlplane_token_mints_total") - mints == 4
    assert metric("controlplane_token_cache_hits_total") - hits == 1
    assert len(minter) == 4
    assert "secret" not in repr(minter)


@pytest.mark.anyio
async def test_minter_ttl_expiry_and_invalidate(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    minter = TokenMinter(clock=clock, ttl=840)
    mints = metric("controlplane_token_mints_total")
    await minter.token(cluster_name="a", region="us-east-1", credentials=CREDS)
    clock.now += 839
    await minter.token(cluster_name="a", region="us-east-1", credentials=CREDS)
    assert metric("controlplane_token_mints_total") - mints == 1
    clock.now += 1
    await minter.token(cluster_name="a", region="us-east-1", credentials=CREDS)
    assert metric("controlplane_token_mints_total") - mints == 2
    minter.invalidate(access_key="AKIDTEST", region="us-east-1", cluster_name="a")
    await minter.token(cluster_name="a", region="us-east-1", credentials=CREDS)
    assert metric("controlplane_token_mints_total") - mints == 3


@pytest.mark.anyio
async def test_cached_token_never_outlives_temporary_credentials() -> None:
    clock = FakeClock()
    minter = TokenMinter(clock=clock, ttl=840)
    # Credentials with 5 minutes left: the token is cached until a minute before they expire.
    short = SigningCredentials("ASIATEST", "secret2", "session", expiry=clock.now + 300)
    mints = metric("controlplane_token_mints_total")
    first = await minter.token(cluster_name="a", region="us-east-1", credentials=short)
    clock.now += 239
    assert await minter.token(cluster_name="a", region="us-east-1", credentials=short) == first
    clock.now += 1
    await minter.token(cluster_name="a", region="us-east-1", credentials=short)
    assert metric("controlplane_token_mints_total") - mints == 2
    # Within the margin already: minted for the caller, never cached.
    clock.now = short.expiry - 30  # type: ignore[operator]
    await minter.token(cluster_name="a", region="us-east-1", credentials=short)
    await minter.token(cluster_name="a", region="us-east-1", credentials=short)
    assert metric("controlplane_token_mints_total") - mints == 4


@pytest.mark.anyio
async def test_refreshable_credentials_cap_the_cache_by_their_expiry() -> None:
    # botocore's refreshable credentials whose source hands out sessions with 12 minutes left (inside
    # botocore's 15-minute advisory window, so they are used as they are): about 4 minutes of the
    # 14-minute cache would have outlived them.
    wall = float(int(time.time()))  # whole seconds: the ISO expiry round-trips exactly
    clock = FakeClock()
    clock.now = wall

    def metadata() -> dict[str, str]:
        expiry = datetime.fromtimestamp(wall + 12 * 60, UTC)
        return {
            "access_key": "ASIATEST",
            "secret_key": "secret2",
            "token": "t",
            "expiry_time": expiry.isoformat(),
        }

    creds = RefreshableCredentials.create_from_metadata(metadata(), refresh_using=metadata, method="test")
    minter = TokenMinter(clock=clock, ttl=840)
    mints = metric("controlplane_token_mints_total")
    await minter.token(cluster_name="a", region="us-east-1", credentials=creds)
    clock.now = wall + 11 * 60 - 1
    await minter.token(cluster_name="a", region="us-east-1", credentials=creds)
    assert metric("controlplane_token_mints_total") - mints == 1
    clock.now = wall + 11 * 60
    await minter.token(cluster_name="a", region="us-east-1", credentials=creds)
    assert metric("controlplane_token_mints_total") - mints == 2


@pytest.mark.anyio
async def test_minter_lru_bound() -> None:
    minter = TokenMinter(max_entries=3)
    for name in ("a", "b", "c"):
        await minter.token(cluster_name=name, region="us-east-1", credentials=CREDS)
    await minter.token(cluster_name="a", region="us-east-1", credentials=CREDS)  # a is now most recent
    await minter.token(cluster_name="d", region="us-east-1", credentials=CREDS)  # evicts b
    assert len(minter) == 3
    mints = metric("controlplane_token_mints_total")
    await minter.token(cluster_name="a", region="us-east-1", credentials=CREDS)
    assert metric("controlplane_token_mints_total") == mints
    await minter.token(cluster_name="b", region="us-east-1", credentials=CREDS)
    assert metric("controlplane_token_mints_total") == mints + 1


class YieldingCredentials:
    """Refreshable credentials whose freeze suspends, so concurrent askers interleave."""

    def __init__(self) -> None:
        self.calls = 0

    async def get_frozen_credentials(self) -> ReadOnlyCredentials:
        self.calls += 1
        await anyio.sleep(0)
        await anyio.sleep(0)
        return CREDS


@pytest.mark.anyio
async def test_concurrent_askers_get_one_mint() -> None:
    minter = TokenMinter()
    creds = YieldingCredentials()
    mints = metric("controlplane_token_mints_total")
    results: list[str] = []

    async def ask() -> None:
        results.append(await minter.token(cluster_name="busy", region="eu-west-1", credentials=creds))

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(ask)
    assert creds.calls == 50  # every asker really suspended before the cache lookup
    assert len(results) == 50 and len(set(results)) == 1
    assert metric("controlplane_token_mints_total") - mints == 1


@pytest.mark.anyio
async def test_minter_accepts_botocore_and_aiobotocore_credentials() -> None:
    minter = TokenMinter()
    now = datetime.now(UTC)
    for creds in (
        Credentials("AKIDTEST", "secret"),
        AioCredentials("AKIDTEST", "secret", "sess"),
    ):
        minter.clear()
        token = await minter.token(cluster_name="demo", region="eu-west-1", credentials=creds)
        verified = verify_token(token, cluster_name="demo", now=now, secret_for_access_key=secrets)
        assert verified.signature_checked


def test_minter_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        TokenMinter(ttl=901)
    with pytest.raises(ValueError):
        TokenMinter(max_entries=0)
