"""Pure unit tests: settings, credentials, error classification, token bucket, limiter."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from controlplane.aws import (
    ACCESS_KEY_FIELD,
    INVALID_CREDENTIAL,
    ROLE_ARN_FIELD,
    SECRET_KEY_FIELD,
    SESSION_TOKEN_FIELD,
    AccessDeniedError,
    AlreadyExistsError,
    AwsConnectionError,
    AwsCredentialSpec,
    AwsSettings,
    ClientRequestError,
    CredentialError,
    Limiter,
    NotFoundError,
    ResourceInUseError,
    ServerError,
    ServiceLimits,
    ThrottledError,
    TokenBucket,
    UpdateInProgressError,
    classify,
    classify_code,
    parse_credential_reference,
    resolve_credential_reference,
)

# --- settings ---------------------------------------------------------------------------------------


def test_settings_defaults_are_valid_and_caps_fit_the_pool() -> None:
    settings = AwsSettings()
    assert settings.retry_mode == "standard"
    for service in ("eks", "ec2", "cloudformation", "iam", "sts", "other"):
        assert settings.limits_for(service).max_in_flight <= settings.pool_size


def test_settings_reject_in_flight_above_pool() -> None:
    with pytest.raises(ValueError, match="max_in_flight of eks"):
        AwsSettings(pool_size=4, limits={"eks": ServiceLimits(max_in_flight=5)})
    with pytest.raises(ValueError, match="<default>"):
        AwsSettings(pool_size=4, limits={}, default_limits=ServiceLimits(max_in_flight=8))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"retry_mode": "legacy"},
        {"max_attempts": 0},
        {"read_timeout": 0},
        {"client_cache_size": 0},
        {"endpoint_url": "localhost:4566"},
        {"endpoint_urls": {"eks": "ftp://x"}},
        {"assume_role_duration": 60},
    ],
)
def test_settings_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AwsSettings(**kwargs)  # type: ignore[arg-type]


def test_service_limits_validation() -> None:
    with pytest.raises(ValueError):
        ServiceLimits(rate=0)
    with pytest.raises(ValueError):
        ServiceLimits(burst=0)
    with pytest.raises(ValueError):
        ServiceLimits(max_in_flight=0)


def test_settings_decode_from_config_and_endpoint_precedence() -> None:
    settings = msgspec.convert(
        {
            "retry_mode": "adaptive",
            "endpoint_url": "http://127.0.0.1:1",
            "endpoint_urls": {"eks": "http://127.0.0.1:2"},
            "limits": {"eks": {"rate": 5, "burst": 2, "max_in_flight": 3}},
        },
        AwsSettings,
    )
    assert settings.retry_mode == "adaptive"
    assert settings.endpoint_for("eks") == "http://127.0.0.1:2"
    assert settings.endpoint_for("sts") == "http://127.0.0.1:1"
    assert AwsSettings().endpoint_for("sts") is None
    assert settings.limits_for("eks") == ServiceLimits(rate=5, burst=2, max_in_flight=3)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"pool_size": 2, "limits": {"eks": {"max_in_flight": 3}}}, AwsSettings)


# --- credentials ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("cattle-global-data:cc-abc", ("cattle-global-data", "cc-abc")),
        ("ns:name:with:colons", ("ns", "name:with:colons")),
        ("just-a-name", ("", "just-a-name")),
        (":name", ("", "name")),
    ],
)
def test_parse_reference_splits_on_first_colon(reference: str, expected: tuple[str, str]) -> None:
    assert parse_credential_reference(reference) == expected


def test_spec_repr_and_str_hide_secrets() -> None:
    spec = AwsCredentialSpec(
        "AKIAVISIBLE",
        "SUPERSECRETVALUE",
        session_token="TOKENVALUE",
        role_arn="arn:aws:iam::1:role/r",
        external_id="EXTID",
    )
    for text in (repr(spec), str(spec), f"{spec}", repr([spec])):
        assert "SUPERSECRETVALUE" not in text
        assert "TOKENVALUE" not in text
        assert "EXTID" not in text
        assert "AKIAVISIBLE" in text
    assert "SUPERSECRETVALUE" not in spec.identity
    assert spec.identity != AwsCredentialSpec("AKIAVISIBLE", "OTHER").identity
    assert (
        spec.identity
        == AwsCredentialSpec(
            "AKIAVISIBLE", "SUPERSECRETVALUE", "TOKENVALUE", "arn:aws:iam::1:role/r", "EXTID"
        ).identity
    )
    assert spec.base == AwsCredentialSpec("AKIAVISIBLE", "SUPERSECRETVALUE", "TOKENVALUE")


def test_spec_from_secret_data() -> None:
    spec = AwsCredentialSpec.from_secret_data(
        {ACCESS_KEY_FIELD: "AK", SECRET_KEY_FIELD: "SK", SESSION_TOKEN_FIELD: "", ROLE_ARN_FIELD: "arn:r"}
    )
    assert spec == AwsCredentialSpec("AK", "SK", None, "arn:r", None)
    # Rancher accepts present-but-empty values and rejects missing keys.
    assert (
        AwsCredentialSpec.from_secret_data({ACCESS_KEY_FIELD: "", SECRET_KEY_FIELD: ""}).access_key_id == ""
    )
    for data in ({ACCESS_KEY_FIELD: "AK"}, {SECRET_KEY_FIELD: "SK"}, {}):
        with pytest.raises(CredentialError) as info:
            AwsCredentialSpec.from_secret_data(data)
        assert str(info.value) == INVALID_CREDENTIAL == "invalid aws cloud credential"


@pytest.mark.anyio
async def test_resolve_reference_rancher_messages() -> None:
    async def missing(namespace: str, name: str) -> AwsCredentialSpec | None:
        return None

    async def broken(namespace: str, name: str) -> AwsCredentialSpec | None:
        raise OSError("store unavailable")

    async def incomplete(namespace: str, name: str) -> AwsCredentialSpec | None:
        return AwsCredentialSpec.from_secret_data({ACCESS_KEY_FIELD: "AK"})

    seen: list[tuple[str, str]] = []

    async def found(namespace: str, name: str) -> AwsCredentialSpec | None:
        seen.append((namespace, name))
        return AwsCredentialSpec("AK", "SK")

    assert await resolve_credential_reference("", missing) is None
    assert await resolve_credential_reference("cattle-global-data:cc-1", found) == AwsCredentialSpec(
        "AK", "SK"
    )
    assert seen == [("cattle-global-data", "cc-1")]
    with pytest.raises(CredentialError) as info:
        await resolve_credential_reference("cattle-global-data:cc-1", missing)
    assert str(info.value) == 'error getting secret cattle-global-data/cc-1: secrets "cc-1" not found'
    with pytest.raises(CredentialError) as info:
        await resolve_credential_reference("ns:n", broken)
    assert str(info.value) == "error getting secret ns/n: store unavailable"
    with pytest.raises(CredentialError) as info:
        await resolve_credential_reference("ns:n", incomplete)
    assert str(info.value) == "invalid aws cloud credential"
    with pytest.raises(CredentialError, match="error getting secret /n: no credential store"):
        await resolve_credential_reference("n", None)


# --- error classification ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "message", "expected"),
    [
        ("TooManyRequestsException", 429, "Rate exceeded", ThrottledError),
        ("ThrottlingException", 400, "", ThrottledError),
        ("Throttling", 400, "Rate exceeded", ThrottledError),
        ("RequestLimitExceeded", 503, "", ThrottledError),
        ("", 429, "", ThrottledError),
        ("AccessDeniedException", 403, "not authorized", AccessDeniedError),
        ("UnauthorizedOperation", 403, "", AccessDeniedError),
        ("AccessDenied", 403, "", AccessDeniedError),
        ("InvalidClientTokenId", 403, "", AccessDeniedError),
        ("AuthFailure", 401, "", AccessDeniedError),
        ("ResourceNotFoundException", 404, "No cluster found", NotFoundError),
        ("NoSuchEntity", 404, "role not found", NotFoundError),
        ("ValidationError", 400, "Stack with id x does not exist", NotFoundError),
        ("InvalidLaunchTemplateName.NotFoundException", 400, "", NotFoundError),
        ("InvalidLaunchTemplateId.NotFound", 400, "", NotFoundError),
        ("InvalidLaunchTemplateId.VersionNotFound", 400, "", NotFoundError),
        ("ValidationError", 400, "Template format error", ClientRequestError),
        ("ResourceInUseException", 409, "Cluster already exists with name: c", ResourceInUseError),
        (
            "ResourceInUseException",
            409,
            "Cluster c currently has update u in progress",
            UpdateInProgressError,
        ),
        ("InvalidRequestException", 400, "Nodegroup currently has update in progress", UpdateInProgressError),
        ("AlreadyExistsException", 400, "Stack [s] already exists", AlreadyExistsError),
        ("EntityAlreadyExists", 409, "", AlreadyExistsError),
        ("InvalidLaunchTemplateName.AlreadyExistsException", 400, "", AlreadyExistsError),
        ("InternalFailure", 500, "", ServerError),
        ("ServiceUnavailableException", 503, "", ServerError),
        ("InvalidParameterException", 400, "bad", ClientRequestError),
    ],
)
def test_classify_code(code: str, status: int, message: str, expected: type) -> None:
    assert classify_code(code, status, message) is expected


def test_classify_keeps_message_and_fields() -> None:
    error = ClientError(
        {
            "Error": {"Code": "ResourceNotFoundException", "Message": "No cluster found for name: x."},
            "ResponseMetadata": {"HTTPStatusCode": 404, "RequestId": "req-1"},
        },
        "DescribeCluster",
    )
    typed = classify(error, "eks", "DescribeCluster")
    assert isinstance(typed, NotFoundError)
    assert str(typed) == str(error)
    assert "No cluster found for name: x." in str(typed)
    assert (typed.code, typed.status, typed.request_id, typed.service, typed.operation) == (
        "ResourceNotFoundException",
        404,
        "req-1",
        "eks",
        "DescribeCluster",
    )
    assert typed.aws_message == "No cluster found for name: x."
    assert typed.outcome == "not_found"
    assert classify(typed) is typed


def test_classify_non_client_errors() -> None:
    assert isinstance(
        classify(EndpointConnectionError(endpoint_url="http://127.0.0.1:9")), AwsConnectionError
    )
    assert isinstance(classify(NoCredentialsError()), CredentialError)
    assert isinstance(classify(ValueError("odd")), ClientRequestError)


# --- token bucket and limiter -----------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_burst_then_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10.0, burst=3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    # Further reservations queue up 0.1 s apart, in arrival order.
    assert [round(bucket.reserve(), 6) for _ in range(3)] == [0.1, 0.2, 0.3]
    clock.now += 0.3  # the three reserved tokens have now been refilled and used
    assert bucket.reserve() == pytest.approx(0.1)
    clock.now += 10.0  # idle: refills to burst, never beyond
    assert bucket.tokens == pytest.approx(3.0)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() > 0.0


def test_token_bucket_refund() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=1, clock=clock)
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(1.0)
    bucket.refund()
    assert bucket.reserve() == pytest.approx(1.0)


@pytest.mark.anyio
async def test_limiter_sleeps_for_reservations_and_refunds_on_cancel() -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)

    limiter = Limiter(ServiceLimits(rate=4.0, burst=2, max_in_flight=10), clock=clock, sleep=fake_sleep)
    for _ in range(4):
        await limiter.acquire()
    assert slept == [pytest.approx(0.25), pytest.approx(0.5)]
    assert limiter.in_flight == 4
    for _ in range(4):
        limiter.release()
    assert limiter.in_flight == 0

    async def cancelled_sleep(delay: float) -> None:
        raise asyncio.CancelledError

    cancelling = Limiter(
        ServiceLimits(rate=1.0, burst=1, max_in_flight=1), clock=clock, sleep=cancelled_sleep
    )
    await cancelling.acquire()
    cancelling.release()
    with pytest.raises(asyncio.CancelledError):
        await cancelling.acquire()
    assert cancelling._bucket is not None
    assert cancelling._bucket.tokens == pytest.approx(0.0)  # the cancelled reservation was given back


@pytest.mark.anyio
async def test_limiter_caps_in_flight() -> None:
    limiter = Limiter(ServiceLimits(rate=None, max_in_flight=2))
    peak = 0

    async def worker() -> None:
        nonlocal peak
        await limiter.acquire()
        try:
            peak = max(peak, limiter.in_flight)
            await asyncio.sleep(0.002)
        finally:
            limiter.release()

    async with asyncio.TaskGroup() as group:
        for _ in range(10):
            group.create_task(worker())
    assert peak == 2
    assert limiter.in_flight == 0
