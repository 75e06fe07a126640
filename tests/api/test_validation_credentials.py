"""Credential rules: the keys, the session token, the role and its external ID; no secret in a message."""

from __future__ import annotations

import msgspec
import pytest

from controlplane.api import Credential, FieldError, validate_credential

from ._validation_cases import E

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def cred(**changes: object) -> Credential:
    base = Credential(namespace="ns", name="aws", access_key="AKIAIOSFODNN7EXAMPLE", secret_key=SECRET)
    return msgspec.structs.replace(base, **changes)


ROLE = "arn:aws:iam::123456789012:role/ops/eks-admin"

CREDENTIAL_CASES: list[tuple[str, Credential, list[FieldError]]] = [
    ("name", cred(name=""), [E("name", "required", "credential name is required")]),
    (
        "namespace",
        cred(namespace="a:b"),
        [E("namespace", "format", "credential namespace 'a:b' cannot contain ':'")],
    ),
    ("access key", cred(access_key=""), [E("accessKey", "required", "invalid aws cloud credential")]),
    ("secret key", cred(secret_key=""), [E("secretKey", "required", "invalid aws cloud credential")]),
    (
        "session token",
        cred(session_token=""),
        [E("sessionToken", "required", "sessionToken, when given, cannot be empty")],
    ),
    (
        "role ARN",
        cred(role_arn="arn:aws:iam::123:user/x"),
        [
            E(
                "roleArn",
                "format",
                "roleArn 'arn:aws:iam::123:user/x' is not an IAM role ARN "
                "(arn:aws:iam::<account>:role/<name>)",
            )
        ],
    ),
    (
        "external ID without role",
        cred(external_id="abc-123"),
        [E("externalId", "required", "externalId is only used when assuming a role; set roleArn too")],
    ),
    (
        "external ID format",
        cred(role_arn=ROLE, external_id="x"),
        [E("externalId", "format", "externalId must be 2-1224 letters, digits and +=,.@:/-")],
    ),
]


@pytest.mark.parametrize(
    ("credential", "expected"), [c[1:] for c in CREDENTIAL_CASES], ids=[c[0] for c in CREDENTIAL_CASES]
)
def test_validate_credential_messages(credential: Credential, expected: list[FieldError]) -> None:
    errors = validate_credential(credential)
    assert errors == expected
    assert all(SECRET not in e.message and "wJalr" not in e.message for e in errors)


def test_valid_credentials() -> None:
    assert validate_credential(cred()) == []
    assert validate_credential(cred(role_arn=ROLE, external_id="ext-id:1", session_token="tok")) == []
    assert validate_credential(cred(namespace="", role_arn="arn:aws-us-gov:iam::123456789012:role/x")) == []
