"""Credentials: the AWS keys, the role to assume and its external ID. Messages never carry a secret."""

from __future__ import annotations

import re

from .._types import Credential
from ._core import R_FORMAT, R_REQUIRED, ROLE_ARN, Errors, FieldError

_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")


def validate_credential(credential: Credential) -> list[FieldError]:
    """Problems with a credential object. Messages never contain a secret value."""
    e = Errors()
    if not credential.name:
        e.add("name", R_REQUIRED, "credential name is required")
    if ":" in credential.namespace:
        e.add("namespace", R_FORMAT, f"credential namespace {credential.namespace!r} cannot contain ':'")
    # Rancher and the operator: both keys must be present ("invalid aws cloud credential").
    if not credential.access_key:
        e.add("accessKey", R_REQUIRED, "invalid aws cloud credential")
    if not credential.secret_key:
        e.add("secretKey", R_REQUIRED, "invalid aws cloud credential")
    if credential.session_token is not None and not credential.session_token:
        e.add("sessionToken", R_REQUIRED, "sessionToken, when given, cannot be empty")
    if credential.role_arn is not None and not ROLE_ARN.match(credential.role_arn):
        e.add(
            "roleArn",
            R_FORMAT,
            f"roleArn {credential.role_arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
        )
    if credential.external_id is not None:
        if credential.role_arn is None:
            e.add("externalId", R_REQUIRED, "externalId is only used when assuming a role; set roleArn too")
        if not _EXTERNAL_ID.match(credential.external_id):
            e.add("externalId", R_FORMAT, "externalId must be 2-1224 letters, digits and +=,.@:/-")
    return e.items
