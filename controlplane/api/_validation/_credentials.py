"""Credentials: the AWS keys, the role to assume and its external ID. Messages never carry a secret."""

from __future__ import annotations

from .._types import Credential
from ._core import R_FORMAT, R_REQUIRED, ROLE_ARN, FieldError
from ._rules import Errors, Length, Pattern, rule

_EXTERNAL_ID = (Credential, "externalId")

# The name and namespace come from the URL, not from a field of the body.
NAME_REQUIRED = rule(R_REQUIRED, "credential name is required")
NAMESPACE_FORMAT = rule(R_FORMAT, "credential namespace {value!r} cannot contain ':'")
# Rancher and the operator: both keys must be present ("invalid aws cloud credential").
KEY_REQUIRED = rule(
    R_REQUIRED,
    "invalid aws cloud credential",
    (Credential, "accessKey"),
    (Credential, "secretKey"),
    origin="rancher",
    constraints=(Length(1),),
)
SESSION_TOKEN = rule(
    R_REQUIRED,
    "sessionToken, when given, cannot be empty",
    (Credential, "sessionToken"),
    constraints=(Length(1),),
)
ROLE_ARN_FORMAT = rule(
    R_FORMAT,
    "roleArn {value!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
    (Credential, "roleArn"),
    constraints=(Pattern(ROLE_ARN),),
)
EXTERNAL_ID_WITHOUT_ROLE = rule(
    R_REQUIRED, "externalId is only used when assuming a role; set roleArn too", _EXTERNAL_ID
)
EXTERNAL_ID_FORMAT = rule(
    R_FORMAT,
    "externalId must be 2-1224 letters, digits and +=,.@:/-",
    _EXTERNAL_ID,
    constraints=(Pattern(r"^[\w+=,.@:/-]{2,1224}$"),),
)


def validate_credential(credential: Credential) -> list[FieldError]:
    """Problems with a credential object. Messages never contain a secret value."""
    e = Errors()
    if not credential.name:
        e.add(NAME_REQUIRED, "name")
    if ":" in credential.namespace:
        e.add(NAMESPACE_FORMAT, "namespace", value=credential.namespace)
    if not KEY_REQUIRED.allows(credential.access_key):
        e.add(KEY_REQUIRED, "accessKey")
    if not KEY_REQUIRED.allows(credential.secret_key):
        e.add(KEY_REQUIRED, "secretKey")
    if not SESSION_TOKEN.allows(credential.session_token):
        e.add(SESSION_TOKEN, "sessionToken")
    if not ROLE_ARN_FORMAT.allows(credential.role_arn):
        e.add(ROLE_ARN_FORMAT, "roleArn", value=credential.role_arn)
    if credential.external_id is not None:
        if credential.role_arn is None:
            e.add(EXTERNAL_ID_WITHOUT_ROLE, "externalId")
        if not EXTERNAL_ID_FORMAT.allows(credential.external_id):
            e.add(EXTERNAL_ID_FORMAT, "externalId")
    return e.items
